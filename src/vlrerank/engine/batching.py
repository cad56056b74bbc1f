"""Group pairs into forward batches under a token budget, and collate them into tensors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .encode import MM_IMAGE, MM_TEXT, MM_VIDEO, EncodedPair


def plan_batches(lengths: Sequence[int], *, token_budget: int, max_pairs: int) -> list[list[int]]:
    """Indices of pairs per batch, longest first, so that rows x longest row <= ``token_budget``.

    Sorting by length keeps padding low; a pair longer than the budget still gets its own batch.

    Example:
        >>> plan_batches([5, 100, 7, 90], token_budget=200, max_pairs=8)
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
    """Left-padded model inputs for several pairs (``position_ids`` are added by the backend)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    mm_token_type_ids: torch.Tensor
    pixel_values: torch.Tensor | None
    image_grid_thw: torch.Tensor | None
    pixel_values_videos: torch.Tensor | None
    video_grid_thw: torch.Tensor | None

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])


def collate(pairs: Sequence[EncodedPair], *, pad_id: int, image_pad_id: int, video_pad_id: int) -> Batch:
    longest = max(p.num_tokens for p in pairs)
    input_ids = torch.full((len(pairs), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(pairs), longest), dtype=torch.long)
    for row, pair in enumerate(pairs):
        ids = torch.tensor(pair.input_ids, dtype=torch.long)
        input_ids[row, longest - len(ids) :] = ids
        attention_mask[row, longest - len(ids) :] = 1
    mm_types = torch.full_like(input_ids, MM_TEXT)
    mm_types[(input_ids == image_pad_id) & (attention_mask == 1)] = MM_IMAGE
    mm_types[(input_ids == video_pad_id) & (attention_mask == 1)] = MM_VIDEO
    images = [v for p in pairs for v in p.images]
    videos = [v for p in pairs for v in p.videos]
    return Batch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        mm_token_type_ids=mm_types,
        pixel_values=torch.cat([v.pixel_values for v in images]) if images else None,
        image_grid_thw=torch.tensor([v.grid_thw for v in images], dtype=torch.long) if images else None,
        pixel_values_videos=torch.cat([v.pixel_values for v in videos]) if videos else None,
        video_grid_thw=torch.tensor([v.grid_thw for v in videos], dtype=torch.long) if videos else None,
    )
