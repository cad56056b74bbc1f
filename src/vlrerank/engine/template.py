"""The reranker prompt, and which of a checkpoint's chat templates renders it.

Published checkpoints carry their template in different places: one ``chat_template.jinja``
(January 2026), that plus ``additional_chat_templates/reranker.jinja`` for sentence-transformers
(transformers 5.x then loads both as a dict), or a reranker-native root template whose roles are
``system`` (the instruction), ``query`` and ``document``. A template is therefore chosen by what it
renders, never by where it sits: every template the checkpoint carries renders a set of probe pairs
in both role layouts, and one whose output equals the published prompt byte for byte is kept.

If none does, the template bundled with vlrerank is used (and the log says so once), unless the
checkpoint defines a reranker prompt of its own that differs: then loading fails, showing the
difference, because scoring with another prompt than the model was trained on is silently wrong.
"""

from __future__ import annotations

import difflib
import itertools
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ..errors import ModelLoadError

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "Judge whether the Document meets the requirements based on the Query and the Instruct "
    'provided. Note that the answer can only be "yes" or "no".'
)
QUERY_PREFIX = "<Query>:"
DOCUMENT_PREFIX = "\n<Document>:"
INSTRUCT_PREFIX = "<Instruct>: "
EMPTY_SIDE_TEXT = "NULL"
IMAGE_SLOT = "<|vision_start|><|image_pad|><|vision_end|>"
VIDEO_SLOT = "<|vision_start|><|video_pad|><|vision_end|>"
BUNDLED_SOURCE = "vlrerank's bundled template"

# Private-use characters mark user text inside the rendered template; templates never emit them.
USER_OPEN, USER_CLOSE = "\ue000", "\ue001"

# (texts, images, videos) on one side of a pair: all the chat template needs to know.
SideShape = tuple[int, int, int]
# ``system/user``: the published chat (system prompt, then one user turn holding the instruction,
# query and document); ``system/query/document``: the reranker-native roles of sentence-transformers.
Roles = Literal["system/user", "system/query/document"]
ROLE_LAYOUTS: tuple[Roles, ...] = ("system/user", "system/query/document")

# Probe pairs: text only; vision slots on both sides in the published order (videos, images, texts),
# several of each; and empty sides, which the prompt writes as NULL.
PROBE_SHAPES: tuple[tuple[SideShape, SideShape], ...] = (
    ((1, 0, 0), (1, 0, 0)),
    ((1, 1, 0), (2, 2, 1)),
    ((2, 0, 1), (0, 1, 0)),
    ((0, 0, 0), (1, 1, 0)),
)
# Text only a reranker prompt contains: a template holding it defines its own reranker prompt.
_RERANKER_MARKS = ("<Query>", "<Document>", "<Instruct>")


def user_text_markers() -> Iterator[str]:
    """Markers for user strings, numbered in the order the chat shows them."""
    return (f"{USER_OPEN}{i}{USER_CLOSE}" for i in itertools.count())


def side_parts(shape: SideShape, markers: Iterator[str]) -> list[dict[str, Any]]:
    """Chat parts of one side: videos, then images, then texts; ``NULL`` when empty."""
    n_texts, n_images, n_videos = shape
    if not (n_texts or n_images or n_videos):
        return [{"type": "text", "text": EMPTY_SIDE_TEXT}]
    parts: list[dict[str, Any]] = [{"type": "video", "video": ""} for _ in range(n_videos)]
    parts += [{"type": "image", "image": ""} for _ in range(n_images)]
    parts += [{"type": "text", "text": next(markers)} for _ in range(n_texts)]
    return parts


