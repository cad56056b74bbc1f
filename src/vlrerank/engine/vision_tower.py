"""The vision stage: visuals (images and videos) through the vision tower, each distinct one once.

Outputs are keyed by :attr:`VisualInput.key` (a fingerprint of the patch values and grid), so a
visual that appears twice in a batch, in every pair of a request, or in the next request, costs
one vision pass. A bounded LRU keeps outputs on the device between batches and requests.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .device import to_device
from .patches import Patcher
from .types import VisualInput


@dataclass(frozen=True)
class VisualFeatures:
    """What the language model takes from one visual: merged embeddings and DeepStack features."""

    embeds: torch.Tensor  # (placeholder tokens, hidden)
    deepstack: tuple[torch.Tensor, ...]  # one (placeholder tokens, hidden) per DeepStack layer

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.embeds, *self.deepstack))

    def compact(self) -> VisualFeatures:
        """A copy that owns its memory (a split view would keep its whole batch's output alive)."""
        return VisualFeatures(self.embeds.clone(), tuple(t.clone() for t in self.deepstack))


class VisionFeatureCache:
    """A least-recently-used map from content key to features, bounded in bytes (0 keeps nothing)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, VisualFeatures] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> VisualFeatures | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, features: VisualFeatures) -> VisualFeatures:
        """Keep ``features`` if they fit; returns what callers should hold from now on (the kept
        copy, so that the batch output it came from can be freed)."""
        size = features.nbytes
        if size > self.max_bytes:
            return features
        features = features.compact()
        with self._lock:
            if key in self._items:
                return self._items[key]
            self._items[key] = features
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
        return features

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes


class VisionEncoder:
    """Runs a Qwen3-VL vision tower on distinct visuals, in chunks of at most ``patch_budget`` patches."""

    def __init__(
        self,
        visual: Any,
        patcher: Patcher,
        *,
        device: torch.device,
        cache: VisionFeatureCache,
        patch_budget: int,
    ):
        self.visual = visual
        self.patcher = patcher
        self.device = device
        self.cache = cache
        self.patch_budget = patch_budget
        self.merge = int(visual.spatial_merge_size)
        # Since load: visuals found in the cache, and visuals the tower ran (for /metrics).
        self._count_lock = threading.Lock()
        self.cache_hits = 0
        self.computed = 0

    def features(
        self, visuals: Sequence[VisualInput], known: Mapping[str, VisualFeatures] | None = None
    ) -> dict[str, VisualFeatures]:
        """Features of every visual, by key; each distinct key reaches the tower at most once.

        ``known`` features (sent ahead by this or another request) are used as they are: they
        were counted when computed.
        """
        found: dict[str, VisualFeatures] = {}
        missing: dict[str, VisualInput] = {}
        for visual in visuals:
            if visual.key in found or visual.key in missing:
                continue
            if known and visual.key in known:
                found[visual.key] = known[visual.key]
                continue
            cached = self.cache.get(visual.key)
            with self._count_lock:
                if cached is not None:
                    self.cache_hits += 1
                else:
                    self.computed += 1
            if cached is not None:
                found[visual.key] = cached
            else:
                missing[visual.key] = visual
        for chunk in _chunks(list(missing.values()), self.patch_budget):
            for visual, features in zip(chunk, self._run(chunk), strict=True):
                found[visual.key] = self.cache.put(visual.key, features)
        return found

    def _run(self, chunk: Sequence[VisualInput]) -> list[VisualFeatures]:
        # Cast one visual at a time: the float32 patches of a whole chunk never exist at once.
        pixels = torch.cat([self._patches(v).to(self.visual.dtype) for v in chunk])
        grid = to_device(torch.tensor([v.grid_thw for v in chunk], dtype=torch.long), self.device)
        out = self.visual(pixels, grid_thw=grid, return_dict=True)
        sizes = [t * h * w // self.merge**2 for t, h, w in (v.grid_thw for v in chunk)]
        embeds = torch.split(out.pooler_output, sizes)
        deepstack = [torch.split(layer, sizes) for layer in out.deepstack_features]
        return [VisualFeatures(embeds[i], tuple(layer[i] for layer in deepstack)) for i in range(len(chunk))]

    def _patches(self, visual: VisualInput) -> torch.Tensor:
        if visual.patches is not None:
            return to_device(visual.patches, self.device)
        return self.patcher.patches(to_device(visual.frames, self.device), is_video=visual.is_video)


def _chunks(visuals: list[VisualInput], patch_budget: int) -> list[list[VisualInput]]:
    chunks: list[list[VisualInput]] = []
    size = 0
    for visual in visuals:
        patches = visual.num_patches
        if chunks and size + patches <= patch_budget:
            chunks[-1].append(visual)
            size += patches
        else:
            chunks.append([visual])
            size = patches
    return chunks
