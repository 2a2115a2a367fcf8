"""Devices: ``"cuda"`` where there is a GPU, the CPU with a clear warning where there is not.

Every place that puts tensors on a device (the BPR trainer, closed-form fits, the text
encoder, the recommender's scoring) asks :func:`resolve_device` first, so a config written
on a GPU machine still runs on a laptop, saying so once instead of failing deep inside
torch with "Torch not compiled with CUDA enabled".
"""

from __future__ import annotations

import warnings

__all__ = ["DeviceFallbackWarning", "resolve_device"]


class DeviceFallbackWarning(UserWarning):
    """A requested accelerator is not present; the work runs on the CPU."""


def resolve_device(requested: str | None, what: str = "kgrec") -> str:
    """The device to use for ``requested`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``,
    ``"meta"``; ``None`` means ``"cpu"``).

    A CUDA (or MPS) device that is not present is replaced by ``"cpu"`` with a
    :class:`DeviceFallbackWarning` naming ``what`` asked for it and why it is missing; a
    CUDA index beyond the visible GPUs falls back to ``"cuda:0"`` likewise.

    Raises:
        ValueError: ``requested`` is not a device string torch understands.
    """
    import torch

    name = "cpu" if requested is None else str(requested)
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{what}: device {name!r} is not a torch device string "
                         "(use 'cpu', 'cuda', 'cuda:1', ...)") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA GPU is visible (check the driver and CUDA_VISIBLE_DEVICES)")
            warnings.warn(f"{what}: device {name!r} requested but {why}; running on the CPU",
                          DeviceFallbackWarning, stacklevel=2)
            return "cpu"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            warnings.warn(f"{what}: device {name!r} requested but only {count} CUDA GPU(s) are "
                          "visible; running on 'cuda:0'", DeviceFallbackWarning, stacklevel=2)
            return "cuda:0"
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            warnings.warn(f"{what}: device {name!r} requested but MPS is not available; "
                          "running on the CPU", DeviceFallbackWarning, stacklevel=2)
            return "cpu"
    return name
