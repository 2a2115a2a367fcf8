"""Training stage: the BPR loop, negative sampling, and the options object."""

from kgrec.train.bpr import TrainResult, ndcg_validator, seed_everything, train_bpr
from kgrec.train.options import TrainConfig
from kgrec.train.sampling import NegativeSampler

__all__ = ["NegativeSampler", "TrainConfig", "TrainResult", "ndcg_validator",
           "seed_everything", "train_bpr"]
