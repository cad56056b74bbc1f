"""vlrerank: fast, exact multimodal reranking with Qwen3-VL-Reranker."""

from .config import EngineConfig
from .cross_encoder import CrossEncoder
from .engine.chunking import ChunkOptions
from .errors import (
    ConfigError,
    ImageLoadError,
    InputError,
    MissingDependencyError,
    ModelLoadError,
    ModelNotFoundError,
    PdfLoadError,
    VideoLoadError,
    VlrerankError,
)
from .inputs.schema import MultimodalInput
from .preprocess import ImageProvenance, PreprocessConfig, QualityPolicy, QualityReport
from .ranking import RankedResult, RankedResults, Ranker, Segment
from .reranker import Reranker

__version__ = "0.1.0"

__all__ = [
    "ChunkOptions",
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
    "PdfLoadError",
    "PreprocessConfig",
    "QualityPolicy",
    "QualityReport",
    "RankedResult",
    "RankedResults",
    "Ranker",
    "Reranker",
    "Segment",
    "VideoLoadError",
    "VlrerankError",
    "__version__",
]
