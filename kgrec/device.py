"""Devices: ``"cuda"`` where there is a GPU, the CPU with a clear warning where there is not.

Every place that puts tensors on a device (the BPR trainer, closed-form fits, the text
encoder, the recommender's scoring) asks :func:`resolve_device` first, so a config written
on a GPU machine still runs on a laptop, saying so once instead of failing deep inside
torch with "Torch not compiled with CUDA enabled".
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["DeviceFallbackWarning", "HostView", "host_view", "model_device", "num_threads",
           "resolve_device"]


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


def model_device(model: Any) -> torch.device:
    """The device of a module's first parameter or buffer (the CPU when it has none)."""
    import torch

    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


class HostView:
    """A CPU-in, CPU-out view of a scoring model that lives on another device.

    ``score(users)`` and ``score_history(history)`` move their ``[B]`` / ``[B, I]``
    input to the model's device and return ``[B, I]`` scores on the CPU; every other
    attribute is the model's own. The recommender's request scoring and explanations
    work on CPU tensors (sparse histories, masks, numpy), so a model on ``cuda`` is
    served through this view while its matrix products run on the GPU.

    Args:
        model: the model (any ``ScoringModel``).
    """

    def __init__(self, model: Any):
        self.model = model
        self.device = model_device(model)

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.model.score(users.to(self.device)).cpu()

    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        return self.model.score_history(history.to(self.device)).cpu()

    def __getattr__(self, name: str) -> Any:
        if name in ("model", "device"):  # not set yet (e.g. while copying)
            raise AttributeError(name)
        return getattr(self.model, name)


def host_view(model: Any) -> Any:
    """``model`` itself when it is on the CPU, else its :class:`HostView`."""
    return model if model_device(model).type == "cpu" else HostView(model)


@contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, restoring the setting after
    (``None``, or the current count: leave it alone)."""
    import torch

    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
