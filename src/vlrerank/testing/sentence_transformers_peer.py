"""sentence-transformers' ``CrossEncoder`` as a peer to measure vlrerank against (tests, benchmarks).

A workaround for machines without torchvision (ours: the only torchvision wheels reachable are CUDA
builds, which do not import beside the CPU torch). sentence-transformers 6.2 loads a Qwen3-VL
checkpoint's processor with ``AutoProcessor``, and for Qwen3-VL that insists on the *video*
processor, which needs torchvision. :func:`load_cross_encoder` therefore hands sentence-transformers
a ``Qwen3VLProcessor`` assembled from the tokenizer (every chat template the checkpoint carries)
and the PIL image processor, with no video processor: text and image pairs work, videos do not.
Where torchvision imports, nothing is patched and sentence-transformers loads as it would anywhere.

This changes how the processor object is built, not what it computes: the same image processor
settings (``preprocessor_config.json``) and the same chat templates are used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError

# Where sentence-transformers 6.2 looks up ``AutoProcessor`` when it builds a model's processor.
_ST_TRANSFORMER_MODULE = "sentence_transformers.base.modules.transformer"


def torchvision_available() -> bool:
    return importlib.util.find_spec("torchvision") is not None


def _processor_without_video(path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """A ``Qwen3VLProcessor`` from a checkpoint's tokenizer and PIL image processor, no video processor."""
    from transformers import AutoTokenizer, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    class ImageOnlyProcessor(Qwen3VLProcessor):
        # The base class type-checks every part it is given; ``None`` is the honest value for a
        # video processor we cannot build here.
        def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> Any:
            if argument_name == "video_processor" and argument is None:
                return type(None)
            return super().check_argument_for_proper_class(argument_name, argument)

    tokenizer_kwargs = {k: v for k, v in kwargs.items() if k in ("model_max_length", "revision", "token")}
    tokenizer = AutoTokenizer.from_pretrained(path, **tokenizer_kwargs)
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
    return ImageOnlyProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=None,
        chat_template=tokenizer.chat_template,  # a dict when the checkpoint carries several
    )


class _ProcessorLoader:
    """Stands in for ``AutoProcessor`` inside sentence-transformers' transformer module."""

    @staticmethod
    def from_pretrained(path: str | os.PathLike[str], **kwargs: Any) -> Any:
        return _processor_without_video(path, **kwargs)


@contextlib.contextmanager
def without_torchvision() -> Iterator[None]:
    """While active, sentence-transformers builds Qwen3-VL processors without a video processor.

    Does nothing where torchvision imports.
    """
    if torchvision_available():
        yield
        return
    module = _import_sentence_transformers_module()
    original = module.AutoProcessor
    module.AutoProcessor = _ProcessorLoader
    try:
        yield
    finally:
        module.AutoProcessor = original


def load_cross_encoder(path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """sentence-transformers' ``CrossEncoder`` for a checkpoint in the sentence-transformers layout.

    Args:
        path: a checkpoint directory with ``modules.json`` and ``1_LogitScore`` (see
            :func:`vlrerank.testing.copy_with_layout` for the tiny one).
        kwargs: passed to ``CrossEncoder`` (e.g. ``device``, ``model_kwargs={"dtype": ...}``).
    """
    _import_sentence_transformers_module()
    from sentence_transformers import CrossEncoder

    with without_torchvision():
        return CrossEncoder(str(Path(path)), **kwargs)


def cross_encoder_from_model(model: Any, *, device: Any, dtype: Any) -> Any:
    """sentence-transformers' ``CrossEncoder`` on the weights of an in-memory Qwen3-VL model.

    sentence-transformers loads models only from files: the weights are written to a temporary
    directory in the sentence-transformers layout (bit for bit, in ``dtype``), read back onto
    ``device``, and the directory is removed (for a full-size model it would hold gigabytes).
    """
    from ..checkpoints import write_layout, write_processor_files

    _import_sentence_transformers_module()
    folder = Path(tempfile.mkdtemp(prefix="vlrerank-st-"))
    try:
        model.save_pretrained(folder)
        write_processor_files(folder)
        write_layout(folder, "sentence-transformers")
        return load_cross_encoder(folder, device=str(device), model_kwargs={"dtype": dtype})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def request_pairs(request: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """A vlrerank request (``query``, ``documents``) as sentence-transformers' (query, document) pairs.

    A side with one part becomes that part (a string or a picture); a side with several stays a dict.
    """

    def side(value: Any) -> Any:
        if isinstance(value, Mapping) and len(value) == 1:
            return next(iter(value.values()))
        return value

    documents: Sequence[Any] = request["documents"]
    return [(side(request["query"]), side(document)) for document in documents]


def _import_sentence_transformers_module() -> Any:
    try:
        return importlib.import_module(_ST_TRANSFORMER_MODULE)
    except ImportError:
        raise MissingDependencyError(
            "sentence-transformers is needed to compare with it: pip install 'sentence-transformers==6.2.0'"
        ) from None
