"""The web UI: instruction, mixed query, up to 10 candidates, settings, ranked results."""

from __future__ import annotations

import os
import time
from typing import Any

import gradio as gr

from ...checkpoints import RANDOM_WEIGHTS_WARNING, TINY_MODEL_NAME, is_random_checkpoint
from ...config import DEFAULT_INSTRUCTION
from ...errors import ConfigError, VlrerankError
from ...preprocess.choices import INTERPOLATIONS, PRESETS, PreprocessConfig, QualityPolicy, size_from_text
from ..audit import FIELDS as AUDIT_FIELDS
from ..http_errors import status_of
from ..schemas import PreprocessOptions, RerankRequest
from ..service import RerankService
from . import render
from .uploads import UploadGuard

SIZE_CHOICES = [*PRESETS, "custom"]


def preprocess_from(mode: str, preset: str, custom: str, interpolation: str, blur: float) -> PreprocessConfig:
    """The settings area's choices as a config (validated by PreprocessConfig itself)."""
    options: dict[str, Any] = {"interpolation": interpolation, "blur_sigma": blur}
    if preset == "document":  # keeps the native size; only widens narrow pages
        return PreprocessConfig(preset="document", **options)
    if mode == "native":
        return PreprocessConfig(blur_sigma=blur)
    if preset == "custom":
        try:
            size = size_from_text(custom)
        except ValueError:
            raise ConfigError(f"custom size must look like 1024x768, got {custom!r}") from None
        return PreprocessConfig(mode=mode, size=size, **options)  # type: ignore[arg-type]
    return PreprocessConfig(mode=mode, preset=preset, **options)  # type: ignore[arg-type]