def chat_messages(roles: Roles, query: SideShape, document: SideShape) -> list[dict[str, Any]]:
    """The chat for sides of these shapes, user text marked in order: instruction, query, document."""
    markers = user_text_markers()
    instruction = next(markers)
    query_parts = side_parts(query, markers)
    document_parts = side_parts(document, markers)
    if roles == "system/query/document":
        return [
            {"role": "system", "content": [{"type": "text", "text": instruction}]},
            {"role": "query", "content": query_parts},
            {"role": "document", "content": document_parts},
        ]
    content = [
        {"type": "text", "text": INSTRUCT_PREFIX + instruction},
        {"type": "text", "text": QUERY_PREFIX},
        *query_parts,
        {"type": "text", "text": DOCUMENT_PREFIX},
        *document_parts,
    ]
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        {"role": "user", "content": content},
    ]


def published_prompt(query: SideShape, document: SideShape) -> str:
    """The published reranker prompt for sides of these shapes, written out without any template."""
    markers = user_text_markers()
    instruction = next(markers)

    def side(shape: SideShape) -> str:
        n_texts, n_images, n_videos = shape
        if not (n_texts or n_images or n_videos):
            return EMPTY_SIDE_TEXT
        return VIDEO_SLOT * n_videos + IMAGE_SLOT * n_images + "".join(next(markers) for _ in range(n_texts))

    query_text = side(query)
    document_text = side(document)
    return (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"
        f"{INSTRUCT_PREFIX}{instruction}{QUERY_PREFIX}{query_text}{DOCUMENT_PREFIX}{document_text}"
        "<|im_end|>\n<|im_start|>assistant\n"
    )


@dataclass(frozen=True)
class TemplateCandidate:
    """A chat template a checkpoint carries, and where (a path relative to the checkpoint)."""

    source: str
    text: str


@dataclass(frozen=True)
class ProbeResult:
    """How one template rendered the probe pairs in one role layout."""

    source: str
    roles: Roles
    matches: bool
    detail: str = ""  # the first difference from the published prompt, or the render error


@dataclass(frozen=True)
class ChatTemplate:
    """The template the engine renders prompts with, where it came from and why it was chosen."""

    text: str
    roles: Roles
    source: str
    reason: str
    probes: tuple[ProbeResult, ...] = ()


def bundled_template() -> str:
    """Qwen3-VL-Instruct's chat layout, shipped with vlrerank (roles ``system/user``)."""
    return resources.files("vlrerank.engine").joinpath("chat_template.jinja").read_text(encoding="utf-8")


def find_templates(path: Path) -> list[TemplateCandidate]:
    """Every distinct chat template in a checkpoint directory, the root (default) one first."""
    found: list[TemplateCandidate] = []

    def add(source: str, text: object) -> None:
        if isinstance(text, str) and text.strip() and all(c.text != text for c in found):
            found.append(TemplateCandidate(source, text))

    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        add(jinja.name, jinja.read_text(encoding="utf-8"))
    for name in ("tokenizer_config.json", "chat_template.json", "processor_config.json"):
        file = path / name
        if not file.is_file():
            continue
        try:
            value = json.loads(file.read_text(encoding="utf-8")).get("chat_template")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, list):  # [{"name": ..., "template": ...}], the older multi-template form
            for entry in value:
                if isinstance(entry, dict):
                    add(f"{name}[{entry.get('name')}]", entry.get("template"))
        else:
            add(name, value)
    extra = path / "additional_chat_templates"
    if extra.is_dir():
        for file in sorted(extra.glob("*.jinja")):
            add(f"{extra.name}/{file.name}", file.read_text(encoding="utf-8"))
    return found


def probe(tokenizer: Any, candidate: TemplateCandidate, roles: Roles) -> ProbeResult:
    """Render the probe pairs through ``candidate`` with ``roles``; compare with the published prompt."""
    for query, document in PROBE_SHAPES:
        expected = published_prompt(query, document)
        try:
            rendered = render(tokenizer, candidate.text, roles, query, document)
        except Exception as exc:  # a template can raise anything jinja or transformers raise
            return ProbeResult(candidate.source, roles, False, f"does not render: {exc}")
        if rendered != expected:
            return ProbeResult(candidate.source, roles, False, first_difference(expected, rendered))
    return ProbeResult(candidate.source, roles, True)


