"""Training options: one frozen object carries seed, device, threads and the loop's knobs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """Options of the BPR training loop.

    Args:
        epochs: maximum number of passes over the training interactions (default 300).
        batch_size: (user, positive, negative) triples per optimiser step (default 2048).
        learning_rate: Adam step size (default 1e-3).
        reg: weight of the model's L2 regulariser on the embeddings used in a batch
            (default 1e-4).
        patience: stop after this many evaluations without a better validation NDCG@10
            (default 20); ``0`` disables early stopping.
        eval_every: validate every this many epochs (default 1).
        seed: seeds parameter initialisation, shuffling and negative sampling (default 0).
        device: torch device string (default ``"cpu"``).
        threads: torch intra-op threads for the run, ``None`` keeps torch's setting.
        show_progress: tqdm bar over epochs.
        log_path: JSON-lines file that receives one record per epoch (``None``: no file).
    """

    epochs: int = 300
    batch_size: int = 2048
    learning_rate: float = 1e-3
    reg: float = 1e-4
    patience: int = 20
    eval_every: int = 1
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    show_progress: bool = True
    log_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"TrainConfig.learning_rate must be > 0, got {self.learning_rate}")
        if self.reg < 0 or self.patience < 0:
            raise ValueError("TrainConfig.reg and TrainConfig.patience must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys {unknown}; valid keys: {sorted(known)}")
        return cls(**data)
