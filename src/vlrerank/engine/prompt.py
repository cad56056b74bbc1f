"""The reranker prompt (SPEC §2) and its exact tokenisation.

The chat is rendered with the checkpoint's own template, then tokenised so that the template's
control tokens stay control tokens while user text (instruction, query and document texts) is
tokenised with special-token matching off: a document containing ``<|im_start|>`` cannot forge a
chat turn. For text without control tokens the ids equal the reference's exactly, because Hugging
Face tokenizers also split at control tokens first and tokenise the runs between them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from tokenizers import Tokenizer

SYSTEM_PROMPT = (
    "Judge whether the Document meets the requirements based on the Query and the Instruct "
    'provided. Note that the answer can only be "yes" or "no".'
)
QUERY_PREFIX = "<Query>:"
DOCUMENT_PREFIX = "\n<Document>:"
INSTRUCT_PREFIX = "<Instruct>: "
EMPTY_SIDE_TEXT = "NULL"
# The generation prompt's last tokens (<|im_end|> \n <|im_start|> assistant \n) are never truncated.
PROMPT_TAIL_TOKENS = 5

IMAGE_SLOT = "<|vision_start|><|image_pad|><|vision_end|>"
VIDEO_SLOT = "<|vision_start|><|video_pad|><|vision_end|>"
# Private-use characters mark user text inside the rendered template; templates never emit them.
_USER_OPEN, _USER_CLOSE = "\ue000", "\ue001"
_USER_MARK = re.compile(f"{_USER_OPEN}(\\d+){_USER_CLOSE}")
_SLOT = re.compile(f"{re.escape(IMAGE_SLOT)}|{re.escape(VIDEO_SLOT)}")


# (texts, images, videos) on one side of a pair: all the chat template needs to know.
SideShape = tuple[int, int, int]


def user_text_markers() -> Iterator[str]:
    """Markers for user strings, numbered in the order the chat shows them."""
    return (f"{_USER_OPEN}{i}{_USER_CLOSE}" for i in itertools.count())


def side_parts(n_texts: int, n_images: int, n_videos: int, markers: Iterator[str]) -> list[dict[str, Any]]:
    """Chat parts of one side: videos, then images, then texts; ``NULL`` when empty."""
    if not (n_texts or n_images or n_videos):
        return [{"type": "text", "text": EMPTY_SIDE_TEXT}]
    parts: list[dict[str, Any]] = [{"type": "video", "video": ""} for _ in range(n_videos)]
    parts += [{"type": "image", "image": ""} for _ in range(n_images)]
    parts += [{"type": "text", "text": next(markers)} for _ in range(n_texts)]
    return parts


class PromptTokenizer:
    """Renders and tokenises reranker chats for one checkpoint."""

    def __init__(self, tokenizer: Any, chat_template: str) -> None:
        self._tokenizer = tokenizer
        self._chat_template = chat_template
        special = sorted(tokenizer.all_special_tokens, key=len, reverse=True)
        self._special_ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in special}
        self._special_re = re.compile("|".join(re.escape(tok) for tok in special))
        self.special_id_set = frozenset(self._special_ids.values())
        # A private copy of the Rust tokenizer that never matches control tokens. Toggling the
        # shared tokenizer's flag per call (what ``split_special_tokens=True`` does) is not
        # thread-safe, and one batch call per pair is also much faster.
        self._plain = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self._plain.encode_special_tokens = True
        self._plain.no_truncation()
        self._plain.no_padding()
        self.render = lru_cache(maxsize=256)(self._render_structure)  # type: ignore[method-assign]

    def special_id(self, token: str) -> int:
        """The id of a control token such as ``<|image_pad|>``."""
        return self._special_ids[token]

    def render(self, query: SideShape, document: SideShape) -> str:  # replaced by a cached version
        return self._render_structure(query, document)

    def _render_structure(self, query: SideShape, document: SideShape) -> str:
        """The chat for sides of these shapes, user text marked in order: instruction, query, document.

        User text never reaches the template (only markers do), so the rendering depends on the
        shapes alone and is computed once per shape.
        """
        markers = user_text_markers()
        content = [{"type": "text", "text": INSTRUCT_PREFIX + next(markers)}]
        content.append({"type": "text", "text": QUERY_PREFIX})
        content += side_parts(*query, markers)
        content.append({"type": "text", "text": DOCUMENT_PREFIX})
        content += side_parts(*document, markers)
        messages = [
            {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
            {"role": "user", "content": content},
        ]
        text = self._tokenizer.apply_chat_template(
            messages, chat_template=self._chat_template, tokenize=False, add_generation_prompt=True
        )
        if not isinstance(text, str):
            raise TypeError("chat template did not render to a string")
        return text

    def encode(self, rendered: str, slot_fillers: Sequence[str], user_text: Sequence[str]) -> list[int]:
        """Token ids of a rendered chat.

        Args:
            rendered: the template output, with user text marked and one slot per image/video.
            slot_fillers: what each image/video slot expands to, in order of appearance.
            user_text: the user strings, in marker order (instruction, query texts, document texts).
        """
        fillers = iter(slot_fillers)
        expanded = _SLOT.sub(lambda _: next(fillers), rendered)
        runs: list[str | int] = []  # text runs and control-token ids, adjacent text merged
        pieces = _USER_MARK.split(expanded)
        for i, piece in enumerate(pieces):
            if i % 2 == 1:  # user text: never matched against control tokens
                _append_text(runs, user_text[int(piece)])
                continue
            last = 0
            for match in self._special_re.finditer(piece):
                _append_text(runs, piece[last : match.start()])
                runs.append(self._special_ids[match.group()])
                last = match.end()
            _append_text(runs, piece[last:])
        texts = [run for run in runs if isinstance(run, str)]
        encoded = iter(self._plain.encode_batch(texts, add_special_tokens=False)) if texts else iter(())
        ids: list[int] = []
        for run in runs:
            ids += [run] if isinstance(run, int) else next(encoded).ids
        return ids

    def truncate(self, ids: list[int], max_length: int) -> list[int]:
        """The reference's truncation: keep every control token and the first non-control ones."""
        body, tail = ids[:-PROMPT_TAIL_TOKENS], ids[-PROMPT_TAIL_TOKENS:]
        if len(body) <= max_length:
            return ids
        n_special = sum(1 for t in body if t in self.special_id_set)
        budget = max_length - n_special
        kept: list[int] = []
        for token in body:
            if token in self.special_id_set:
                kept.append(token)
            elif budget > 0:
                kept.append(token)
                budget -= 1
        return kept + tail


def _append_text(runs: list[str | int], text: str) -> None:
    if not text:
        return
    if runs and isinstance(runs[-1], str):
        runs[-1] += text
    else:
        runs.append(text)