def render(tokenizer: Any, template: str, roles: Roles, query: SideShape, document: SideShape) -> str:
    text = tokenizer.apply_chat_template(
        chat_messages(roles, query, document),
        chat_template=template,
        tokenize=False,
        add_generation_prompt=True,
    )
    if not isinstance(text, str):
        raise TypeError("the chat template did not render to a string")
    return text


def choose_template(path: Path, tokenizer: Any, choice: str = "auto") -> ChatTemplate:
    """The chat template to score with (see the module docstring).

    Args:
        path: the checkpoint directory.
        tokenizer: the checkpoint's tokenizer (renders the templates).
        choice: ``auto`` chooses as described; ``bundled`` uses vlrerank's template without looking.

    Raises:
        ModelLoadError: the checkpoint defines a reranker prompt that differs from the published one.
    """
    if choice == "bundled":
        return ChatTemplate(bundled_template(), "system/user", BUNDLED_SOURCE, "chosen by configuration")
    candidates = find_templates(path)
    results: list[ProbeResult] = []
    for candidate in candidates:
        for roles in ROLE_LAYOUTS:
            result = probe(tokenizer, candidate, roles)
            results.append(result)
            if result.matches:
                reason = f"{candidate.source} renders the published reranker prompt with roles {roles}"
                return ChatTemplate(candidate.text, roles, candidate.source, reason, tuple(results))
    own = [c for c in candidates if any(mark in c.text for mark in _RERANKER_MARKS)]
    if own:
        raise ModelLoadError(prompt_mismatch_message(path, tokenizer, own[0]))
    tried = ", ".join(sorted({r.source for r in results})) or "none found"
    reason = f"no template of the checkpoint renders the published reranker prompt (tried: {tried})"
    logger.warning("%s: %s; using %s", path, reason, BUNDLED_SOURCE)
    return ChatTemplate(bundled_template(), "system/user", BUNDLED_SOURCE, reason, tuple(results))


def prompt_mismatch_message(path: Path, tokenizer: Any, candidate: TemplateCandidate) -> str:
    """A load error that names the file and shows how its prompt differs from the published one."""
    query, document = PROBE_SHAPES[1]
    expected = published_prompt(query, document)
    closest, diff = "", ""
    for roles in ROLE_LAYOUTS:
        try:
            rendered = render(tokenizer, candidate.text, roles, query, document)
        except Exception as exc:
            rendered = f"(does not render: {exc})"
        lines = difflib.unified_diff(
            _readable(expected).splitlines(),
            _readable(rendered).splitlines(),
            "published prompt",
            f"{candidate.source} (roles {roles})",
            lineterm="",
        )
        text = "\n".join(lines)
        if not diff or len(text) < len(diff):
            closest, diff = roles, text
    return (
        f"{path / candidate.source} defines a reranker prompt that differs from the published "
        f"Qwen3-VL-Reranker prompt, so this checkpoint's scores would not be the model's. Closest "
        f"rendering (roles {closest}; TEXT<n> is the n-th user string):\n{diff}\n"
        "If the checkpoint was trained on the published prompt anyway, load it with "
        "EngineConfig(chat_template='bundled') (--chat-template bundled, VLRERANK_CHAT_TEMPLATE=bundled)."
    )


def first_difference(expected: str, rendered: str) -> str:
    """Where ``rendered`` first departs from ``expected``, readably."""
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, rendered, strict=False)) if a != b),
        min(len(expected), len(rendered)),
    )
    start = max(0, at - 30)
    return (
        f"at character {at}: expected {_readable(expected[start : at + 30])!r}, "
        f"got {_readable(rendered[start : at + 30])!r}"
    )


_MARK = re.compile(f"{USER_OPEN}(\\d+){USER_CLOSE}")


def _readable(text: str) -> str:
    return _MARK.sub(lambda m: f"TEXT{m.group(1)}", text)
