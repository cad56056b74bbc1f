"""``EngineConfig.torch_compile``: compiled layers keep the reference's scores on every path, and
the compiled graphs really run (one graph per kind of layer, not one per layer)."""

from __future__ import annotations

import logging

import pytest
import torch
import torch._dynamo.utils

from vlrerank import EngineConfig, Reranker

from ..conftest import noise_image

pytestmark = pytest.mark.slow
TOL = 1e-5


class Recompiles(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.reasons.append(record.getMessage())


@pytest.fixture(scope="module")
def recompiles():
    handler = Recompiles()
    torch._logging.set_logs(recompiles=True)
    logger = logging.getLogger("torch._dynamo")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    torch._logging.set_logs()


@pytest.fixture(scope="module")
def compiled(tiny_dir, recompiles):
    torch._dynamo.reset()
    return Reranker(str(tiny_dir), config=EngineConfig(torch_compile=True, prefix_min_saved_tokens=0))


def requests(images):
    image = noise_image(96, 64, 5)
    return [
        {  # whole pairs and a shared text prefix
            "query": {"text": "a red car"},
            "documents": [{"text": "a red car parked"}, {"text": "soup " * 40}, {"image": image}],
        },
        {  # an image query: its prefix holds the image
            "query": {"image": images["jpeg_path"], "text": "what is this"},
            "documents": [{"text": "a dog"}, {"text": "a long description " * 20}, {"image": images["wide"]}],
        },
        {"query": {"text": "one row"}, "documents": [{"text": "alone"}]},
    ]


def test_compiled_layers_keep_parity_with_the_reference(compiled, reference, images):
    for request in requests(images):
        ours, theirs = compiled.process(request), reference.process(request)
        assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) <= TOL, (ours, theirs)


def test_layers_share_compiled_graphs_instead_of_falling_back_to_eager(compiled, images, recompiles):
    model = compiled.checkpoint.model
    layers = list(model.language_model.layers) + list(model.visual.blocks)
    assert all(layer._compiled_call_impl is not None for layer in layers)
    counters = torch._dynamo.utils.counters
    for request in requests(images):  # every variant has been compiled by now (same fixture)
        compiled.process(request)
    assert counters["stats"]["unique_graphs"] > 0
    assert recompiles.reasons, "no recompilation seen at all: is the log captured?"
    # A guard on the layer index means a compilation per layer (and, past the limit, eager layers).
    assert not any("layer_idx" in reason for reason in recompiles.reasons)
    assert not any("recompile" in str(reason).lower() for reason in counters["unimplemented"])
    before = counters["stats"]["unique_graphs"]
    for request in requests(images):
        compiled.process(request)
    assert counters["stats"]["unique_graphs"] == before, "the same requests compiled again"
