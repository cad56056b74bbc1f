"""Engine: one request through prepare -> run -> assemble (see ``docs/architecture.md``)."""

from .loading import LoadedCheckpoint, load_checkpoint
from .model import ScoringBackend, TransformersBackend
from .pairing import OUT_OF_MEMORY, PreparedRequest
from .scoring import ScoringEngine
from .types import PairScore, ScoredRequest, ScoreRequest

__all__ = [
    "OUT_OF_MEMORY",
    "LoadedCheckpoint",
    "PairScore",
    "PreparedRequest",
    "ScoreRequest",
    "ScoredRequest",
    "ScoringBackend",
    "ScoringEngine",
    "TransformersBackend",
    "load_checkpoint",
]
