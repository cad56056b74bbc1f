"""The forward plan: which pairs share a prefix, how rows are batched, and what happens on OOM."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass

import torch

from .device import is_out_of_memory, release_device_memory
from .model import ScoringBackend
from .prefix import PrefixKV, shared_prefix_length, worth_sharing
from .token_batches import Batch, collate, pack_batches
from .types import EncodedPair
from .vision_tower import VisualFeatures

logger = logging.getLogger(__name__)

Logits = dict[int, float]  # pair index -> logit; a pair missing ran out of memory even alone


@dataclass(frozen=True)
class _Group:
    """Pairs with the same instruction and query, and how many leading tokens they share."""

    indices: list[int]
    prefix: int


@dataclass(frozen=True)
class _Rows:
    """Rows of one batch: pair ``indices[j]`` without its first ``skips[j]`` tokens, continuing
    prefix row ``prefix_rows[j]`` when the batch continues prefixes."""

    indices: list[int]
    skips: list[int]
    prefix_rows: list[int] | None

    def __len__(self) -> int:
        return len(self.indices)

    def take(self, positions: Sequence[int]) -> _Rows:
        rows = self.prefix_rows
        return _Rows(
            [self.indices[j] for j in positions],
            [self.skips[j] for j in positions],
            [rows[j] for j in positions] if rows is not None else None,
        )


@dataclass(frozen=True)
class ForwardPlan:
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

    backend: ScoringBackend
    positions: Callable[[EncodedPair], torch.Tensor]
    _: KW_ONLY
    pad_id: int
    token_budget: int
    max_pairs: int
    prefix_reuse: bool
    prefix_min_saved: int = 0

    def run(
        self, pairs: Sequence[EncodedPair], known: Mapping[str, VisualFeatures] | None = None
    ) -> tuple[list[float | None], int]:
        """Logits in input order (``None`` for a pair that ran out of memory alone) and forwards run.

        ``known`` holds vision outputs computed beforehand, by visual key.
        """
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
        run = _Run(self, pairs, known or {})
        logits: Logits = {}
        forwards = 0
        for batch in pack_batches(
            [g.prefix for g in shared], token_budget=self.token_budget, max_pairs=self.max_pairs
        ):
            done, count, unshared = run.with_prefixes([shared[i] for i in batch])
            logits |= done
            forwards += count
            whole += unshared
        done, count = run.batched(_Rows(whole, [0] * len(whole), None), None)
        logits |= done
        return [logits.get(i) for i in range(len(pairs))], forwards + count


@dataclass(frozen=True)
class _Run:
    """One call of :meth:`ForwardPlan.run`: its pairs, and vision outputs computed beforehand."""

    plan: ForwardPlan
    pairs: Sequence[EncodedPair]
    known: Mapping[str, VisualFeatures]

    def with_prefixes(self, groups: list[_Group]) -> tuple[Logits, int, list[int]]:
        """Logits and forwards of ``groups`` run as prefixes and continuations, and the pairs of
        groups whose prefix did not fit (to be run whole)."""
        heads = []
        for group in groups:
            head = self.pairs[group.indices[0]]
            spans = tuple(s for s in head.spans if s.end <= group.prefix)
            # M-RoPE positions only count what came before: a prefix's are the first of the pair's.
            positions = head.positions[:, : group.prefix] if head.positions is not None else None
            heads.append(EncodedPair(head.input_ids[: group.prefix], spans, positions=positions))
        backend = self.plan.backend
        try:
            store = backend.prefill(self.collate(heads, [0] * len(heads), None))
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            release_device_memory(backend.device)
            if len(groups) == 1:
                logger.warning(
                    "a shared prefix of %d tokens ran out of memory; scoring pairs whole", groups[0].prefix
                )
                return {}, 1, groups[0].indices
            half = len(groups) // 2
            first, first_count, first_whole = self.with_prefixes(groups[:half])
            second, second_count, second_whole = self.with_prefixes(groups[half:])
            return first | second, 1 + first_count + second_count, first_whole + second_whole
        rows = [(i, k) for k, group in enumerate(groups) for i in group.indices]
        prefix_rows = [k for _, k in rows]
        skips = [store.lengths[k] for k in prefix_rows]
        logits, count = self.batched(_Rows([i for i, _ in rows], skips, prefix_rows), store)
        return logits, 1 + count, []

    def batched(self, rows: _Rows, store: PrefixKV | None) -> tuple[Logits, int]:
        """Continuations of ``store``'s prefixes, or whole pairs, in batches under the budget."""
        batches = pack_batches(
            [self.pairs[i].num_tokens - skip for i, skip in zip(rows.indices, rows.skips, strict=True)],
            token_budget=self.plan.token_budget,
            max_pairs=self.plan.max_pairs,
        )
        logits: Logits = {}
        forwards = 0
        for batch in batches:
            done, count = self.split_on_oom(rows.take(batch), store)
            logits |= done
            forwards += count
        return logits, forwards

    def split_on_oom(self, rows: _Rows, store: PrefixKV | None) -> tuple[Logits, int]:
        batch = self.collate([self.pairs[i] for i in rows.indices], rows.skips, rows.prefix_rows)
        backend = self.plan.backend
        try:
            values = backend.score(batch, store).tolist()
        except Exception as exc:  # only memory exhaustion is retried; anything else propagates
            if not is_out_of_memory(exc):
                raise
            release_device_memory(backend.device)
            if len(rows) == 1:
                tokens = self.pairs[rows.indices[0]].num_tokens
                logger.warning("a pair of %d tokens ran out of memory even alone", tokens)
                return {}, 1
            half = len(rows) // 2
            first, first_count = self.split_on_oom(rows.take(range(half)), store)
            second, second_count = self.split_on_oom(rows.take(range(half, len(rows))), store)
            return first | second, 1 + first_count + second_count
        return {index: float(value) for index, value in zip(rows.indices, values, strict=True)}, 1

    def collate(self, pairs: list[EncodedPair], skips: list[int], prefix_rows: list[int] | None) -> Batch:
        return collate(
            pairs,
            pad_id=self.plan.pad_id,
            positions=self.plan.positions,
            skip=skips,
            prefix_rows=prefix_rows,
            known=self.known,
        )