def build(service: RerankService, *, logout: bool = False) -> gr.Blocks:
    limit = service.settings.ui_max_documents

    async def rerank(
        instruction: str,
        query_text: str,
        query_image: str | None,
        query_frames: list[str] | None,
        candidate_files: list[str] | None,
        candidate_texts: str,
        mode: str,
        preset: str,
        custom: str,
        interpolation: str,
        blur: float,
        threshold: float,
        policy: str,
        explain: bool,
        instruction_b: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented pattern
    ) -> str:
        files = list(candidate_files or [])
        texts = [line.strip() for line in (candidate_texts or "").splitlines() if line.strip()]
        # The page's files travel as the REST upload route's do (``upload:NAME``), so the service
        # applies the same limits to them; typed text stays explicit text, as the API's does.
        labels = [os.path.basename(p) for p in files] + texts
        if not labels:
            return render.error("Add at least one candidate: drop images or type text snippets.")
        if len(labels) > limit:
            return render.error(f"At most {limit} candidates per request; got {len(labels)}.")
        uploads: dict[str, bytes] = {}
        documents: list[Any] = [{"image": _upload(path, uploads)} for path in files]
        documents += [{"text": t} for t in texts]
        query: dict[str, Any] = {}
        if query_text and query_text.strip():
            query["text"] = query_text
        if query_image:
            query["image"] = _upload(query_image, uploads)
        if query_frames:
            query["video"] = [_upload(frame, uploads) for frame in query_frames]
        if not query:
            return render.error("Give a query: text, an image, video frames, or a mix.")
        # The key the page's HTTP request was let in with (auth.AccessControl): same quotas as the API.
        state = getattr(getattr(request, "request", None), "state", None)
        key = getattr(state, "api_key", None)
        record: dict[str, Any] = {"dialect": "ui", "documents": len(documents)}
        status, start = 200, time.perf_counter()
        try:
            config = preprocess_from(mode, preset, custom, interpolation, blur)
            quality = QualityPolicy(mode=policy, threshold=threshold)  # type: ignore[arg-type]
            body = RerankRequest.model_validate(
                {
                    "query": query,
                    "documents": documents,
                    "instruction": instruction or None,
                    "preprocess": {f: getattr(config, f) for f in PreprocessOptions.model_fields},
                    "quality": {"policy": quality.mode, "threshold": quality.threshold},
                    "explain": explain,
                }
            )
            compare = bool(instruction_b and instruction_b.strip())
            progress(0.1, desc="scoring")
            ranking = await service.rank(
                body,
                max_documents=limit,
                uploads=uploads,
                key=key,
                record=record,
                also_instructions=(instruction_b,) if compare else (),
            )
            ranked = ranking.ranked
            second = ranking.also[0] if compare else None
        except VlrerankError as exc:  # a message for the person, never a traceback
            status = status_of(exc)
            return render.error(str(exc))
        finally:
            service.audit.write(
                {
                    "request_id": getattr(state, "request_id", None),  # of the queue/join request
                    "key": key.name if key else None,
                    "method": "POST",
                    "route": "ui:rerank",
                    **{field: record.get(field) for field in AUDIT_FIELDS},
                    "status": status,
                    "latency_ms": round((time.perf_counter() - start) * 1000, 2),
                }
            )
        thumbnails = {i: render.thumbnail(path) for i, path in enumerate(files)}
        warning = RANDOM_WEIGHTS_WARNING if ranked.random_weights else None
        if second is not None:
            return render.comparison(ranked, second, labels, thumbnails, warning)
        return render.results(ranked, labels, thumbnails, warning)

    with gr.Blocks(title="vlrerank", analytics_enabled=False) as blocks:
        gr.Markdown(
            "## vlrerank — multimodal reranking\n"
            f"Model: `{service.model_name}`. REST API at `/v1/rerank`, docs at `/docs`."
            + (" [Log out](/logout)" if logout else "")
            + (f"\n\n**{RANDOM_WEIGHTS_WARNING}**" if _random_model(service.model_name) else "")
            + _calibration_note(service)
        )
        instruction = gr.Textbox(label="Instruction", value=DEFAULT_INSTRUCTION, elem_id="instruction")
        instruction_b = gr.Textbox(
            label="Compare with a second instruction (optional: both rankings side by side)",
            elem_id="instruction-b",
        )
        with gr.Row():
            query_text = gr.Textbox(label="Query text", elem_id="query-text")
            query_image = gr.Image(
                label="Query image", type="filepath", sources=["upload"], elem_id="query-image"
            )
            query_frames = gr.File(
                label="Query video frames",
                file_count="multiple",
                file_types=["image"],
                elem_id="query-frames",
            )
        with gr.Row():
            candidates = gr.File(
                label=f"Candidate images or PDFs (drag and drop, up to {limit})",
                file_count="multiple",
                file_types=["image", ".pdf"],
                elem_id="candidates",
            )
            candidate_texts = gr.Textbox(
                label="Candidate text snippets (one per line)", lines=5, elem_id="texts"
            )
        facts = gr.HTML(render.file_facts(None), elem_id="image-facts")
        with gr.Accordion("Settings", open=True):
            with gr.Row():
                mode = gr.Radio(["native", "fit", "crop", "stretch"], value="native", label="Resize Mode")
                preset = gr.Dropdown(SIZE_CHOICES, value="general", label="Target size")
                custom = gr.Textbox(label="Custom size (WxH)", value="1024x768")
                interpolation = gr.Dropdown(list(INTERPOLATIONS), value="bicubic", label="Interpolation")
            with gr.Row():
                blur = gr.Slider(0, 3, value=0, step=0.1, label="Blur σ")
                threshold = gr.Slider(
                    0, 1, value=0.65, step=0.01, label="Quality Threshold", elem_id="quality-threshold"
                )
                policy = gr.Radio(["off", "reject", "penalize"], value="reject", label="Quality policy")
                explain = gr.Checkbox(value=True, label="Measure sub-scores")
        button = gr.Button("Rerank", variant="primary", elem_id="rerank")
        output = gr.HTML(elem_id="results")
        candidates.change(render.file_facts, inputs=candidates, outputs=facts)
        button.click(
            rerank,
            inputs=[instruction, query_text, query_image, query_frames, candidates, candidate_texts,
                    mode, preset, custom, interpolation, blur, threshold, policy, explain, instruction_b],
            outputs=output,
        )  # fmt: skip
    return blocks


def _upload(path: str, uploads: dict[str, bytes]) -> str:
    """A file Gradio saved for this page, as the upload route carries one: its bytes under a name."""
    name = str(len(uploads))
    with open(path, "rb") as file:
        uploads[name] = file.read()
    return f"upload:{name}"


def _calibration_note(service: RerankService) -> str:
    path = service.settings.calibration
    if not path:
        return ""
    name = os.path.basename(path)
    return f"\n\nCalibrated probabilities from `{name}`: each result shows p and the threshold."


def _random_model(name: str) -> bool:
    return name == TINY_MODEL_NAME or (os.path.isdir(name) and is_random_checkpoint(name))


def mount_ui(app: Any, service: RerankService) -> None:
    # System fonts only: the default theme would fetch web fonts, and the UI must work offline.
    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    gr.mount_gradio_app(
        app,
        build(service, logout=app.state.keyring.active),
        path="/",
        theme=theme,
        css=render.CSS,
        max_file_size=service.settings.engine.max_image_bytes,
        footer_links=[],
    )
    app.add_middleware(UploadGuard)  # outermost: no Gradio route sees a file value it did not upload
