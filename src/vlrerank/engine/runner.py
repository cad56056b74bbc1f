"""The forward plan: which pairs share a prefix, how rows are batched, and what happens on OOM."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .backend import ScoringBackend
from .batching import collate, plan_batches
from .encode import EncodedPair
from .prefix import PrefixKV, shared_prefix_length, worth_sharing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Group:
    """Pairs with the same instruction and query, and how many leading tokens they share."""

    indices: list[int]
    prefix: int


class ForwardRunner:
    """Scores encoded pairs with as few and as full forwards as the budget allows.

    Pairs with the same instruction and query form a group. A group of two or more whose shared
    prefix saves enough work (:func:`worth_sharing`) has that prefix run once: the prefixes of several
    groups (several requests, when calls are merged) run as the rows of one prefill forward, then
    all their documents run as continuations in shared batches. Other pairs are batched whole.
    Batches are filled longest first under ``token_budget`` (rows x widest row, counting the
    tokens a forward itself runs) and ``max_pairs`` rows.

    A batch that runs out of device memory is halved and retried, down to single rows; a row that
    fails even alone scores ``None`` and the rest are scored. Prefixes that do not fit are split
    likewise; a single prefix that does not fit sends its group down the whole-pair path.
    """

    def __init__(
        self,
        backend: ScoringBackend,
        positions: Callable[[EncodedPair], torch.Tensor],
        *,
        pad_id: int,
        token_budget: int,
        max_pairs: int,
        prefix_reuse: bool,
        prefix_min_saved: int = 0,
    ) -> None:
        self.backend = backend
        self.positions = positions
        self.pad_id = pad_id
        self.token_budget = token_budget
        self.max_pairs = max_pairs
        self.prefix_reuse = prefix_reuse
        self.prefix_min_saved = prefix_min_saved

    def run(self, pairs: Sequence[EncodedPair]) -> tuple[list[float | None], int]:
        """Scores in input order (``None`` for a pair that ran out of memory alone) and forwards run."""
        scores: list[float | None] = [None] * len(pairs)
        by_key: dict[object, list[int]] = {}
        for index, pair in enumerate(pairs):
            by_key.setdefault(pair.group, []).append(index)
        shared: list[_Group] = []
        whole: list[int] = []
        for indices in by_key.values():
            length = 0
            if self.prefix_reuse and len(indices) >= 2:
                length = shared_prefix_length([pairs[i] for i in indices])
            if worth_sharing(length, [pairs[i].num_tokens for i in indices], min_saved=self.prefix_min_saved):
                shared.append(_Group(indices, length))
            else:
                whole += indices
        forwards = 0
        for batch in plan_batches(
            [g.prefix for g in shared], token_budget=self.token_budget, max_pairs=self.max_pairs
        ):
            forwards += self._with_prefixes(pairs, [shared[i] for i in batch], scores, whole)
        return scores, forwards + self._batched(pairs, whole, scores, None, [])

    def _with_prefixes(
        self, pairs: Sequence[EncodedPair], groups: list[_Group], scores: list[float | None], whole: list[int]
    ) -> int:
        heads = []
        for group in groups:
            head = pairs[group.indices[0]]
            spans = tuple(s for s in head.spans if s.end <= group.prefix)
            # M-RoPE positions only count what came before: a prefix's are the first of the pair's.
            positions = head.positions[:, : group.prefix] if head.positions is not None else None
            heads.append(EncodedPair(head.input_ids[: group.prefix], spans, positions=positions))
        try:
            store = self.backend.prefill(collate(heads, pad_id=self.pad_id, positions=self.positions))
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            release_device_memory(self.backend.device)
            if len(groups) == 1:
                logger.warning(
                    "a shared prefix of %d tokens ran out of memory; scoring pairs whole", groups[0].prefix
                )
                whole += groups[0].indices
                return 1
            half = len(groups) // 2
            return (
                1
                + self._with_prefixes(pairs, groups[:half], scores, whole)
                + self._with_prefixes(pairs, groups[half:], scores, whole)
            )
        rows = [(i, k) for k, group in enumerate(groups) for i in group.indices]
        return 1 + self._batched(pairs, [i for i, _ in rows], scores, store, [k for _, k in rows])

    def _batched(
        self,
        pairs: Sequence[EncodedPair],
        indices: list[int],
        scores: list[float | None],
        store: PrefixKV | None,
        prefix_rows: list[int],
    ) -> int:
        """Continuations of ``store``'s prefixes (row ``j`` continues ``prefix_rows[j]``), or whole pairs."""
        skips = [store.lengths[k] for k in prefix_rows] if store is not None else [0] * len(indices)
        batches = plan_batches(
            [pairs[i].num_tokens - skip for i, skip in zip(indices, skips, strict=True)],
            token_budget=self.token_budget,
            max_pairs=self.max_pairs,
        )
        return sum(
            self._split_on_oom(
                pairs,
                [indices[j] for j in batch],
                [skips[j] for j in batch],
                [prefix_rows[j] for j in batch] if store is not None else None,
                scores,
                store,
            )
            for batch in batches
        )

    def _split_on_oom(
        self,
        pairs: Sequence[EncodedPair],
        indices: list[int],
        skips: list[int],
        prefix_rows: list[int] | None,
        scores: list[float | None],
        store: PrefixKV | None,
    ) -> int:
        batch = collate(
            [pairs[i] for i in indices],
            pad_id=self.pad_id,
            positions=self.positions,
            skip=skips,
            prefix_rows=prefix_rows,
        )
        try:
            values = self.backend.score(batch, store).tolist()
        except Exception as exc:  # only memory exhaustion is retried; anything else propagates
            if not is_out_of_memory(exc):
                raise
            release_device_memory(self.backend.device)
            if len(indices) == 1:
                logger.warning(
                    "a pair of %d tokens ran out of memory even alone", pairs[indices[0]].num_tokens
                )
                return 1
            half = len(indices) // 2
            rows = prefix_rows or None
            return (
                1
                + self._split_on_oom(pairs, indices[:half], skips[:half], rows and rows[:half], scores, store)
                + self._split_on_oom(pairs, indices[half:], skips[half:], rows and rows[half:], scores, store)
            )
        for index, value in zip(indices, values, strict=True):
            scores[index] = float(value)
        return 1


def is_out_of_memory(exc: BaseException) -> bool:
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom_type is not None and isinstance(exc, oom_type)) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def release_device_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
