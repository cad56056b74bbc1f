"""Checkpoints as published: the same weights give the same scores in every file layout.

The published Qwen3-VL-Reranker repositories moved from one chat template to a root template plus
``additional_chat_templates/reranker.jinja`` (transformers 5.x then loads a dict of templates), and
a reranker-native root template is expected next. The engine must score each exactly as the
reference scores the one-template checkpoint, and refuse at load a checkpoint whose own prompt
differs. Random weights: the scores mean nothing, only their equality does.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from vlrerank import EngineConfig, Reranker
from vlrerank.checkpoints import LAYOUTS, copy_with_layout, reranker_template
from vlrerank.errors import ModelLoadError

from ..conftest import noise_image

TOL = 1e-5


def assert_parity(ours: list[float], theirs: list[float]) -> None:
    assert len(ours) == len(theirs) and max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) <= TOL


def requests(images: dict[str, object]) -> list[dict]:
    frames = [noise_image(64, 64, 40 + i) for i in range(4)]
    return [
        {
            "instruction": "Retrieve passages about cars.",
            "query": {"text": "a red sports car"},
            "documents": [{"text": "A red Ferrari parked outside."}, {"text": "Tomato soup."}, {}],
        },
        {
            "query": {"text": "a photo"},
            "documents": [{"image": images["small"]}, {"image": images["jpeg_path"]}],
        },
        {
            "query": {"text": "find the product", "image": images["square"]},
            "documents": [
                {"text": ["two", "texts"], "image": [images["wide"], images["grey"]]},
                {"text": "a clip", "video": frames},
            ],
        },
    ]


@pytest.fixture(scope="module")
def rerankers(layout_dirs: dict[str, Path]) -> dict[str, Reranker]:
    # Without sending images ahead: which images share a vision-tower pass then depends on thread
    # timing, and that moves the last bits (about 1e-7); here the bits must show the prompts agree.
    return {layout: Reranker(str(path), vision_prefetch=False) for layout, path in layout_dirs.items()}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_scores_as_the_reference(rerankers, reference, images, layout):
    single = rerankers["single-template"]
    for request in requests(images):
        ours = rerankers[layout].process(request)
        assert ours == single.process(request), "same weights, same prompt: the same bits"
        assert_parity(ours, reference.process(request))
    ranked = rerankers[layout].rank("a red sports car", ["A red Ferrari.", "Soup."])
    assert [r.score for r in ranked] == [
        r.score for r in single.rank("a red sports car", ["A red Ferrari.", "Soup."])
    ]


def test_each_layout_says_which_template_it_renders_with(rerankers):
    chosen = {layout: r.chat_template for layout, r in rerankers.items()}
    assert (chosen["single-template"].source, chosen["single-template"].roles) == (
        "chat_template.jinja",
        "system/user",
    )
    # The dict of templates transformers 5.x loads: its default entry renders the published prompt.
    assert (chosen["sentence-transformers"].source, chosen["sentence-transformers"].roles) == (
        "chat_template.jinja",
        "system/user",
    )
    native = chosen["reranker-native"]
    assert (native.source, native.roles) == ("chat_template.jinja", "system/query/document")
    # Probed first with the system/user roles, which drop the user text in this template.
    assert [(p.roles, p.matches) for p in native.probes] == [
        ("system/user", False),
        ("system/query/document", True),
    ]
    assert "renders the published reranker prompt" in native.reason


def checkpoint_with(tiny_dir: Path, directory: Path, root_template: str | None, **extra: str) -> Path:
    """The tiny weights with only the given templates (``extra``: file name -> text)."""
    out = copy_with_layout(tiny_dir, directory, "sentence-transformers")
    (out / "chat_template.jinja").unlink()
    shutil.rmtree(out / "additional_chat_templates")
    if root_template is not None:
        (out / "chat_template.jinja").write_text(root_template, encoding="utf-8")
    for name, text in extra.items():
        target = out / "additional_chat_templates" / name
        target.parent.mkdir(exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return out


def test_a_named_reranker_template_alone_is_found_and_used(tiny_dir, tmp_path, reference):
    path = checkpoint_with(tiny_dir, tmp_path / "named", None, **{"reranker.jinja": reranker_template()})
    reranker = Reranker(str(path))
    assert reranker.chat_template.source == "additional_chat_templates/reranker.jinja"
    assert reranker.chat_template.roles == "system/query/document"
    request = {"query": {"text": "red car"}, "documents": [{"text": "a red car"}, {"text": "soup"}]}
    assert_parity(reranker.process(request), reference.process(request))


def test_a_checkpoint_whose_own_prompt_differs_fails_at_load_showing_the_difference(tiny_dir, tmp_path):
    # One space more after "<Query>:": a prompt the model was not trained on.
    changed = reranker_template().replace("<Query>:{{", "<Query>: {{")
    path = checkpoint_with(tiny_dir, tmp_path / "changed", changed)
    with pytest.raises(ModelLoadError) as info:
        Reranker(str(path))
    message = str(info.value)
    assert str(path / "chat_template.jinja") in message
    assert "differs from the published" in message
    assert "-" in message and "+" in message and "<Query>: " in message  # a unified diff
    assert "chat_template='bundled'" in message  # and the way out, for a checkpoint trained on ours
    bundled = Reranker(str(path), chat_template="bundled")
    assert bundled.chat_template.source == "vlrerank's bundled template"


def test_without_a_usable_template_the_bundled_one_is_used_and_said(tiny_dir, tmp_path, reference, caplog):
    generic = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    path = checkpoint_with(tiny_dir, tmp_path / "generic", generic)
    config = json.loads((path / "tokenizer_config.json").read_text())
    assert "chat_template" not in config
    with caplog.at_level(logging.WARNING, logger="vlrerank.engine.template"):
        reranker = Reranker(str(path))
    assert reranker.chat_template.source == "vlrerank's bundled template"
    assert "no template of the checkpoint renders the published reranker prompt" in caplog.text
    assert sum("bundled template" in r.getMessage() for r in caplog.records) == 1
    request = {"query": {"text": "red car"}, "documents": [{"text": "a red car"}, {"text": "soup"}]}
    assert_parity(reranker.process(request), reference.process(request))


def test_a_template_that_does_not_render_is_reported_not_raised_per_request(tiny_dir, tmp_path):
    path = checkpoint_with(tiny_dir, tmp_path / "broken", "{% for m in messages %}{{ m.role ")
    reranker = Reranker(str(path))
    probe = reranker.chat_template.probes[0]
    assert not probe.matches and "does not render" in probe.detail
    assert len(reranker.score("q", ["d"])) == 1


def test_chat_template_setting_is_validated():
    from vlrerank.errors import ConfigError

    with pytest.raises(ConfigError, match="auto or bundled"):
        EngineConfig(chat_template="reranker")  # type: ignore[arg-type]


def test_every_place_a_template_can_sit_is_searched(tmp_path):
    from vlrerank.checkpoints import chat_template
    from vlrerank.engine.template import find_templates

    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "chat_template": [
                    {"name": "default", "template": chat_template()},
                    {"name": "reranker", "template": reranker_template()},
                ]
            }
        )
    )
    (tmp_path / "chat_template.json").write_text(json.dumps({"chat_template": chat_template()}))
    (tmp_path / "additional_chat_templates").mkdir()
    (tmp_path / "additional_chat_templates" / "rag.jinja").write_text("{{ messages }}")
    found = find_templates(tmp_path)
    # Identical texts are probed once, under the first place they were found.
    assert [c.source for c in found] == [
        "tokenizer_config.json[default]",
        "tokenizer_config.json[reranker]",
        "additional_chat_templates/rag.jinja",
    ]
