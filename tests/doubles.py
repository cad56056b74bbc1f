"""The one test double of the engine's model stage (:class:`vlrerank.engine.ScoringBackend`).

It sits in front of the real backend, so the model work is never faked: it records what the
engine asks the model to run, can hold the first forward until a test releases it (so that other
requests queue up meanwhile), and can fail like a device does (out of memory beyond a size, or any
error a test chooses). Without a real backend every forward fails with ``fail``'s error.

Example:
    >>> double = BackendDouble(TransformersBackend.for_checkpoint(checkpoint, config), max_rows=2)
    >>> engine = Reranker.from_checkpoint(checkpoint, config, backend=double)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

from vlrerank import EngineConfig, Reranker
from vlrerank.engine import TransformersBackend


def out_of_memory() -> BaseException:
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


class BackendDouble:
    """The real backend behind recording, an optional gate and optional failures.

    Args:
        real: the backend that does the work; ``None``: every forward fails (``fail`` must be given).
        device: the device reported without a real backend.
        gate: hold the first forward until :attr:`release` is set (:attr:`entered` tells it began).
        max_rows: a batch with more rows fails like CUDA out-of-memory.
        max_tokens: so does a batch holding a row longer than this (its prefix included).
        max_prefix: so does a prefill with a prefix longer than this.
        fail: called with each batch before it runs; the error it returns is raised.

    Attributes:
        prefills: the prefix lengths of each prefill forward.
        continuations: the prefix row of each row, per batch that continues prefixes.
        whole: rows per batch of whole pairs.
        scored: rows per scoring forward (continuations and whole pairs, attempted or not).
    """

    def __init__(
        self,
        real: Any = None,
        *,
        device: torch.device | None = None,
        gate: bool = False,
        max_rows: int = 10**9,
        max_tokens: int = 10**9,
        max_prefix: int = 10**9,
        fail: Callable[[Any], BaseException | None] | None = None,
    ) -> None:
        if real is None and fail is None:
            raise ValueError("without a real backend, say how forwards fail")
        self.real = real
        self.device = real.device if real is not None else (device or torch.device("cpu"))
        self.max_rows, self.max_tokens, self.max_prefix = max_rows, max_tokens, max_prefix
        self.fail = fail
        self.entered, self.release = threading.Event(), threading.Event()
        if not gate:
            self.release.set()
        self.prefills: list[list[int]] = []
        self.continuations: list[list[int]] = []
        self.whole: list[int] = []
        self.scored: list[int] = []

    @classmethod
    def over(cls, reranker: Reranker, config: EngineConfig, **options: Any) -> tuple[Reranker, BackendDouble]:
        """A new reranker on ``reranker``'s weights with ``config``, its model stage behind a double."""
        real = TransformersBackend.for_checkpoint(reranker.checkpoint, config)
        double = cls(real, **options)
        return Reranker.from_checkpoint(reranker.checkpoint, config, backend=double), double

    # -- the model stage -------------------------------------------------------------------------
    def prefill(self, batch: Any) -> Any:
        self._wait()
        self.prefills.append(batch.lengths.tolist())
        self._maybe_fail(batch)
        if int(batch.lengths.max()) > self.max_prefix:
            raise out_of_memory()
        return self.real.prefill(batch)

    def score(self, batch: Any, prefixes: Any = None) -> torch.Tensor:
        self._wait()
        self.scored.append(batch.size)
        if prefixes is None:
            self.whole.append(batch.size)
        else:
            self.continuations.append(batch.prefix_rows.tolist())
        self._maybe_fail(batch)
        tokens = batch.lengths.clone()
        if prefixes is not None:
            tokens += torch.tensor(prefixes.lengths)[batch.prefix_rows]
        if batch.size > self.max_rows or int(tokens.max()) > self.max_tokens:
            raise out_of_memory()
        return self.real.score(batch, prefixes)

    def clear_caches(self) -> None:
        if self.real is not None:
            self.real.clear_caches()

    def encode_visuals(self, visuals: Sequence[Any]) -> dict[str, Any]:
        if self.real is None:
            raise AssertionError("no real backend to encode visuals with")
        return self.real.encode_visuals(visuals)

    # -- helpers ---------------------------------------------------------------------------------
    def _wait(self) -> None:
        if not self.entered.is_set():
            self.entered.set()
        assert self.release.wait(30), "the gate was never released"

    def _maybe_fail(self, batch: Any) -> None:
        error = self.fail(batch) if self.fail is not None else None
        if error is not None:
            raise error
        if self.real is None:
            raise AssertionError("no real backend, yet fail() let the forward through")
