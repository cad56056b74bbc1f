"""The file layouts in which Qwen3-VL-Reranker checkpoints have been published, on test weights.

The weights stay the same; what changes between layouts is where the chat template lives and which
sentence-transformers files sit beside the model. The engine must give the same scores on each.

- ``single-template`` (January 2026): one chat template (Qwen3-VL-Instruct's), in
  ``chat_template.jinja`` and ``tokenizer_config.json``.
- ``sentence-transformers`` (today): the same root template, a second one in
  ``additional_chat_templates/reranker.jinja`` (roles ``system`` = instruction, ``query``,
  ``document``), and the sentence-transformers files ``modules.json``, ``1_LogitScore/config.json``,
  ``sentence_bert_config.json`` and ``config_sentence_transformers.json``. transformers 5.x then
  loads the tokenizer's ``chat_template`` as a dict of both.
- ``reranker-native``: the root ``chat_template.jinja`` itself is the reranker template, as the
  text Qwen3-Reranker did on 2026-04-16, with the sentence-transformers files.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Literal

from ..engine.template import bundled_template

Layout = Literal["single-template", "sentence-transformers", "reranker-native"]
LAYOUTS: tuple[Layout, ...] = ("single-template", "sentence-transformers", "reranker-native")
YES_ID, NO_ID = 9693, 2152

# Files a layout writes; removed first so that a directory can be switched between layouts.
_LAYOUT_FILES = (
    "chat_template.jinja",
    "additional_chat_templates",
    "modules.json",
    "1_LogitScore",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)


def chat_template() -> str:
    """Qwen3-VL-Instruct's chat layout, as the published checkpoints' root template renders it."""
    return bundled_template()


def reranker_template() -> str:
    """A reranker-native template (roles ``system``, ``query``, ``document``)."""
    return resources.files("vlrerank.checkpoints").joinpath("reranker.jinja").read_text(encoding="utf-8")


def write_layout(directory: str | os.PathLike[str], layout: Layout) -> Path:
    """Lay out the chat templates and sentence-transformers files of ``layout`` in a checkpoint dir."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    out = Path(directory)
    for name in _LAYOUT_FILES:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    root = reranker_template() if layout == "reranker-native" else chat_template()
    (out / "chat_template.jinja").write_text(root, encoding="utf-8")
    config_path = out / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text(encoding="utf-8"))
    if layout == "single-template":
        tokenizer_config["chat_template"] = root
    else:  # transformers 5.x writes templates only as files
        tokenizer_config.pop("chat_template", None)
    config_path.write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")
    if layout == "single-template":
        return out
    if layout == "sentence-transformers":
        extra = out / "additional_chat_templates"
        extra.mkdir()
        (extra / "reranker.jinja").write_text(reranker_template(), encoding="utf-8")
    _write_sentence_transformers_files(out, named_template=layout == "sentence-transformers")
    return out


def copy_with_layout(
    source: str | os.PathLike[str], directory: str | os.PathLike[str], layout: Layout
) -> Path:
    """A copy of checkpoint ``source`` in ``layout``; weights are linked, not copied."""
    src, out = Path(source), Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name in _LAYOUT_FILES:
            continue
        target = out / item.name
        if item.suffix == ".safetensors":
            try:
                os.link(item, target)
                continue
            except OSError:  # another file system: copy instead
                pass
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    return write_layout(out, layout)


def _write_sentence_transformers_files(out: Path, *, named_template: bool) -> None:
    def dump(path: Path, content: object) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2), encoding="utf-8")

    dump(
        out / "modules.json",
        [
            {
                "idx": 0,
                "name": "0",
                "path": "",
                "type": "sentence_transformers.base.modules.transformer.Transformer",
            },
            {
                "idx": 1,
                "name": "1",
                "path": "1_LogitScore",
                "type": "sentence_transformers.cross_encoder.modules.logit_score.LogitScore",
            },
        ],
    )
    dump(
        out / "1_LogitScore" / "config.json",
        {"true_token_id": YES_ID, "false_token_id": NO_ID, "module_input_name": "causal_logits"},
    )
    # As sentence-transformers 6.2 itself saves such a model: pairs become structured chat messages,
    # and the prompt must end with the assistant turn opened, where the yes/no logits are read.
    modality_config: dict[str, dict[str, str]] = {
        modality: {"method": "forward", "method_output_name": "logits"}
        for modality in ("text", "image", "video")
    }
    modality_config["message"] = {"method": "forward", "method_output_name": "logits", "format": "structured"}
    chat_kwargs: dict[str, object] = {"add_generation_prompt": True}
    if named_template:
        chat_kwargs = {"chat_template": "reranker", **chat_kwargs}
    sbert: dict[str, object] = {
        "transformer_task": "any-to-any",
        "modality_config": modality_config,
        "module_output_name": "causal_logits",
        "processing_kwargs": {"chat_template": chat_kwargs},
    }
    dump(out / "sentence_bert_config.json", sbert)
    dump(
        out / "config_sentence_transformers.json",
        {
            "model_type": "CrossEncoder",
            "prompts": {},
            "default_prompt_name": None,
            "activation_fn": "torch.nn.modules.linear.Identity",
        },
    )
