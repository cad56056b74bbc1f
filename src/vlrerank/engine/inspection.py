"""What a checkpoint is and how vlrerank will run it, found without loading its weights.

:func:`inspect_checkpoint` reads config files, the JSON headers of the safetensors files and the
tokenizer (cheap), and runs the same template choice as loading. It never raises for a checkpoint
that is broken or not a reranker: every such finding becomes one of the report's ``problems``, so
``vlrerank doctor`` can show all of them at once, and ``serve``/``rank`` can refuse to start with them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import IMAGE_FACTOR, EngineConfig
from ..errors import ModelLoadError, ModelNotFoundError
from ..random_weights import RANDOM_WEIGHTS_WARNING, is_random_checkpoint
from .loading import resolve_device, resolve_model_path, snapshot_revision
from .template import (
    BUNDLED_SOURCE,
    ROLE_LAYOUTS,
    ProbeResult,
    choose_template,
    find_templates,
    probe,
)
from .weights import Weights, read_json, read_weights

QWEN3_VL_MODEL_TYPE = "qwen3_vl"
QWEN3_VL_ARCHITECTURE = "Qwen3VLForConditionalGeneration"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")
PROCESSOR_FILES = (
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "processor_config.json",
    "chat_template.json",
)
SENTENCE_TRANSFORMERS_FILES = (
    "modules.json",
    "1_LogitScore/config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)
# Bytes per element of the dtypes vlrerank runs in, to size the weights on the device.
_ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class TemplateChoice:
    """The chat template vlrerank will render prompts with, and why."""

    setting: str  # EngineConfig.chat_template: auto or bundled
    source: str
    roles: str
    reason: str


@dataclass(frozen=True)
class Tokens:
    """The ids whose logits make the score, and those sentence-transformers would use."""

    yes_id: int | None = None
    no_id: int | None = None
    logit_score_true_id: int | None = None  # 1_LogitScore/config.json, when present
    logit_score_false_id: int | None = None


@dataclass(frozen=True)
class PixelBounds:
    """Image size bounds in pixels, and the visual tokens they come to (one token per 32x32)."""

    min_pixels: int
    max_pixels: int
    min_tokens: int
    max_tokens: int


@dataclass(frozen=True)
class Runtime:
    """Where and how vlrerank would run the checkpoint on this machine."""

    device: str
    dtype: str
    device_weight_bytes: int | None  # the model without its LM head, in ``dtype``


@dataclass(frozen=True, kw_only=True)
class CheckpointReport:
    """Everything ``vlrerank doctor`` shows; ``usable`` is false when ``problems`` is not empty."""

    name: str
    path: str | None  # None when nothing was found
    revision: str | None  # asked for
    commit: str | None = None  # the Hugging Face snapshot's commit
    usable: bool
    problems: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    has_config: bool = False
    model_type: str | None = None
    architectures: tuple[str, ...] = ()
    weights: Weights = field(default_factory=Weights)
    tokenizer_files: tuple[str, ...] = ()
    processor_files: tuple[str, ...] = ()
    sentence_transformers_files: tuple[str, ...] = ()
    random_weights: bool = False
    templates_found: tuple[str, ...] = ()
    probes: tuple[ProbeResult, ...] = ()  # every template in every role layout
    template: TemplateChoice | None = None  # None when no template can be used
    tokens: Tokens = field(default_factory=Tokens)
    engine_pixels: PixelBounds
    processor_pixels: PixelBounds | None = None
    runtime: Runtime

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (tuples become lists when dumped)."""
        return asdict(self)


def require_usable(report: CheckpointReport) -> None:
    """Raise the error loading would raise, with every problem the report found.

    Raises:
        ModelNotFoundError: there is no checkpoint at all (the message says how to get one).
        ModelLoadError: the files exist but do not form a usable reranker checkpoint.
    """
    if report.usable:
        return
    if report.path is None or not report.has_config:
        raise ModelNotFoundError(report.problems[0])
    listed = "\n".join(f"- {problem}" for problem in report.problems)
    raise ModelLoadError(f"{report.name} is not a usable Qwen3-VL reranker checkpoint:\n{listed}")


def inspect_checkpoint(
    name: str, config: EngineConfig | None = None, *, path: Path | None = None
) -> CheckpointReport:
    """Report on the checkpoint ``name`` (a Hugging Face id or a directory).

    Args:
        path: where the checkpoint called ``name`` already is (``tiny-random``: see
            :func:`vlrerank.checkpoints.named_checkpoint`); ``None`` resolves ``name`` itself.

    Raises:
        ConfigError: ``config`` asks for a device this machine does not have.
    """
    config = config or EngineConfig()
    device, dtype = resolve_device(config)
    problems: list[str] = []
    try:
        path = path if path is not None else resolve_model_path(name, config.revision)
    except ModelNotFoundError as exc:
        problems.append(str(exc))
        local = Path(name).expanduser()
        path = local if local.is_dir() else None  # still worth saying what the directory holds
    runtime = Runtime(str(device), str(dtype).removeprefix("torch."), None)
    if path is None:
        return CheckpointReport(
            name=name,
            path=None,
            revision=config.revision,
            engine_pixels=_bounds(config.min_pixels, config.max_pixels, IMAGE_FACTOR),
            runtime=runtime,
            problems=tuple(problems),
            usable=False,
        )
    return _inspect_directory(name, path, config, problems, runtime)


