"""Training options: :class:`kgrec.config.TrainConfig`, re-exported here.

The class and its defaults are defined once, in :mod:`kgrec.config` (the ``[train]``
section of a config file); this module keeps ``from kgrec.train.options import
TrainConfig`` working.
"""

from kgrec.config import TrainConfig

__all__ = ["TrainConfig"]
