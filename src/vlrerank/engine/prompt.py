"""The reranker prompt's exact tokenisation.

The chat is rendered with the template :mod:`vlrerank.engine.template` chose, then tokenised so
that the template's control tokens stay control tokens while user text (instruction, query and
document texts) is tokenised with special-token matching off: a document containing
``<|im_start|>`` cannot forge a chat turn. For text without control tokens the ids equal the
reference's exactly, because Hugging Face tokenizers also split at control tokens first and
tokenise the runs between them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from tokenizers import Tokenizer

from .template import IMAGE_SLOT, USER_CLOSE, USER_OPEN, VIDEO_SLOT, ChatTemplate, SideShape, render

# The generation prompt's last tokens (<|im_end|> \n <|im_start|> assistant \n) are never truncated.
PROMPT_TAIL_TOKENS = 5

_USER_MARK = re.compile(f"{USER_OPEN}(\\d+){USER_CLOSE}")
_SLOT = re.compile(f"{re.escape(IMAGE_SLOT)}|{re.escape(VIDEO_SLOT)}")


class PromptTokenizer:
    """Renders and tokenises reranker chats for one checkpoint."""

    def __init__(self, tokenizer: Any, template: ChatTemplate) -> None:
        self._tokenizer = tokenizer
        self.template = template
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
        return render(self._tokenizer, self.template.text, self.template.roles, query, document)

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
