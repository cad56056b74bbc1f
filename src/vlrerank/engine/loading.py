"""Find and load a Qwen3-VL reranker checkpoint: a local directory or a Hugging Face id.

Names vlrerank builds offline (``tiny-random``) are resolved above the engine, by
:func:`vlrerank.checkpoints.named_checkpoint`, and handed in as ``path``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import EngineConfig
from ..errors import ConfigError, ModelLoadError, ModelNotFoundError
from ..random_weights import is_random_checkpoint
from .template import ChatTemplate, choose_template

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class LoadedCheckpoint:
    name: str
    path: Path
    model: Any  # transformers Qwen3VLModel (base model, no LM head)
    score_vector: torch.Tensor  # W[yes] - W[no], float32
    tokenizer: Any
    image_processor: Any
    chat_template: ChatTemplate
    device: torch.device
    dtype: torch.dtype
    random_weights: bool
    revision: str | None = None  # the commit of a Hugging Face snapshot; None for a local directory


def resolve_device(config: EngineConfig) -> tuple[torch.device, torch.dtype]:
    if config.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(config.device)
        except RuntimeError:
            raise ConfigError(f"unknown device {config.device!r}; use auto, cpu or cuda[:N]") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use device='cpu'")
    if config.dtype == "auto":
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    else:
        dtype = _DTYPES[config.dtype]
    return device, dtype


def resolve_model_path(name: str, revision: str | None = None) -> Path:
    """A local directory for ``name``: a directory, or a Hugging Face id.

    Args:
        revision: for a Hugging Face id, the branch, tag or commit to use (default: ``main``).
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} is a directory but has no config.json: not a model checkpoint")
        return path
    if name.count("/") != 1 or name.startswith((".", "/")):
        raise ModelNotFoundError(
            f"no model directory at {name!r}, and it is not a Hugging Face id "
            "like 'Qwen/Qwen3-VL-Reranker-2B'"
        )
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    from huggingface_hub import snapshot_download

    at = f" at revision {revision!r}" if revision else ""
    try:
        return Path(snapshot_download(repo_id=name, revision=revision, local_files_only=offline))
    except Exception as exc:  # the hub raises many kinds; every one means "not available here"
        how = (
            f"Download it on a machine with internet access (`hf download {name}"
            f"{f' --revision {revision}' if revision else ''}`) and copy the Hugging Face cache "
            "here, or pass the local checkpoint directory instead of the id."
        )
        mode = "HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache" if offline else str(exc)
        raise ModelNotFoundError(f"model {name!r}{at} could not be found: {mode}. {how}") from None


def snapshot_revision(path: Path) -> str | None:
    """The commit of a Hugging Face cache snapshot (``.../snapshots/<commit>``), else ``None``."""
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        return path.name
    return None


def load_checkpoint(name: str, config: EngineConfig, *, path: Path | None = None) -> LoadedCheckpoint:
    """Load model, tokenizer and image processor from a name (see :func:`resolve_model_path`).

    Args:
        path: where the checkpoint called ``name`` already is (a name resolved by the caller);
            ``None`` resolves ``name`` as a directory or a Hugging Face id.
    """
    from transformers import Qwen3VLForConditionalGeneration

    if path is None:
        path = resolve_model_path(name, config.revision)
    device, dtype = resolve_device(config)
    attn = "sdpa" if config.attn_implementation == "auto" else config.attn_implementation
    tokenizer, image_processor = load_processors(path)
    try:
        full = Qwen3VLForConditionalGeneration.from_pretrained(path, dtype=dtype, attn_implementation=attn)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"could not load a Qwen3-VL checkpoint from {path}: {exc}") from None
    full.model.to(device)  # the LM head stays behind: one row difference of it is all we use
    loaded = from_model(
        full,
        tokenizer,
        image_processor,
        path=path,
        name=name,
        random_weights=is_random_checkpoint(path),
        chat_template=config.chat_template,
    )
    at = f" (commit {loaded.revision})" if loaded.revision else ""
    template = loaded.chat_template
    logger.info(
        "loaded %s from %s%s on %s in %s; chat template %s, roles %s: %s",
        name,
        path,
        at,
        loaded.device,
        str(loaded.dtype).removeprefix("torch."),
        template.source,
        template.roles,
        template.reason,
    )
    return loaded


def from_model(
    full: Any,
    tokenizer: Any,
    image_processor: Any,
    *,
    path: Path,
    name: str,
    random_weights: bool,
    chat_template: str = "auto",
) -> LoadedCheckpoint:
    """Wrap an in-memory ``Qwen3VLForConditionalGeneration``; keep only the yes-minus-no head row.

    Args:
        chat_template: ``auto`` or ``bundled`` (see :func:`vlrerank.engine.template.choose_template`).
    """
    vocab = tokenizer.get_vocab()
    if "yes" not in vocab or "no" not in vocab:
        raise ModelLoadError(f"the tokenizer at {path} has no 'yes'/'no' tokens: not a Qwen reranker")
    head = full.lm_head.weight.detach()
    score_vector = head[vocab["yes"]].float() - head[vocab["no"]].float()
    model = full.model.eval()
    return LoadedCheckpoint(
        name=name,
        path=path,
        model=model,
        score_vector=score_vector,
        tokenizer=tokenizer,
        image_processor=image_processor,
        chat_template=choose_template(path, tokenizer, chat_template),
        device=next(model.parameters()).device,
        dtype=next(model.parameters()).dtype,
        random_weights=random_weights,
        revision=snapshot_revision(path),
    )


def load_processors(path: Path) -> tuple[Any, Any]:
    """Tokenizer and image processor of a checkpoint directory."""
    from transformers import AutoTokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    try:
        # The PIL backend needs no torchvision; the engine resizes images itself, as the reference.
        return AutoTokenizer.from_pretrained(path), Qwen2VLImageProcessorPil.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"could not load the tokenizer or image processor from {path}: {exc}") from None
