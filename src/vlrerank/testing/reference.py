"""A clean-room reference of the published Qwen3-VL-Reranker algorithm, for parity tests and benchmarks.

Written from the published description (QwenLM/Qwen3-VL-Embedding ``Qwen3VLReranker`` with
qwen-vl-utils and the transformers 4.57 processor), independently of vlrerank's engine: one pair per
forward, the whole chat tokenised as one string, the model deriving its own positions. Two fixes
are applied on purpose, because the published code is broken or imprecise there:
``mm_token_type_ids`` are passed (transformers 5.x needs them for images), and the final logit and
sigmoid are computed in float32.

It imports nothing from vlrerank's engine, inputs or preprocess packages, so a shared mistake
cannot hide: parity between the two is evidence that both follow the published algorithm.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SYSTEM = (
    "Judge whether the Document meets the requirements based on the Query and the Instruct provided. "
    'Note that the answer can only be "yes" or "no".'
)
DEFAULT_INSTRUCTION = "Given a search query, retrieve relevant candidates that answer the query."
FACTOR = 32


def _round(n: float, f: int) -> int:
    return round(n / f) * f


def _resize_rule(h: int, w: int, factor: int, min_pixels: float, max_pixels: float) -> tuple[int, int]:
    hb, wb = max(factor, _round(h, factor)), max(factor, _round(w, factor))
    if hb * wb > max_pixels:
        beta = math.sqrt(h * w / max_pixels)
        hb, wb = math.floor(h / beta / factor) * factor, math.floor(w / beta / factor) * factor
    elif hb * wb < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        hb, wb = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return hb, wb


def _rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGBA":
        bg = Image.new("RGB", img.size, (255, 255, 255))
        bg.paste(img, mask=img.split()[3])
        return bg
    return img.convert("RGB")


def _open(source: Any) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    return Image.open(source)


class ReferenceReranker:
    """Per-pair scoring exactly as the published algorithm, on a local checkpoint directory."""

    def __init__(
        self, model: Any, tokenizer: Any, image_processor: Any, head: torch.Tensor, *, max_length: int = 10240
    ) -> None:
        self.model, self.tokenizer, self.image_processor = model, tokenizer, image_processor
        self.head = head.float()
        self.max_length = max_length
        self.min_pixels, self.max_pixels = 4 * FACTOR * FACTOR, 1800 * FACTOR * FACTOR
        self.total_pixels = 10 * 768 * FACTOR * FACTOR
        self.max_frames = 64

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, max_length: int = 10240, dtype: torch.dtype = torch.float32
    ) -> ReferenceReranker:
        """Load a checkpoint directory the way the published class does."""
        from transformers import AutoTokenizer, Qwen3VLForConditionalGeneration
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        tokenizer = AutoTokenizer.from_pretrained(path)
        lm = Qwen3VLForConditionalGeneration.from_pretrained(path, dtype=dtype).eval()
        vocab = tokenizer.get_vocab()
        w = lm.lm_head.weight.detach()
        head = w[vocab["yes"]].float() - w[vocab["no"]].float()
        return cls(
            lm.model, tokenizer, Qwen2VLImageProcessorPil.from_pretrained(path), head, max_length=max_length
        )

    # -- the published message layout --------------------------------------------------------
    def _content(self, side: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
        def listify(v: Any) -> list[Any]:
            return [] if v is None else (list(v) if isinstance(v, list) else [v])

        texts, images = listify(side.get("text")), listify(side.get("image"))
        video = side.get("video")
        videos = (
            []
            if video is None
            else ([video] if (isinstance(video, str) or not isinstance(video[0], list)) else video)
        )
        content: list[dict[str, Any]] = [{"type": "text", "text": prefix}]
        if not texts and not images and not videos:
            return [*content, {"type": "text", "text": "NULL"}]
        for v in videos:
            content.append({"type": "video", "video": v})
        for img in images:
            content.append({"type": "image", "image": img})
        for t in texts:
            content.append({"type": "text", "text": t})
        return content

    def messages(
        self, query: dict[str, Any], doc: dict[str, Any], instruction: str | None
    ) -> list[dict[str, Any]]:
        contents = [{"type": "text", "text": "<Instruct>: " + (instruction or DEFAULT_INSTRUCTION)}]
        contents += self._content(query, "<Query>:") + self._content(doc, "\n<Document>:")
        return [
            {"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
            {"role": "user", "content": contents},
        ]

    # -- vision, as qwen-vl-utils ------------------------------------------------------------
    def _image(
        self, source: Any, factor: int = FACTOR, lo: float | None = None, hi: float | None = None
    ) -> Image.Image:
        img = _rgb(_open(source))
        h, w = _resize_rule(img.height, img.width, factor, lo or self.min_pixels, hi or self.max_pixels)
        return img.resize((w, h))

    def _video(self, frames: list[Any]) -> tuple[torch.Tensor, list[int], float]:
        if len(frames) > self.max_frames:
            frames = [frames[i] for i in np.linspace(0, len(frames) - 1, self.max_frames, dtype=int)]
        pics = [self._image(f, 64, 4 * 64 * 64, 16384 * 64 * 64) for f in frames]
        if len(pics) % 2:
            pics.append(pics[-1])
        video = torch.stack([torch.from_numpy(np.array(p)).permute(2, 0, 1) for p in pics])
        n, _, h, w = video.shape
        lo = 128 * FACTOR * FACTOR
        hi = max(min(768 * FACTOR * FACTOR, self.total_pixels / n * 2), int(lo * 1.05))
        rh, rw = _resize_rule(h, w, FACTOR, lo, hi)
        out = F.interpolate(video.float(), size=(rh, rw), mode="bicubic", antialias=True, align_corners=False)
        return out.clamp(0, 255).round().float(), list(range(n)), 2.0

    def _file_video(self, path: str, fps: float, max_frames: int) -> tuple[torch.Tensor, list[int], float]:
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            video_fps = float(stream.average_rate or 0)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        total = len(frames)
        lo_n = 4
        hi_n = math.floor(max_frames / 2) * 2
        n = min(min(max(total / video_fps * fps, lo_n), hi_n), total)
        n = math.floor(n / 2) * 2
        idx = torch.linspace(0, total - 1, n).round().long().tolist()
        video = torch.stack([torch.from_numpy(frames[i]).permute(2, 0, 1) for i in idx])
        _, _, h, w = video.shape
        lo = 128 * FACTOR * FACTOR
        hi = max(min(768 * FACTOR * FACTOR, 128000 * FACTOR * FACTOR * 0.9 / n * 2), int(lo * 1.05))
        rh, rw = _resize_rule(h, w, FACTOR, lo, hi)
        out = F.interpolate(video.float(), size=(rh, rw), mode="bicubic", antialias=True, align_corners=False)
        return out.clamp(0, 255).round().float(), idx, video_fps

    def _video_patches(self, video: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        x = video / 255.0
        x = (x - 0.5) / 0.5
        t, _, h, w = x.shape
        gt, gh, gw = t // 2, h // 16, w // 16
        rows = []
        for ti in range(gt):  # loops instead of one reshape: a second, independent derivation
            for bh in range(gh // 2):
                for bw in range(gw // 2):
                    for mh in range(2):
                        for mw in range(2):
                            y, xx = (bh * 2 + mh) * 16, (bw * 2 + mw) * 16
                            rows.append(
                                x[ti * 2 : ti * 2 + 2, :, y : y + 16, xx : xx + 16]
                                .permute(1, 0, 2, 3)
                                .reshape(-1)
                            )
        return torch.stack(rows), [gt, gh, gw]

    # -- the pair ----------------------------------------------------------------------------
    def inputs(
        self,
        query: dict[str, Any],
        doc: dict[str, Any],
        instruction: str | None = None,
        fps: float = 1.0,
        max_frames: int = 64,
    ) -> dict[str, Any]:
        msgs = self.messages(query, doc, instruction)
        text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        images, videos = [], []
        for part in msgs[1]["content"]:
            if part["type"] == "image":
                images.append(self._image(part["image"]))
            elif part["type"] == "video" and isinstance(part["video"], str):
                videos.append(self._file_video(part["video"], fps, max_frames))
            elif part["type"] == "video":
                videos.append(self._video(part["video"]))
        pieces = text.split("<|image_pad|>")
        image_out = (
            self.image_processor(images=images, do_resize=False, return_tensors="pt") if images else None
        )
        text = pieces[0]
        for i, rest in enumerate(pieces[1:]):
            n = int(image_out["image_grid_thw"][i].prod()) // 4  # type: ignore[index]
            text += "<|image_pad|>" * n + rest
        video_pixels, video_grids = [], []
        for frames, indices, fps in videos:
            patches, grid = self._video_patches(frames)
            video_pixels.append(patches)
            video_grids.append(grid)
            secs = [i / fps for i in indices]
            stamps = [(secs[i] + secs[i + 1]) / 2 for i in range(0, len(secs), 2)]
            per_frame = grid[1] * grid[2] // 4
            expansion = "".join(
                f"<{stamps[k]:.1f} seconds><|vision_start|>"
                + "<|placeholder|>" * per_frame
                + "<|vision_end|>"
                for k in range(grid[0])
            )
            text = text.replace("<|vision_start|><|video_pad|><|vision_end|>", expansion, 1)
        text = text.replace("<|placeholder|>", "<|video_pad|>")
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = self._truncate(ids)
        out: dict[str, Any] = {"input_ids": torch.tensor([ids])}
        out["attention_mask"] = torch.ones_like(out["input_ids"])
        ids_t = out["input_ids"]
        image_id = self.tokenizer.convert_tokens_to_ids("<|image_pad|>")
        video_id = self.tokenizer.convert_tokens_to_ids("<|video_pad|>")
        out["mm_token_type_ids"] = (ids_t == image_id).long() + 2 * (ids_t == video_id).long()
        if image_out is not None:
            out["pixel_values"] = image_out["pixel_values"]
            out["image_grid_thw"] = image_out["image_grid_thw"]
        if video_pixels:
            out["pixel_values_videos"] = torch.cat(video_pixels)
            out["video_grid_thw"] = torch.tensor(video_grids)
        return out

    def _truncate(self, ids: list[int]) -> list[int]:
        body, tail = ids[:-5], ids[-5:]
        if len(body) <= self.max_length:
            return ids
        special = set(self.tokenizer.all_special_ids)
        keep = self.max_length - sum(t in special for t in body)
        out, kept = [], 0
        for t in body:
            if t in special:
                out.append(t)
            elif kept < keep:
                out.append(t)
                kept += 1
        return out + tail

    @torch.no_grad()
    def score(
        self, query: dict[str, Any], doc: dict[str, Any], instruction: str | None = None, **video: Any
    ) -> float:
        device = self.head.device
        inputs = {k: v.to(device) for k, v in self.inputs(query, doc, instruction, **video).items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        if "pixel_values_videos" in inputs:
            inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(self.model.dtype)
        h = self.model(**inputs).last_hidden_state[:, -1]
        return float(torch.sigmoid(h.float() @ self.head))

    def process(self, request: dict[str, Any]) -> list[float]:
        video = {"fps": request.get("fps") or 1.0, "max_frames": request.get("max_frames") or 64}
        return [
            self.score(request["query"], d, request.get("instruction"), **video) for d in request["documents"]
        ]
