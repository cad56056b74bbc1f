"""vlrerank: fast, exact multimodal reranking with Qwen3-VL-Reranker."""

from .config import EngineConfig
from .cross_encoder import CrossEncoder
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
from .preprocess import ImageProvenance, PreprocessConfig, QualityPolicy, QualityReport
from .ranking import RankedResult, RankedResults
from .reranker import Reranker

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "CrossEncoder",
    "EngineConfig",
    "ImageLoadError",
    "ImageProvenance",
    "InputError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFoundError",
    "MultimodalInput",
    "PreprocessConfig",
    "QualityPolicy",
    "QualityReport",
    "RankedResult",
    "RankedResults",
    "Reranker",
    "VideoLoadError",
    "VlrerankError",
    "__version__",
]
