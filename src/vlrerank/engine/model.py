"""The model stage: batches through the language model and vision tower, read as a yes/no score.

Every backend follows :class:`ScoringBackend` (prefill, score, encode visuals); the engine's own is
:class:`TransformersBackend`. M-RoPE position ids, the model's own rule, are computed here too
(:class:`PairPositions`), though in the requests' threads.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..config import EngineConfig
from .device import to_device
from .loading import LoadedCheckpoint
from .patches import Patcher
from .prefix import PrefixKV, continuation_mask
from .token_batches import Batch
from .types import IMAGE_PAD, MM_IMAGE, MM_TEXT, MM_VIDEO, VIDEO_PAD, EncodedPair, VisualInput
from .vision_tower import VisionEncoder, VisionFeatureCache, VisualFeatures

# cuDNN's attention builds a plan per new input shape (55-400 ms each, reported by FlashInfer and
# SGLang); the engine's shapes change with every request, so by default it is left out.
NON_CUDNN_ATTENTION = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]

# For compiled layers: ``layer_idx`` as a graph input, so that one graph serves every layer; and
# room for the variants the engine needs (vision vs text layers, with or without a prefix cache,
# one row or many: sizes are otherwise dynamic) before dynamo falls back to eager.
COMPILE_SETTINGS: dict[str, Any] = {
    name: value
    for name, value in (("allow_unspec_int_on_nn_module", True), ("recompile_limit", 32))
    if hasattr(torch._dynamo.config, name)  # names differ across PyTorch releases
}


class ScoringBackend(Protocol):
    """What a model does for the engine. Implementations must be safe to call from several threads.

    A backend may also offer ``clear_caches()`` and ``vision_stats()``; the engine uses them when
    present (:meth:`TransformersBackend.clear_caches`, :meth:`TransformersBackend.vision_stats`).
    """

    device: torch.device

    def prefill(self, batch: Batch) -> PrefixKV:
        """Run prefixes (one per row) and keep their keys and values."""
        ...

    def score(self, batch: Batch, prefixes: PrefixKV | None = None) -> torch.Tensor:
        """Relevance logits ``h_last . (W[yes] - W[no])``, float32, one per row, on the CPU.

        With ``prefixes``, row ``i`` continues prefix row ``batch.prefix_rows[i]``.
        """
        ...

    def encode_visuals(self, visuals: Sequence[VisualInput]) -> dict[str, VisualFeatures]:
        """Vision outputs of ``visuals`` by key, each owning its memory (to be kept a while and
        given back in :attr:`Batch.features`)."""
        ...


class TransformersBackend:
    """Runs the language model and vision tower of a Hugging Face ``Qwen3VLModel`` directly.

    The vision stage goes through :class:`VisionEncoder` (each distinct visual once, cached);
    its outputs are placed at the placeholder tokens here, as the model's own forward would.
    The score is ``sigmoid(h_last . (W[yes] - W[no]))`` computed in float32 whatever the model dtype.
    Positions always come with the batch, so the model never writes its mutable ``rope_deltas``;
    a lock serialises forwards, as CUDA streams and the model are shared.
    """

    def __init__(
        self,
        model: Any,
        score_vector: torch.Tensor,
        *,
        device: torch.device,
        dtype: torch.dtype,
        image_pad_id: int,
        video_pad_id: int,
        patcher: Patcher,
        vision_cache_bytes: int = 0,
        patch_budget: int = 65536,
        cudnn_attention: bool = False,
        torch_compile: bool = False,
    ) -> None:
        self.model = model
        self.device = device
        self.dtype = dtype
        self._language_model = model.language_model
        self._embed = self._language_model.get_input_embeddings()
        self._num_layers = len(self._language_model.layers)
        cache = VisionFeatureCache(vision_cache_bytes)
        self.vision = VisionEncoder(
            model.visual, patcher, device=device, cache=cache, patch_budget=patch_budget
        )
        self._placeholder_ids = torch.tensor([image_pad_id, video_pad_id])
        self._score_vector = score_vector.to(device=device, dtype=torch.float32)
        # transformers 5.24 renamed the text model's ``past_key_values`` argument to ``cache``.
        parameters = inspect.signature(self._language_model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self._attention = self._language_model.config._attn_implementation
        self._exclude_cudnn = device.type == "cuda" and not cudnn_attention
        self._lock = threading.Lock()
        self._compiled = torch_compile
        if torch_compile:
            compile_layers(model)

    @classmethod
    def for_checkpoint(cls, checkpoint: LoadedCheckpoint, config: EngineConfig) -> TransformersBackend:
        """The backend of ``checkpoint``'s model, sized by ``config``'s vision and attention settings."""
        tokenizer = checkpoint.tokenizer
        return cls(
            checkpoint.model,
            checkpoint.score_vector,
            device=checkpoint.device,
            dtype=checkpoint.dtype,
            image_pad_id=tokenizer.convert_tokens_to_ids(IMAGE_PAD),
            video_pad_id=tokenizer.convert_tokens_to_ids(VIDEO_PAD),
            patcher=Patcher.for_checkpoint(checkpoint.image_processor, checkpoint.model.config.vision_config),
            vision_cache_bytes=config.vision_cache_mb * 2**20,
            patch_budget=config.vision_patch_budget,
            cudnn_attention=config.cudnn_attention,
            torch_compile=config.torch_compile,
        )

    def vision_stats(self) -> dict[str, int]:
        """Visuals found in the vision cache and visuals the tower ran, since the model loaded."""
        return {"cache_hits": self.vision.cache_hits, "computed": self.vision.computed}

    def clear_caches(self) -> None:
        self.vision.cache.clear()

    @torch.inference_mode()
    def encode_visuals(self, visuals: Sequence[VisualInput]) -> dict[str, VisualFeatures]:
        with self._lock, self._model_settings():
            found = self.vision.features(visuals)
        # Not the cache's copy: a view of a whole chunk's output, which must not stay alive with it.
        return {key: f if self.vision.cache.get(key) is f else f.compact() for key, f in found.items()}

    @torch.inference_mode()
    def prefill(self, batch: Batch) -> PrefixKV:
        store = PrefixKV(self._num_layers, batch.lengths.tolist())
        with self._lock, self._model_settings():
            self._forward(batch, store, None)
        return store

    @torch.inference_mode()
    def score(self, batch: Batch, prefixes: PrefixKV | None = None) -> torch.Tensor:
        if (prefixes is None) != (batch.prefix_rows is None):
            raise ValueError("a batch of continuations needs its prefixes, and only such a batch")
        cache, mask = None, None
        if prefixes is not None and batch.prefix_rows is not None:
            if self._attention not in ("sdpa", "eager"):
                raise ValueError(f"{self._attention} attention takes no prefix masks; use sdpa or eager")
            allowed = continuation_mask(prefixes, batch.prefix_rows, batch.input_ids.shape[1])
            if self._attention == "eager":  # eager attention adds the mask to its scores
                allowed = torch.zeros(allowed.shape, dtype=self.dtype).masked_fill(
                    ~allowed, torch.finfo(self.dtype).min
                )
            cache, mask = prefixes.replay(self._to_device(batch.prefix_rows)), self._to_device(allowed)
        last_token = self._to_device(batch.lengths - 1)
        with self._lock, self._model_settings():
            hidden = self._forward(batch, cache, mask)
            last = hidden[torch.arange(batch.size, device=hidden.device), last_token]
            logits = last.float() @ self._score_vector
        return logits.cpu()

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return to_device(tensor, self.device)

    @contextlib.contextmanager
    def _model_settings(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            if self._exclude_cudnn:  # PyTorch's choice is process-wide; forwards hold the lock meanwhile
                stack.enter_context(sdpa_kernel(NON_CUDNN_ATTENTION))
            if self._compiled:
                stack.enter_context(torch._dynamo.config.patch(COMPILE_SETTINGS))
            yield

    def _forward(self, batch: Batch, cache: Any, mask: torch.Tensor | None) -> torch.Tensor:
        input_ids = self._to_device(batch.input_ids)
        embeds = self._embed(input_ids)
        kwargs: dict[str, Any] = {
            "position_ids": self._to_device(batch.position_ids),
            # Without prefixes the causal mask is enough: right padding sits after every real token.
            "attention_mask": mask,
            "use_cache": False,
        }
        if batch.visuals:
            features = self.vision.features(batch.visuals, known=batch.features)
            ordered = [features[v.key] for v in batch.visuals]
            placeholders = torch.isin(batch.input_ids, self._placeholder_ids)  # on the host: no sync
            values = torch.cat([f.embeds for f in ordered]).to(embeds.dtype)
            if int(placeholders.sum()) != values.shape[0]:  # the prompt and the media disagree: a bug
                raise RuntimeError(f"{int(placeholders.sum())} placeholders for {values.shape[0]} features")
            visual_positions = self._to_device(placeholders)
            embeds = embeds.masked_scatter(visual_positions.unsqueeze(-1), values)
            depth = len(ordered[0].deepstack)
            kwargs["visual_pos_masks"] = visual_positions
            kwargs["deepstack_visual_embeds"] = [
                torch.cat([f.deepstack[layer] for f in ordered]) for layer in range(depth)
            ]
        if cache is not None:
            kwargs[self._cache_argument] = cache
        return self._language_model(inputs_embeds=embeds, **kwargs).last_hidden_state


def compile_layers(model: Any) -> None:
    """``torch.compile`` each decoder layer and vision block of ``model``, in place.

    Compiling layer by layer rather than the whole model keeps control flow (vision chunks,
    DeepStack, prefix caches) in Python; since PyTorch inlines module parameters as graph inputs,
    the layers of one kind share one compiled graph, so compilation costs one layer, not all.
    """
    for layer in model.language_model.layers:
        layer.compile(dynamic=True)
    for block in model.visual.blocks:
        block.compile(dynamic=True)


class PairPositions:
    """M-RoPE position ids of whole pairs, by the model's own rule (``get_rope_index``).

    Text-only pairs count tokens on every axis; pairs with visuals ask the model, one row at a time,
    so padding never enters the computation.
    """

    def __init__(self, model: Any, *, image_pad_id: int, video_pad_id: int) -> None:
        self._rope_index = model.get_rope_index
        self._image_pad_id = image_pad_id
        self._video_pad_id = video_pad_id

    def attach(self, pair: EncodedPair) -> EncodedPair:
        """``pair`` carrying its positions: computed in the request's thread, not the model's."""
        return replace(pair, positions=self(pair))

    def __call__(self, pair: EncodedPair) -> torch.Tensor:
        """``(3, num_tokens)`` positions of ``pair`` (those it carries, when computed beforehand)."""
        if pair.positions is not None:
            return pair.positions
        ids = torch.tensor(pair.input_ids, dtype=torch.long)
        if not pair.spans:
            return torch.arange(len(ids)).unsqueeze(0).expand(3, -1)
        mm_types = torch.full_like(ids, MM_TEXT)
        mm_types[ids == self._image_pad_id] = MM_IMAGE
        mm_types[ids == self._video_pad_id] = MM_VIDEO
        images, videos = pair.images, pair.videos
        positions, _ = self._rope_index(
            ids.unsqueeze(0),
            mm_token_type_ids=mm_types.unsqueeze(0),
            image_grid_thw=torch.tensor([v.grid_thw for v in images], dtype=torch.long) if images else None,
            video_grid_thw=torch.tensor([v.grid_thw for v in videos], dtype=torch.long) if videos else None,
        )
        return positions[:, 0]
