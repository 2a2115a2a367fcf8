"""Training stage: wiring data to models (:func:`build_context`, :func:`fit_model`), the
BPR loop, negative sampling, fusion weights on validation data, and the options object."""

from kgrec.train.bpr import TrainResult, ndcg_validator, seed_everything, train_bpr
from kgrec.train.fit import FitResult, ModelContext, build_context, fit_model, item_years
from kgrec.train.fusion import fit_fusion_weights
from kgrec.train.options import TrainConfig
from kgrec.train.sampling import NegativeSampler

__all__ = ["FitResult", "ModelContext", "NegativeSampler", "TrainConfig", "TrainResult",
           "build_context", "fit_fusion_weights", "fit_model", "item_years", "ndcg_validator",
           "seed_everything", "train_bpr"]
