"""GPU stage: run a batch through the model and read the yes/no score. Backends share one Protocol."""

from __future__ import annotations

import threading
from typing import Any, Protocol

import torch

from .batching import Batch


class ScoringBackend(Protocol):
    """Scores collated batches. Implementations must be safe to call from several threads."""

    device: torch.device

    def score(self, batch: Batch) -> torch.Tensor:
        """Relevance probabilities, float32, one per row, on the CPU."""
        ...


class TransformersBackend:
    """Runs a Hugging Face ``Qwen3VLModel`` (the base model, without its LM head).

    The score is ``sigmoid(h_last . (W[yes] - W[no]))`` computed in float32 whatever the model dtype.
    Position ids are always computed here with the model's own M-RoPE rule and passed in: left
    padding then gives correct positions for text-only rows too, and the model never writes its
    mutable ``rope_deltas``. A lock still serialises forwards, as CUDA streams are shared.
    """

    def __init__(
        self, model: Any, score_vector: torch.Tensor, *, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.model = model
        self.device = device
        self.dtype = dtype
        self._score_vector = score_vector.to(device=device, dtype=torch.float32)
        self._lock = threading.Lock()

    def position_ids(self, batch: Batch) -> torch.Tensor:
        if batch.image_grid_thw is None and batch.video_grid_thw is None:
            # Text only: every M-RoPE axis counts real tokens (what get_rope_index computes, faster).
            mask = batch.attention_mask
            positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
            return positions.unsqueeze(0).expand(3, -1, -1)
        position_ids, _ = self.model.get_rope_index(
            batch.input_ids,
            mm_token_type_ids=batch.mm_token_type_ids,
            image_grid_thw=batch.image_grid_thw,
            video_grid_thw=batch.video_grid_thw,
            attention_mask=batch.attention_mask,
        )
        return position_ids

    @torch.inference_mode()
    def score(self, batch: Batch) -> torch.Tensor:
        position_ids = self.position_ids(batch)
        dev = self.device
        kwargs: dict[str, Any] = {
            "input_ids": batch.input_ids.to(dev),
            "attention_mask": batch.attention_mask.to(dev),
            "position_ids": position_ids.to(dev),
            "mm_token_type_ids": batch.mm_token_type_ids.to(dev),
            "use_cache": False,
        }
        if batch.pixel_values is not None:
            kwargs["pixel_values"] = batch.pixel_values.to(dev, self.dtype)
            kwargs["image_grid_thw"] = batch.image_grid_thw.to(dev)  # type: ignore[union-attr]
        if batch.pixel_values_videos is not None:
            kwargs["pixel_values_videos"] = batch.pixel_values_videos.to(dev, self.dtype)
            kwargs["video_grid_thw"] = batch.video_grid_thw.to(dev)  # type: ignore[union-attr]
        with self._lock:
            hidden = self.model(**kwargs).last_hidden_state[:, -1]
        logits = hidden.float() @ self._score_vector
        return torch.sigmoid(logits).cpu()
