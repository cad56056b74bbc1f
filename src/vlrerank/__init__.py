"""vlrerank: fast, exact multimodal reranking with Qwen3-VL-Reranker."""

from .config import EngineConfig
from .engine.encode import ImageFacts
from .errors import (
    ConfigError,
    ImageLoadError,
    InputError,
    MissingDependencyError,
    ModelLoadError,
    ModelNotFoundError,
    VideoLoadError,
    VlrerankError,
)
from .inputs.schema import MultimodalInput
from .ranking import RankedResult, RankedResults
from .reranker import Reranker

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "EngineConfig",
    "ImageFacts",
    "ImageLoadError",
    "InputError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFoundError",
    "MultimodalInput",
    "RankedResult",
    "RankedResults",
    "Reranker",
    "VideoLoadError",
    "VlrerankError",
    "__version__",
]
