"""The scoring engine: one request through three stages, ``prepare`` -> ``run`` -> ``assemble``.

- :meth:`ScoringEngine.prepare` (the request's thread, documents in parallel): decode, check and
  size every visual, apply the quality gate, build every pair (:mod:`.encoder`, :mod:`.pairing`);
- :meth:`ScoringEngine.run` (the request merger's worker thread, shared with concurrent requests): the
  forward plan over those pairs (:mod:`.request_merger`, :mod:`.forward`, :mod:`.model`);
- :meth:`ScoringEngine.assemble`: each document's outcome, in document order (:mod:`.pairing`).

:meth:`ScoringEngine.score` chains them, sending each document's visuals to the vision tower as
soon as it is prepared. ``docs/architecture.md`` follows one request through these modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from ..config import EngineConfig
from .encoder import PairEncoder
from .forward import ForwardPlan
from .loading import LoadedCheckpoint
from .model import PairPositions, ScoringBackend, TransformersBackend
from .pairing import PreparedRequest, assemble, build_pairs, rejection
from .patches import Patcher
from .prompt import PromptTokenizer
from .request_merger import Outcome, RequestMerger
from .token_batches import default_token_budget
from .types import IMAGE_PAD, VIDEO_PAD, EncodedPair, PairScore, PreparedSide, ScoredRequest, ScoreRequest


class ScoringEngine:
    """Scores a query against documents with batched forwards.

    Args:
        checkpoint: a loaded checkpoint (see :func:`vlrerank.engine.loading.load_checkpoint`).
        config: batching and sizing settings.
        backend: the model stage; defaults to the transformers model of the checkpoint.
    """

    def __init__(
        self, checkpoint: LoadedCheckpoint, config: EngineConfig, backend: ScoringBackend | None = None
    ) -> None:
        self.config = config
        self.checkpoint = checkpoint
        tokenizer = checkpoint.tokenizer
        patcher = Patcher.for_checkpoint(checkpoint.image_processor, checkpoint.model.config.vision_config)
        self.encoder = PairEncoder(
            PromptTokenizer(tokenizer, checkpoint.chat_template),
            checkpoint.image_processor,
            config,
            patcher=patcher,
            patch_in_prepare=checkpoint.device.type == "cpu",
        )
        self.backend = backend or TransformersBackend.for_checkpoint(checkpoint, config)
        self.positions = PairPositions(
            checkpoint.model,
            image_pad_id=tokenizer.convert_tokens_to_ids(IMAGE_PAD),
            video_pad_id=tokenizer.convert_tokens_to_ids(VIDEO_PAD),
        )
        self.token_budget = config.token_budget or default_token_budget(checkpoint.model)
        self.forward = ForwardPlan(
            self.backend,
            self.positions,
            pad_id=tokenizer.pad_token_id,
            token_budget=self.token_budget,
            max_pairs=config.max_batch_pairs,
            # Continuations need a custom attention mask, which flash-attention kernels do not take.
            prefix_reuse=config.prefix_reuse and config.attn_implementation != "flash_attention_2",
            prefix_min_saved=config.prefix_min_saved_tokens,
        )
        self.request_merger = RequestMerger(
            self.forward,
            max_pairs=4 * config.max_batch_pairs,
            fill_tokens=self.token_budget // 2,
            prefetch_tokens=self.token_budget if config.vision_prefetch else 0,
            merge_size=patcher.merge_size,
        )
        # Decoding and resizing release the GIL, so documents are prepared in parallel.
        workers = config.prepare_workers
        self._pool = (
            ThreadPoolExecutor(workers, thread_name_prefix="vlrerank-prepare") if workers > 1 else None
        )
        self._closed = False

    def score(self, request: ScoreRequest) -> ScoredRequest:
        """``prepare``, ``run`` and ``assemble`` one request; its visuals start as they are ready.

        Concurrent requests may share this one's forwards (see :class:`RequestMerger`).
        """
        if self._closed:
            raise RuntimeError("the scoring engine has been closed")
        start = time.perf_counter()
        with self.request_merger.request() as slot:

            def send_ahead(side: PreparedSide, is_query: bool) -> None:
                if is_query or rejection(side, request.quality) is None:
                    slot.send_ahead(side.visuals)

            prepared = self.prepare(request, on_prepared=send_ahead)
            ready = time.perf_counter()
            logits, forwards = slot.submit(prepared.pairs) if prepared.pairs else ([], 0)
        done = time.perf_counter()
        query_images = tuple(v.provenance for v in prepared.query.visuals)
        scores = tuple(self.assemble(prepared, logits))
        return ScoredRequest(scores, query_images, ready - start, done - ready, forwards)

    def prepare(
        self, request: ScoreRequest, on_prepared: Callable[[PreparedSide, bool], None] | None = None
    ) -> PreparedRequest:
        """CPU stage: every visual loaded, checked and patched, the quality gate applied, and every
        pair to score built with its M-RoPE positions (in this thread, not the model's).

        ``on_prepared`` is called with the query (``True``), then with each document (``False``)
        as soon as it is ready, while others are still being prepared.
        """
        query, documents = self.prepare_sides(request, on_prepared)

        def encode(instruction: str, query: PreparedSide, document: PreparedSide) -> EncodedPair:
            return self.positions.attach(self.encoder.encode_pair(instruction, query, document))

        return build_pairs(request, query, documents, encode)

    def run(self, prepared: PreparedRequest | Sequence[PreparedRequest]) -> Outcome:
        """Model stage: logits of every pair of ``prepared`` (one request, or several run as one
        forward plan, as the request merger merges concurrent requests), and the forwards run. A pair that
        ran out of device memory even alone has ``None``."""
        requests = [prepared] if isinstance(prepared, PreparedRequest) else list(prepared)
        pairs = [pair for request in requests for pair in request.pairs]
        return self.request_merger.run(pairs) if pairs else ([], 0)

    def assemble(self, prepared: PreparedRequest, logits: Sequence[float | None]) -> list[PairScore]:
        """Each document's outcome, in document order, from the logits of ``prepared.pairs``."""
        return assemble(prepared, logits)

    def prepare_sides(
        self, request: ScoreRequest, on_prepared: Callable[[PreparedSide, bool], None] | None = None
    ) -> tuple[PreparedSide, list[PreparedSide]]:
        """The query and every document with their visuals decoded, sized and patched."""
        query = self.encoder.prepare_side(
            request.query, "query", fps=request.fps, max_frames=request.max_frames
        )
        if on_prepared is not None:
            on_prepared(query, True)

        def side(i: int) -> PreparedSide:
            return self.encoder.prepare_side(
                request.documents[i],
                f"documents[{i}]",
                fps=request.fps,
                max_frames=request.max_frames,
                preprocess=request.preprocess_for(i),
            )

        count = len(request.documents)
        if self._pool is None:
            documents = []
            for i in range(count):
                documents.append(side(i))
                if on_prepared is not None:
                    on_prepared(documents[-1], False)
            return query, documents
        futures = [self._pool.submit(side, i) for i in range(count)]
        if on_prepared is not None:
            for future in as_completed(futures):  # whichever is ready first goes first
                if future.exception() is None:
                    on_prepared(future.result(), False)
        # Results in document order: the error raised names the first bad document.
        return query, [future.result() for future in futures]

    def close(self) -> None:
        """Release what the engine holds besides the model: the request merger's worker thread (after the
        work already queued), the prepare pool's threads and the vision cache. Safe to call more
        than once; :meth:`score` raises ``RuntimeError`` afterwards."""
        self._closed = True
        self.request_merger.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.clear_caches()

    @property
    def closed(self) -> bool:
        return self._closed

    def clear_caches(self) -> None:
        """Forget kept vision outputs (a backend without a cache has nothing to forget)."""
        clear = getattr(self.backend, "clear_caches", None)
        if callable(clear):
            clear()

    def vision_stats(self) -> dict[str, int]:
        """Visuals found in the vision cache and visuals the vision tower ran, since the model
        loaded (zeros for a backend without a vision stage)."""
        stats = getattr(self.backend, "vision_stats", None)
        return dict(stats()) if callable(stats) else {"cache_hits": 0, "computed": 0}