def _inspect_directory(
    name: str, path: Path, config: EngineConfig, problems: list[str], runtime: Runtime
) -> CheckpointReport:
    warnings: list[str] = []
    model_config = read_json(path / "config.json", problems) if (path / "config.json").is_file() else None
    model_type: Any = None
    architectures: Any = None
    if model_config is not None:
        model_type = model_config.get("model_type")
        architectures = model_config.get("architectures")
        if model_type != QWEN3_VL_MODEL_TYPE:
            problems.append(
                f"config.json says model_type {model_type!r}: not a Qwen3-VL model (vlrerank runs "
                f"Qwen3-VL-Reranker checkpoints, model_type {QWEN3_VL_MODEL_TYPE!r})"
            )
        elif not isinstance(architectures, list) or QWEN3_VL_ARCHITECTURE not in architectures:
            warnings.append(
                f"config.json names architectures {architectures}; "
                f"vlrerank loads it as {QWEN3_VL_ARCHITECTURE}"
            )
    weights = read_weights(path, problems)
    tied = bool((model_config or {}).get("tie_word_embeddings", False))
    if weights.parameters is not None and weights.files and not tied and not weights.lm_head_parameters:
        problems.append(
            "the weights hold no lm_head.weight and tie_word_embeddings is false: the yes/no "
            "scoring head would be random"
        )
    if weights.parameters is not None:
        runtime = Runtime(
            runtime.device,
            runtime.dtype,
            (weights.parameters - weights.lm_head_parameters) * _ITEMSIZE.get(runtime.dtype, 4),
        )

    tokenizer = _load_tokenizer(path, problems)
    tokens = _tokens(path, tokenizer, problems)
    candidates = find_templates(path)
    probes: tuple[ProbeResult, ...] = ()
    template = None
    if tokenizer is not None:
        # Every template in every role layout, not only those tried before the choice: the user
        # sees all that the checkpoint carries.
        probes = tuple(
            probe(tokenizer, candidate, roles) for candidate in candidates for roles in ROLE_LAYOUTS
        )
        try:
            chosen = choose_template(path, tokenizer, config.chat_template)
        except ModelLoadError as exc:
            problems.append(str(exc))
        else:
            template = TemplateChoice(config.chat_template, chosen.source, chosen.roles, chosen.reason)
            if config.chat_template == "auto" and chosen.source == BUNDLED_SOURCE:
                warnings.append(f"{chosen.reason}; vlrerank uses its bundled template")

    random_weights = is_random_checkpoint(path)
    if random_weights:
        warnings.append(RANDOM_WEIGHTS_WARNING)
    return CheckpointReport(
        name=name,
        path=str(path),
        revision=config.revision,
        commit=snapshot_revision(path),
        has_config=model_config is not None,
        model_type=model_type if isinstance(model_type, str) else None,
        architectures=tuple(str(a) for a in architectures) if isinstance(architectures, list) else (),
        weights=weights,
        tokenizer_files=_present(path, TOKENIZER_FILES),
        processor_files=_present(path, PROCESSOR_FILES),
        sentence_transformers_files=_present(path, SENTENCE_TRANSFORMERS_FILES),
        templates_found=tuple(c.source for c in candidates),
        probes=probes,
        template=template,
        tokens=tokens,
        engine_pixels=_bounds(config.min_pixels, config.max_pixels, IMAGE_FACTOR),
        processor_pixels=_processor_bounds(path),
        runtime=runtime,
        random_weights=random_weights,
        problems=tuple(problems),
        warnings=tuple(warnings),
        usable=not problems,
    )


def _present(path: Path, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in names if (path / name).is_file())


def _load_tokenizer(path: Path, problems: list[str]) -> Any:
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        problems.append(f"no tokenizer: none of {', '.join(TOKENIZER_FILES)} is there")
        return None
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # a report states problems once, not between transformers' warnings
    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # transformers raises many kinds for a broken tokenizer; all mean "unusable"
        problems.append(f"the tokenizer cannot be loaded: {type(exc).__name__}: {exc}")
        return None
    finally:
        hf_logging.set_verbosity(verbosity)


def _tokens(path: Path, tokenizer: Any, problems: list[str]) -> Tokens:
    logit_score: dict[str, Any] = {}
    logit_file = path / "1_LogitScore" / "config.json"
    if logit_file.is_file():
        logit_score = read_json(logit_file, problems) or {}
    true_id, false_id = logit_score.get("true_token_id"), logit_score.get("false_token_id")
    vocab = tokenizer.get_vocab() if tokenizer is not None else {}
    tokens = Tokens(vocab.get("yes"), vocab.get("no"), true_id, false_id)
    if tokenizer is None:
        return tokens
    if tokens.yes_id is None or tokens.no_id is None:
        problems.append(f"the tokenizer at {path} has no 'yes'/'no' tokens: not a Qwen reranker")
    elif logit_score and (true_id, false_id) != (tokens.yes_id, tokens.no_id):
        problems.append(
            f"1_LogitScore/config.json scores true_token_id {true_id} against false_token_id "
            f"{false_id}, but the tokenizer's 'yes'/'no' are {tokens.yes_id}/{tokens.no_id}"
        )
    return tokens


def _bounds(min_pixels: int, max_pixels: int, factor: int) -> PixelBounds:
    return PixelBounds(min_pixels, max_pixels, min_pixels // factor**2, max_pixels // factor**2)


def _processor_bounds(path: Path) -> PixelBounds | None:
    """The image processor's own bounds (sentence-transformers and plain transformers use these)."""
    file = path / "preprocessor_config.json"
    if not file.is_file():
        return None
    config = read_json(file, [])  # a broken file here only hides a comparison
    if config is None:
        return None
    size: dict[str, Any] = config["size"] if isinstance(config.get("size"), dict) else {}
    low = size.get("shortest_edge", config.get("min_pixels"))
    high = size.get("longest_edge", config.get("max_pixels"))
    if not isinstance(low, int) or not isinstance(high, int):
        return None
    factor = int(config.get("patch_size", 16)) * int(config.get("merge_size", 2))
    return _bounds(low, high, factor)
