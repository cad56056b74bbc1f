"""Where batches are scored: in this process, or on Ray actors (one per GPU, or per CPU slot).

Both run the same :func:`vlrerank.study.batch.score_batch` on the same engine, so their results
are identical; only the driver writes to the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from ..config import EngineConfig
from ..errors import ConfigError, MissingDependencyError
from .batch import memory_method, score_batch, warm_up
from .spec import StudyItem, StudySpec
from .store import ResultRow


class Executor(Protocol):
    random_weights: bool
    memory_method: str  # how peak memory is measured, for the report

    def map(self, batches: list[Any]) -> Iterator[list[ResultRow]]: ...

    def close(self) -> None: ...


def _reranker(spec: StudySpec, engine: EngineConfig | None) -> Any:
    from ..reranker import Reranker

    config = engine or EngineConfig()
    if spec.device != "auto":  # the spec names a device: it wins over the engine settings' default
        config = config.with_(device=spec.device)
    return Reranker(spec.model, config=config)


class LocalExecutor:
    def __init__(self, spec: StudySpec, items: list[StudyItem], engine: EngineConfig | None = None) -> None:
        self.spec, self.items = spec, items
        self.reranker = _reranker(spec, engine)
        self.random_weights = bool(self.reranker.random_weights)
        self.memory_method = memory_method(self.reranker)

    def map(self, batches: list[Any]) -> Iterator[list[ResultRow]]:
        if batches:
            warm_up(self.reranker, self.spec, self.items, batches[0])
        for batch in batches:
            yield score_batch(self.reranker, self.spec, self.items, batch)

    def close(self) -> None:
        pass


class RayExecutor:
    """Actors each load the model once; batches are spread over them as they free up."""

    def __init__(
        self,
        spec: StudySpec,
        items: list[StudyItem],
        *,
        address: str | None,
        workers: int | None,
        engine: EngineConfig | None = None,
    ) -> None:
        try:
            import ray
            from ray.util import ActorPool
        except ImportError:
            raise MissingDependencyError("the Ray executor needs Ray: pip install 'vlrerank[ray]'") from None
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers or 2, include_dashboard=False, log_to_driver=False)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        count = workers or (gpus if gpus else 1)
        actor: Any = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1)(_ScoringActor)
        self._actors: list[Any] = [actor.remote(spec, items, engine) for _ in range(count)]
        self._pool = ActorPool(self._actors)
        self.random_weights = bool(ray.get(self._actors[0].random_weights.remote()))
        self.memory_method = str(ray.get(self._actors[0].memory_method.remote()))

    def map(self, batches: list[Any]) -> Iterator[list[ResultRow]]:
        yield from self._pool.map_unordered(lambda actor, batch: actor.score.remote(batch), batches)

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        if self._started:
            self._ray.shutdown()


class _ScoringActor:
    def __init__(self, spec: StudySpec, items: list[StudyItem], engine: EngineConfig | None) -> None:
        self.spec, self.items = spec, items
        self.reranker = _reranker(spec, engine)
        self._warm = False

    def random_weights(self) -> bool:
        return bool(self.reranker.random_weights)

    def memory_method(self) -> str:
        return memory_method(self.reranker)

    def score(self, batch: list[Any]) -> list[ResultRow]:
        if not self._warm:
            warm_up(self.reranker, self.spec, self.items, batch)
            self._warm = True
        return score_batch(self.reranker, self.spec, self.items, batch)


def make_executor(
    name: str,
    spec: StudySpec,
    items: list[StudyItem],
    *,
    address: str | None = None,
    workers: int | None = None,
    engine: EngineConfig | None = None,
) -> Executor:
    if name == "local":
        return LocalExecutor(spec, items, engine)
    if name == "ray":
        return RayExecutor(spec, items, address=address, workers=workers, engine=engine)
    raise ConfigError(f"unknown executor {name!r}; choose local or ray")
