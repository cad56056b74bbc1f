"""Engine: prompt building, batching and model backends behind one Protocol."""

from .backend import ScoringBackend, TransformersBackend
from .core import PairScore, ScoredRequest, ScoringEngine
from .loading import LoadedCheckpoint, load_checkpoint

__all__ = [
    "LoadedCheckpoint",
    "PairScore",
    "ScoredRequest",
    "ScoringBackend",
    "ScoringEngine",
    "TransformersBackend",
    "load_checkpoint",
]
