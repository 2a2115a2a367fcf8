"""torch.distributed for kgrec: joining the process group ``torchrun`` sets up, and rank helpers.

kgrec runs on an existing engine and has no cluster manager of its own: ``torchrun``
starts the processes (on one machine or several, see the README) and its environment
tells ``torch.distributed`` who is who; :func:`init_distributed` only joins. What runs
distributed:

- **BPR training** (:func:`kgrec.train.train_bpr`): DDP, each rank computing the loss of
  its slice of every batch; gradients are averaged, so a run on ``W`` ranks follows the
  one-process run step for step (same seed, same permutation, same negatives).
- **Closed-form models and fusion weights** (DLAE, EASE, ...; :func:`kgrec.train.fit_model`):
  computed once, on rank 0, which alone uses them (it saves the artifact); the other
  ranks leave them unfitted instead of spending the memory and time a second time.
- **Batch recommendation** (:mod:`kgrec.batch`): users sharded across ranks, one Parquet
  file per rank.

Without an initialised process group every helper answers as for one process (rank 0
of 1), so library code calls them unconditionally.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DistributedInfo", "all_reduce_sum", "barrier", "broadcast_float",
           "init_distributed", "is_primary", "launched_by_torchrun", "rank_device",
           "shutdown", "world"]


@dataclass(frozen=True)
class DistributedInfo:
    """The process's place in the group.

    Attributes:
        rank: global rank (0 writes artifacts and manifests).
        world_size: number of processes.
        local_rank: rank on this machine (picks the GPU, ``cuda:<local_rank>``).
        backend: ``"gloo"`` (CPU) or ``"nccl"`` (GPU).
    """

    rank: int
    world_size: int
    local_rank: int
    backend: str


def launched_by_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (torch's own check)."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_torchelastic_launched()


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` when no process group is initialised."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_primary() -> bool:
    """Rank 0 (or a single process): the one that writes artifacts and prints."""
    return world()[0] == 0


def init_distributed(device: str = "cpu") -> DistributedInfo:
    """Join the process group set up by ``torchrun`` (``init_method="env://"``).

    The backend is ``nccl`` when ``device`` is a CUDA device and CUDA is available,
    else ``gloo``. Calling it again in an initialised process returns the current info.

    Raises:
        RuntimeError: torch.distributed (or gloo) is unavailable in this torch build, or
            the process was not launched by ``torchrun`` (the message says how to).
    """
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this torch build: "
                           "install a torch wheel built with distributed support")
    use_nccl = device.startswith("cuda") and torch.cuda.is_available() and dist.is_nccl_available()
    backend = "nccl" if use_nccl else "gloo"
    if backend == "gloo" and not dist.is_gloo_available():
        raise RuntimeError("the gloo backend of torch.distributed is not available in this "
                           "torch build; it is needed for distributed runs on the CPU")
    if not dist.is_initialized():
        if not launched_by_torchrun():
            raise RuntimeError("--distributed needs the process group that torchrun sets up: "
                               "launch with `torchrun --nproc-per-node N -m kgrec ...` "
                               "(see the README, 'Beyond one process: torchrun')")
        dist.init_process_group(backend=backend)
        if use_nccl:
            torch.cuda.set_device(_local_rank())
    return DistributedInfo(dist.get_rank(), dist.get_world_size(), _local_rank(),
                           dist.get_backend())


def _local_rank() -> int:
    """This process's rank on its machine: torchrun's value through
    ``dist.get_node_local_rank`` where torch has it; in older torch the global rank
    modulo the visible GPUs (the same for the usual one-process-per-GPU launch)."""
    import torch
    import torch.distributed as dist

    if hasattr(dist, "get_node_local_rank"):
        return dist.get_node_local_rank(fallback_rank=dist.get_rank())
    return dist.get_rank() % max(torch.cuda.device_count(), 1)


def rank_device(device: str) -> str:
    """The device of this rank for a requested ``device``: ``"cuda"`` becomes
    ``"cuda:<local_rank>"`` in a process group (one GPU per process); anything else, or
    an explicit index, is returned unchanged."""
    import torch.distributed as dist

    if device == "cuda" and dist.is_available() and dist.is_initialized():
        return f"cuda:{_local_rank()}"
    return device


def barrier() -> None:
    """Wait for every rank (a no-op for one process)."""
    import torch.distributed as dist

    if world()[1] > 1:
        dist.barrier()


def broadcast_float(value: float, src: int = 0) -> float:
    """``value`` of rank ``src`` on every rank (e.g. a validation score that only rank 0
    computed, so that all ranks take the same early-stopping decision)."""
    import torch
    import torch.distributed as dist

    if world()[1] == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.broadcast(tensor, src=src)
    return float(tensor.item())


def all_reduce_sum(value: float) -> float:
    """Sum of ``value`` over ranks (``value`` itself for one process)."""
    import torch
    import torch.distributed as dist

    if world()[1] == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return float(tensor.item())


def shutdown(*, wait: bool = True) -> None:
    """Leave the process group (a no-op when none is initialised).

    Args:
        wait: first wait for every rank (a barrier), so that no rank tears its gloo
            connections down while another still works (rank 0 saving, say): a rank
            that left early made its peer's process abort ("terminate called without an
            active exception"). ``False`` on error paths, where the other ranks may be
            stuck in another collective and a barrier would never complete.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if wait and dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()
