"""Group pairs into forward batches under a token budget, and collate them into tensors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .types import EncodedPair, VisualInput

if TYPE_CHECKING:
    from .vision_tower import VisualFeatures


def default_token_budget(model: Any) -> int:
    """Tokens per forward sized to the model, for ``EngineConfig.token_budget=None``.

    Without a backward pass a forward's largest transients are its MLP's, about four
    (tokens x intermediate size) tensors at once. The budget is the largest power of two that
    keeps them within a tenth of the weights, between 8,192 and 32,768 tokens: 8,192 for
    Qwen3-VL-2B and 16,384 for 8B. (``benchmarks/activation_memory.py`` measures the whole peak.)
    """
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    itemsize = next(model.parameters()).element_size()
    per_token = 4 * model.config.text_config.intermediate_size * itemsize
    budget = 8192
    while budget < 32768 and 2 * budget * per_token <= weights / 10:
        budget *= 2
    return budget


def pack_batches(lengths: Sequence[int], *, token_budget: int, max_pairs: int) -> list[list[int]]:
    """Indices of pairs per batch, longest first, so that rows x longest row <= ``token_budget``.

    Sorting by length keeps padding low; a pair longer than the budget still gets its own batch.

    Example:
        >>> pack_batches([5, 100, 7, 90], token_budget=200, max_pairs=8)
        [[1, 3], [2, 0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for index in order:
        if batches:
            current = batches[-1]
            longest = lengths[current[0]]
            if len(current) < max_pairs and (len(current) + 1) * longest <= token_budget:
                current.append(index)
                continue
        batches.append([index])
    return batches


@dataclass(frozen=True)
class Batch:
    """Right-padded model inputs: row ``i`` holds pair ``i``'s tokens after its first ``skip[i]``.

    With ``prefix_rows`` the rows continue prefixes run before (row ``i`` continues prefix row
    ``prefix_rows[i]``, whose length is ``skip[i]``; see :mod:`vlrerank.engine.prefix`) and their
    positions continue the whole pair's. Right padding keeps every real token ahead of the
    padding, so no real token attends to padding and each row is read at its last real token.
    """

    input_ids: torch.Tensor  # (rows, width)
    lengths: torch.Tensor  # (rows,) real tokens per row
    position_ids: torch.Tensor  # (3, rows, width)
    visuals: tuple[VisualInput, ...]  # the visuals whose placeholders are in the rows, in token order
    prefix_rows: torch.Tensor | None = None
    # Vision outputs of some of ``visuals`` computed beforehand, by key; the model runs the rest.
    features: Mapping[str, VisualFeatures] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])


def collate(
    pairs: Sequence[EncodedPair],
    *,
    pad_id: int,
    positions: Callable[[EncodedPair], torch.Tensor],
    skip: Sequence[int] | None = None,
    prefix_rows: Sequence[int] | None = None,
    known: Mapping[str, VisualFeatures] | None = None,
) -> Batch:
    """Rows of ``pairs``, each without its first ``skip[i]`` tokens (a prefix run before).

    ``known`` vision outputs (by visual key) travel with the batch for the visuals it holds.
    """
    skips = list(skip) if skip is not None else [0] * len(pairs)
    counts = [p.num_tokens - s for p, s in zip(pairs, skips, strict=True)]
    width = max(counts)
    input_ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((3, len(pairs), width), dtype=torch.long)
    for row, (pair, start, count) in enumerate(zip(pairs, skips, counts, strict=True)):
        input_ids[row, :count] = torch.tensor(pair.input_ids[start:], dtype=torch.long)
        position_ids[:, row, :count] = positions(pair)[:, start:]
    visuals = tuple(
        span.visual
        for pair, start in zip(pairs, skips, strict=True)
        for span in pair.spans
        if span.start >= start
    )
    rows = torch.tensor(list(prefix_rows), dtype=torch.long) if prefix_rows is not None else None
    features = {v.key: known[v.key] for v in visuals if v.key in known} if known else {}
    return Batch(input_ids, torch.tensor(counts, dtype=torch.long), position_ids, visuals, rows, features)
