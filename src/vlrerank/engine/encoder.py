"""CPU stage: decode, check and size each side's visuals once, then build every pair's model inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..config import EngineConfig
from ..inputs.images import ImageLimits
from ..inputs.schema import MultimodalInput, VideoSource
from ..inputs.video import decode_video_file
from ..preprocess.choices import PreprocessConfig
from ..preprocess.hygiene import decode
from ..preprocess.model_sizing import PreparedVideo, video_from_frames, video_from_tensor
from ..preprocess.pipeline import process_image
from ..preprocess.provenance import ImageProvenance, Step
from .patches import Patcher
from .prompt import PromptTokenizer
from .types import (
    IMAGE_PAD,
    VIDEO_PAD,
    VISION_END,
    VISION_START,
    EncodedPair,
    PreparedSide,
    VisualInput,
    VisualSpan,
)


class PairEncoder:
    """Turns validated inputs into :class:`EncodedPair` objects for one checkpoint."""

    def __init__(
        self,
        prompt: PromptTokenizer,
        image_processor: Any,
        config: EngineConfig,
        *,
        patcher: Patcher,
        patch_in_prepare: bool,
    ) -> None:
        self.prompt = prompt
        self.image_processor = image_processor
        self._config = config
        self.patcher = patcher
        # CPU engines patch here, in parallel threads; GPU engines copy uint8 frames and patch there.
        self.patch_in_prepare = patch_in_prepare
        self._placeholder_ids = frozenset({prompt.special_id(IMAGE_PAD), prompt.special_id(VIDEO_PAD)})
        self._limits = ImageLimits.of(config)

    # -- visuals ---------------------------------------------------------------------------
    def prepare_side(
        self,
        side: MultimodalInput,
        field: str,
        *,
        fps: float,
        max_frames: int,
        preprocess: PreprocessConfig | None = None,
    ) -> PreparedSide:
        videos = tuple(
            self._video(v, _indexed(f"{field}.video", i, len(side.videos)), fps, max_frames)
            for i, v in enumerate(side.videos)
        )
        images = tuple(
            self.prepare_image(img, _indexed(f"{field}.image", i, len(side.images)), preprocess)
            for i, img in enumerate(side.images)
        )
        return PreparedSide(side, videos, images)

    def prepare_image(self, source: Any, field: str, preprocess: PreprocessConfig | None) -> VisualInput:
        """One image decoded, checked, sized (``preprocess``, then the pixel bounds) and patched."""
        processed = process_image(
            source,
            field=field,
            config=preprocess,
            limits=self._limits,
            min_pixels=self._config.min_pixels,
            max_pixels=self._config.max_pixels,
        )
        image = processed.model_image
        rgb = np.array(image.convert("RGB"))  # a writable copy: torch refuses read-only arrays
        frames = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()
        grid = self.patcher.grid(1, image.height, image.width)
        tokens = grid[1] * grid[2] // (self.patcher.merge_size**2)
        filler = VISION_START + IMAGE_PAD * tokens + VISION_END
        return self._visual(frames, grid, filler, processed.provenance, is_video=False)

    def _visual(
        self,
        frames: torch.Tensor,
        grid: tuple[int, int, int],
        filler: str,
        provenance: ImageProvenance,
        *,
        is_video: bool,
    ) -> VisualInput:
        patches = self.patcher.patches(frames, is_video=is_video) if self.patch_in_prepare else None
        return VisualInput(frames, grid, filler, provenance, is_video=is_video, patches=patches)

    def _video(self, source: VideoSource, field: str, fps: float, max_frames: int) -> VisualInput:
        if isinstance(source, str):
            decoded = decode_video_file(
                source,
                fps=fps,
                max_frames=max_frames,
                field=field,
                media_root=self._config.media_root,
                max_frame_pixels=self._config.max_image_pixels,
            )
            prepared = video_from_tensor(
                decoded.frames, fps=decoded.fps, frame_indices=decoded.frame_indices, field=field
            )
            original = (int(decoded.frames.shape[-1]), int(decoded.frames.shape[-2]))
        else:
            sources = source
            # The reference thins frame lists with the engine-wide max_frames, not the request's.
            limit = self._config.max_frames
            if len(sources) > limit:
                sources = tuple(sources[i] for i in np.linspace(0, len(sources) - 1, limit, dtype=int))
            frames = [decode(f, field=f"{field}[{i}]", limits=self._limits) for i, f in enumerate(sources)]
            prepared = video_from_frames(
                [item.image for item in frames], total_pixels=self._config.video_total_pixels, field=field
            )
            original = (frames[0].width, frames[0].height)
        count, _, height, width = prepared.frames.shape
        grid = self.patcher.grid(count, height, width)
        t, h, w = grid
        per_frame = h * w // (self.patcher.merge_size**2)
        stamps = _timestamps(prepared, self.patcher.temporal_patch_size)
        filler = "".join(
            f"<{stamps[i]:.1f} seconds>" + VISION_START + VIDEO_PAD * per_frame + VISION_END for i in range(t)
        )
        provenance = ImageProvenance(
            field=field,
            original_width=original[0],
            original_height=original[1],
            output_width=width,
            output_height=height,
            model_width=width,
            model_height=height,
            visual_tokens=per_frame * t,
            steps=(Step("video_frames", {"frames": count, "temporal_patches": t}),),
        )
        return self._visual(prepared.frames, grid, filler, provenance, is_video=True)

    # -- pairs -----------------------------------------------------------------------------
    def encode_pair(self, instruction: str, query: PreparedSide, document: PreparedSide) -> EncodedPair:
        q, d = query.source, document.source
        rendered = self.prompt.render(
            (len(q.texts), len(q.images), len(q.videos)), (len(d.texts), len(d.images), len(d.videos))
        )
        user_text = [instruction, *q.texts, *d.texts]
        # Slots appear in chat order: query videos, query images, document videos, document images.
        ordered = query.visuals + document.visuals
        ids = self.prompt.encode(rendered, [v.slot_filler for v in ordered], user_text)
        ids = self.prompt.truncate(ids, self._config.max_length)
        group = (instruction, q.texts, tuple(v.key for v in query.visuals))
        return EncodedPair(tuple(ids), _spans(ids, ordered, self._placeholder_ids), group)


def _spans(
    ids: list[int], ordered: tuple[VisualInput, ...], placeholder_ids: frozenset[int]
) -> tuple[VisualSpan, ...]:
    """Token spans of ``ordered`` visuals: an image is one run of placeholders, a video one per
    temporal patch (its timestamps and vision markers in between belong to the span)."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(ids):
        if ids[i] in placeholder_ids:
            start = i
            while i < len(ids) and ids[i] in placeholder_ids:
                i += 1
            runs.append((start, i))
        else:
            i += 1
    spans, taken = [], 0
    for visual in ordered:
        count = visual.grid_thw[0] if visual.is_video else 1
        own = runs[taken : taken + count]
        taken += count
        spans.append(VisualSpan(own[0][0], own[-1][1], visual))
    if taken != len(runs):  # the prompt and the visuals disagree: a bug, never user input
        raise AssertionError(f"{len(runs)} placeholder runs for {taken} expected")
    return tuple(spans)


def _timestamps(video: PreparedVideo, temporal_patch_size: int) -> list[float]:
    seconds = [i / video.fps for i in video.frame_indices]
    while len(seconds) % temporal_patch_size:
        seconds.append(seconds[-1])
    return [
        (seconds[i] + seconds[i + temporal_patch_size - 1]) / 2
        for i in range(0, len(seconds), temporal_patch_size)
    ]


def _indexed(field: str, index: int, count: int) -> str:
    return field if count == 1 else f"{field}[{index}]"
