"""From an HTTP request to :meth:`Reranker.rank` and back: limits, conversion, response shape."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypedDict, TypeVar, Unpack

from ..engine.chunking import ChunkOptions
from ..errors import ConfigError, DeadlineExceeded, EngineFault, ScoringFailed
from ..inputs.text import check_text
from ..inputs.video import DecodeBudget
from ..preprocess.choices import PreprocessConfig, QualityPolicy
from ..ranking import RankedResults, describe
from ..ranking_schema import RejectedOut, RerankResponse, ResultOut
from ..reranker import Reranker
from .audit import AuditLog
from .dialects.content import normalized, plain
from .dialects.truncation import truncate
from .dialects.video_url import VideoReader
from .http_errors import NotFound, NotReady, QuotaExceeded, RequestRejected
from .keys import ApiKey
from .library_io import Ranking, library_side
from .memory import MemoryReturn
from .prometheus import Metrics
from .quotas import Quotas
from .scheduler import Scheduler, default_max_concurrent
from .schemas import RerankRequest, Side
from .settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ModelNotServed(NotFound):
    pass


class Admission(TypedDict, total=False):
    """Who asks and how, besides the request body (every face passes these to the service).

    Attributes:
        uploads: the files of a multipart request, by name (``upload:NAME`` in the body).
        key: the caller's API key, charged for the request.
        record: the audit line's counts, filled in as the request is served.
        fps: this request's video sampling rate (DashScope's ``parameters.fps``) instead of the
            engine's; ``max_frames`` and the decode budget still bound it.
    """

    uploads: dict[str, bytes] | None
    key: ApiKey | None
    record: dict[str, Any] | None
    fps: float | None


class RerankService:
    """Owns the model of one server process and turns requests into rankings."""

    def __init__(self, settings: Settings, metrics: Metrics, reranker: Reranker | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.scheduler = Scheduler(
            max_concurrent=settings.max_concurrent or default_max_concurrent(settings.engine.device),
            max_queue=settings.max_queue,
            timeout_s=settings.request_timeout_s,
        )
        metrics.max_concurrent.set(self.scheduler.max_concurrent)
        metrics.watch_engine(lambda: self.reranker.engine_stats() if self.reranker else None)
        self.reranker = reranker
        self._owns_reranker = False  # one handed in is its giver's to close
        self.load_error: Exception | None = None
        self.quotas = Quotas(settings.quota_requests_per_minute, settings.quota_pairs_per_minute)
        self.audit = AuditLog(settings.audit_log)
        self.memory = MemoryReturn()

    # -- model lifecycle -----------------------------------------------------------------------
    def load(self) -> None:
        """Load the model (in a background thread, so /health answers meanwhile)."""
        try:
            self.reranker = Reranker(
                self.settings.model, config=self.settings.engine, calibration=self.settings.calibration
            )
            self._owns_reranker = True
        except Exception as exc:  # kept and reported by /ready and every request
            self.load_error = exc

    def load_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="vlrerank-load", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """At shutdown: stop the threads of the model this service loaded and release its caches."""
        if self._owns_reranker and self.reranker is not None:
            self.reranker.close()

    @property
    def ready(self) -> bool:
        return self.reranker is not None

    def require_model(self) -> Reranker:
        if self.reranker is None:
            why = f": {self.load_error}" if self.load_error else "; retry shortly"
            raise NotReady(f"the model is not loaded{why}")
        return self.reranker

    @property
    def model_name(self) -> str:
        return self.settings.model

    # -- requests ------------------------------------------------------------------------------
    def check(self, request: RerankRequest, *, max_documents: int) -> None:
        """Limits the schema cannot express; each error names its field."""
        strict = self.settings.strict_model
        if strict and request.model is not None and request.model != self.model_name:
            raise ModelNotServed(
                f"model {request.model!r} is not served here; this server serves {self.model_name!r}",
                field="model",
            )
        if len(request.documents) > max_documents:
            raise RequestRejected(
                f"{len(request.documents)} documents, above the limit of {max_documents}", field="documents"
            )
        if request.instruction is not None:
            self._check_text(request.instruction, "instruction", "instruction")
        for field, side in [("query", request.query)] + [
            (f"documents[{i}]", d) for i, d in enumerate(request.documents)
        ]:
            self._check_side(field, side)

    def _check_text(self, text: str, field: str, what: str = "text") -> None:
        limit = self.settings.max_text_chars
        if len(text) > limit:
            raise RequestRejected(f"{what} is longer than {limit} characters", field=field)
        check_text(text, field)

    def _check_side(self, field: str, side: Side) -> None:
        side = plain(side, field)
        if isinstance(side, str):
            self._check_text(side, field)
            return
        texts = side.text if isinstance(side.text, list) else ([side.text] if side.text else [])
        for i, text in enumerate(texts):
            self._check_text(text, f"{field}.text[{i}]")
        images = side.image if isinstance(side.image, list) else ([side.image] if side.image else [])
        refs = [(f"{field}.image[{i}]", r) for i, r in enumerate(images)]
        refs += [(f"{field}.video[{i}]", r) for i, r in enumerate(side.video or [])]
        for where, ref in refs:
            self._check_image_ref(where, ref)

    def _check_image_ref(self, field: str, ref: Any) -> None:
        if isinstance(ref, bytes):  # uploaded file
            return
        if ref.startswith(("data:", "upload:")):  # inline data, or a file of this multipart request
            return
        if ref.startswith(("http://", "https://")):
            if not self.settings.engine.allow_urls:
                raise RequestRejected(
                    "URL images are disabled on this server; send a data: URI or upload the file", field=field
                )
            return
        raise RequestRejected(
            "images must be data: URIs or uploaded files; server file paths are never accepted", field=field
        )

    def charge(self, key: ApiKey | None, pairs: int) -> None:
        """Take a scoring request of ``pairs`` pairs from the key's quota (429 when used up)."""
        try:
            self.quotas.charge(key, pairs=pairs)
        except QuotaExceeded as exc:
            self.metrics.quota_refusals.labels(key=key.name if key else "-", kind=exc.kind).inc()
            raise

    def count(self, key: ApiKey | None, ranked: RankedResults, record: dict[str, Any] | None) -> None:
        """What a scored request used, for metrics and its audit line (counts only, no content)."""
        metrics = self.metrics
        metrics.pairs.inc(ranked.pairs)
        metrics.key_pairs.labels(key=key.name if key else "-").inc(ranked.pairs)
        for rejected in ranked.rejected:
            reason = "failed" if isinstance(rejected.failure, ScoringFailed) else "quality"
            metrics.rejections.labels(reason=reason).inc()
        pictures = [f for r in ranked.results for f in r.images] + list(ranked.query_images)
        metrics.visual_tokens.inc(sum(f.visual_tokens for f in pictures))
        metrics.prepare_seconds.observe(ranked.prepare_s)
        metrics.model_seconds.observe(ranked.forward_s)
        if self.reranker is not None:
            stats = self.reranker.vision_stats()
            metrics.vision.labels(outcome="cache_hit").set(stats["cache_hits"])
            metrics.vision.labels(outcome="computed").set(stats["computed"])
        if record is not None:
            images = sum(len(r.images) for r in ranked.results) + len(ranked.query_images)
            record.update(images=images, tokens=sum(r.num_tokens for r in ranked.results))

    async def rerank(
        self,
        request: RerankRequest,
        *,
        max_documents: int,
        request_id: str | None = None,
        **how: Unpack[Admission],
    ) -> RerankResponse:
        """:meth:`rank`, answered in the native API's shape (the REST routes' entry)."""
        return self.response(await self.rank(request, max_documents=max_documents, **how), request_id)

    async def rank(
        self,
        request: RerankRequest,
        *,
        max_documents: int,
        also_instructions: Sequence[str] = (),
        **how: Unpack[Admission],
    ) -> Ranking:
        """The one scoring path of every face (REST dialects, web UI): check, charge, admit, then
        (under the request's deadline) decode, truncate, score, count.

        Everything before admission is cheap and reads no media: a request the queue or a quota
        refuses costs no decoding, and decoding counts against the request's deadline.

        Args:
            how: the caller's key (charged), the audit ``record`` (filled with its counts), the
                multipart request's ``uploads``, and its video ``fps`` (see :class:`Admission`).
            also_instructions: rank the same documents again under each of these instructions (the
                web UI's comparison); charged with the first as one request, in ``Ranking.also``.
        """
        uploads, key, record, fps = how.get("uploads"), how.get("key"), how.get("record"), how.get("fps")
        if record is not None:
            record["documents"] = len(request.documents)
        if len(request.documents) > max_documents:
            self.check(request, max_documents=max_documents)
        reranker = self.require_model()
        self.check(normalized(request, self._videos(reranker, decode=False)), max_documents=max_documents)
        for i, text in enumerate(also_instructions):
            self._check_text(text, f"also_instructions[{i}]", "instruction")
        self.charge(key, len(request.documents) * (1 + len(also_instructions)))
        deadline = time.monotonic() + self.settings.request_timeout_s

        def work() -> tuple[RerankRequest, RankedResults, frozenset[int]]:
            scored = normalized(request, self._videos(reranker, decode=True, deadline=deadline, fps=fps))
            self.check(scored, max_documents=max_documents)
            return (scored, *self._score(reranker, scored, uploads, deadline, scored.instruction))

        scored, ranked, truncated = await self.run_scoring(work)
        self.count(key, ranked, record)
        also: list[RankedResults] = []
        for instruction in also_instructions:
            # Each comparison is one more pass through the queue, under a deadline of its own.
            until = time.monotonic() + self.settings.request_timeout_s

            def again(text: str = instruction, until: float = until) -> RankedResults:
                return self._score(reranker, scored, uploads, until, text)[0]

            also.append(await self.run_scoring(again))
            self.count(key, also[-1], None)
        return Ranking(scored, ranked, truncated, tuple(also))

    def _videos(
        self, reranker: Reranker, *, decode: bool, deadline: float | None = None, fps: float | None = None
    ) -> VideoReader:
        engine = self.settings.engine
        return VideoReader(
            allow_urls=engine.allow_urls,
            max_bytes=engine.max_image_bytes,
            fps=fps or reranker.config.fps,
            max_frames=reranker.config.max_frames,
            max_frame_pixels=engine.max_image_pixels,
            budget=DecodeBudget(deadline=deadline),
            decode=decode,
        )

    def _score(
        self,
        reranker: Reranker,
        request: RerankRequest,
        uploads: dict[str, bytes] | None,
        deadline: float,
        instruction: str | None,
    ) -> tuple[RankedResults, frozenset[int]]:
        """Truncate and score a checked request (in a worker thread, inside its admission)."""
        query = library_side(request.query, uploads, "query")
        sides = [plain(d, f"documents[{i}]") for i, d in enumerate(request.documents)]
        truncated: set[int] = set()
        # Chunking asked for (max_chunks_per_doc): the library chunks; a token limit alone cuts.
        chunking = ChunkOptions(
            max_tokens_per_doc=request.token_limit,
            max_chunks_per_doc=request.max_chunks_per_doc,
            overlap_tokens=request.overlap_tokens,
        )
        if request.token_limit is not None and request.max_chunks_per_doc is None:
            for i, side in enumerate(sides):
                sides[i], cut = truncate(side, reranker.tokenizer, request.token_limit, request.direction)
                if cut:
                    truncated.add(i)
        documents = [library_side(d, uploads, f"documents[{i}]") for i, d in enumerate(sides)]
        try:
            preprocess = PreprocessConfig(**request.preprocess.model_dump()) if request.preprocess else None
        except ConfigError as exc:
            raise RequestRejected(str(exc), field="preprocess") from None
        quality = (
            QualityPolicy(mode=request.quality.policy, threshold=request.quality.threshold)
            if request.quality
            else None
        )
        if time.monotonic() > deadline:
            raise DeadlineExceeded("preparing the request ran past its deadline")
        ranked = reranker.rank(
            query, documents, instruction, request.top_n or None,
            preprocess=preprocess, quality=quality, explain=request.explain,
            aggregation=request.aggregation, aggregation_k=request.aggregation_k,
            granularity=request.granularity, return_segments=request.return_segments, chunking=chunking,
        )  # fmt: skip
        return ranked, frozenset(truncated)

    async def run_scoring(self, work: Callable[[], T]) -> T:
        """Run model work through the queue. Only an :class:`EngineFault` (the model stage broke,
        whatever the request) restarts the engine: the client gets 503 and /ready recovers. Input
        errors are typed and answered as such; any other exception is a bug (500), not a restart."""
        self.metrics.queue_depth.set(self.scheduler.depth + 1)
        try:
            return await self.scheduler.run(work)
        except EngineFault as exc:
            logger.error("the scoring engine failed; reloading the model", exc_info=exc)
            self.reranker = None
            self.load_error = None
            self.load_in_background()
            cause = type(exc.__cause__ or exc).__name__
            raise NotReady(f"the scoring engine failed ({cause}); it is restarting, retry shortly") from None
        finally:
            self.metrics.queue_depth.set(self.scheduler.depth)
            self.memory.request_finished(self.scheduler.depth)

    def response(self, ranking: Ranking, request_id: str | None) -> RerankResponse:
        ranked, request = ranking.ranked, ranking.request

        def document(index: int) -> dict[str, Any] | None:
            if not request.return_documents:
                return None
            original = plain(request.documents[index], f"documents[{index}]")
            if isinstance(original, str):
                return {"text": original}
            # Texts and references come back; a data: URI's payload does not (it can be megabytes).
            # A structured document's other fields (Cohere v1's title, id, ...) come back as sent.
            extra = original.model_extra or {}
            known = original.model_dump(exclude_none=True, exclude=set(extra))
            return {**describe(known), **extra}

        results = [
            ResultOut.of(
                r,
                relevance_score=ranking.score_of(r, raw=request.raw),
                document=document(r.index),
                truncated=ranking.truncated_flag(r.index) or r.truncated,
            )
            for r in ranked.results
            if not (request.drop_below_threshold and r.below_threshold)
        ]
        rejected = [RejectedOut.of(r, document(r.index)) for r in ranked.rejected]
        return RerankResponse.of(
            ranked,
            results,
            rejected,
            model=self.model_name,
            request_id=request_id,
            return_len=request.return_len,
        )
