"""Shared-prefix reuse: the tokens every pair of a request starts with are run through the model once.

Every pair of a request begins with the same system prompt, instruction and query (its images
included). The model is causal, so those tokens' keys and values do not depend on the document:
they are computed once (a "prefill" forward, several requests' prefixes as its rows) and every
document is then run as a continuation that attends to its prefix. Continuations of different
prefixes share batches; a mask keeps each row to its own prefix. Positions continue the whole
pair's M-RoPE positions, so each score equals the one of the whole pair in one forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .types import EncodedPair

# A prefix is run separately only when it saves enough: at least this share of the tokens its
# pairs would run whole (a 60-token prompt before ten 800-token image documents saves 6%), and at
# least ``min_saved`` tokens in all, since the extra forward has a fixed cost. On an H200 an 8B
# forward costs ~40 ms of launches whatever its size, the time of ~2,000 tokens of compute: ten
# text documents sharing a 64-token prompt ran at half the speed with a prefix, ten documents
# sharing an 850-token image query at twice the speed (docs/benchmarks.md).
MIN_PREFIX_TOKENS = 16
MIN_PREFIX_SAVING = 0.2


def worth_sharing(prefix: int, lengths: Sequence[int], *, min_saved: int) -> bool:
    """Whether running ``prefix`` once for pairs of these ``lengths`` saves enough work.

    Example:
        >>> worth_sharing(850, [940] * 10, min_saved=2048), worth_sharing(64, [180] * 10, min_saved=2048)
        (True, False)
    """
    saved = prefix * (len(lengths) - 1)
    return prefix >= MIN_PREFIX_TOKENS and saved >= max(MIN_PREFIX_SAVING * sum(lengths), min_saved)


def shared_prefix_length(pairs: Sequence[EncodedPair]) -> int:
    """How many leading tokens all ``pairs`` can share: equal ids, and identical pixels behind them.

    The prefix never splits an image or video, holds only visuals whose content keys agree in every
    pair (a document image has the same placeholder ids as any other image of its size, but not the
    same pixels), and leaves every pair at least one token of its own to be scored at.

    Example:
        >>> shared_prefix_length([EncodedPair((1, 2, 3, 4)), EncodedPair((1, 2, 5))])
        2
    """
    if not pairs:
        return 0
    first = pairs[0].input_ids
    limit = min(p.num_tokens for p in pairs) - 1
    length = 0
    while length < limit and all(p.input_ids[length] == first[length] for p in pairs):
        length += 1
    changed = True
    while changed:  # cutting at one visual can bring an earlier one to the edge: repeat until stable
        changed = False
        for pair in pairs:
            for k, span in enumerate(pair.spans):
                if span.start >= length:
                    break
                same_everywhere = all(
                    k < len(other.spans)
                    and other.spans[k].start == span.start
                    and other.spans[k].visual.key == span.visual.key
                    for other in pairs
                )
                if span.end > length or not same_everywhere:
                    length, changed = span.start, True
                    break
    return length


class PrefixKV:
    """Keys and values of one or more prefixes, run together as the rows of one prefill forward.

    It stands in for a transformers ``Cache``. While recording (the prefill forward) it stores each
    layer's keys and values as they are computed. Afterwards :meth:`replay` gives the cache for a
    batch of continuations, each row naming the prefix it continues: per layer, that row's prefix
    is put in front of the row's own keys and values, without storing the result, so each prefix
    is kept once and only one layer's concatenation exists at a time.
    """

    is_compileable = False

    def __init__(self, num_layers: int, lengths: Sequence[int]) -> None:
        self.lengths = tuple(lengths)  # real tokens of each prefix row; the rest is padding
        self.width = max(self.lengths)
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers
        self.is_sliding = [False] * num_layers

    def replay(self, rows: torch.Tensor) -> PrefixReplay:
        """The cache for continuation rows; ``rows[i]`` is the prefix row that row ``i`` continues."""
        if any(k is None for k in self.keys):
            raise RuntimeError("the prefill forward did not reach every layer")
        return PrefixReplay(self, rows)

    # -- the part of transformers' Cache interface that Qwen3-VL's text model calls ----------
    # Compiled layers call ``update`` eagerly: traced, it would specialise each layer's graph on
    # its ``layer_idx`` (a list index), one compilation per layer.
    @torch.compiler.disable
    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.keys[layer_idx], self.values[layer_idx] = key_states, value_states
        return key_states, value_states

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0

    def get_query_offset(self, layer_idx: int = 0) -> int:
        return 0

    def get_mask_sizes(self, query_length: Any, layer_idx: int = 0) -> tuple[int, int]:
        return _length(query_length), 0


class PrefixReplay:
    """The cache view of :class:`PrefixKV` for one continuation batch (see :meth:`PrefixKV.replay`)."""

    is_compileable = False

    def __init__(self, store: PrefixKV, rows: torch.Tensor) -> None:
        self.store = store
        self.rows = rows
        self.is_sliding = store.is_sliding
        self._single = len(store.lengths) == 1

    @torch.compiler.disable
    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.store.keys[layer_idx], self.store.values[layer_idx]
        assert keys is not None and values is not None
        if self._single:  # one prefix under every row: a broadcast view, no gather
            keys, values = keys.expand(len(self.rows), -1, -1, -1), values.expand(len(self.rows), -1, -1, -1)
        else:
            keys, values = keys[self.rows], values[self.rows]
        return torch.cat([keys, key_states], dim=-2), torch.cat([values, value_states], dim=-2)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.store.width

    def get_query_offset(self, layer_idx: int = 0) -> int:
        return self.store.width

    def get_mask_sizes(self, query_length: Any, layer_idx: int = 0) -> tuple[int, int]:
        return self.store.width + _length(query_length), 0


def continuation_mask(store: PrefixKV, rows: torch.Tensor, width: int) -> torch.Tensor:
    """``(rows, 1, width, prefix width + width)`` booleans, True where attention is allowed (host).

    Row ``i`` sees the real tokens of its own prefix (not the padding after shorter prefixes) and
    its own tokens causally.
    """
    lengths = torch.tensor(store.lengths)[rows.cpu()]
    prefix = torch.arange(store.width).unsqueeze(0) < lengths.unsqueeze(1)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    n = len(rows)
    mask = torch.cat([prefix.unsqueeze(1).expand(n, width, -1), causal.expand(n, -1, -1)], dim=-1)
    return mask.unsqueeze(1)


def _length(query_length: Any) -> int:
    if isinstance(query_length, torch.Tensor):  # older transformers pass cache positions
        return int(query_length.shape[0])
    return int(query_length)
