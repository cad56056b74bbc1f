from __future__ import annotations

import pytest

from vlrerank import EngineConfig, Reranker
from vlrerank.engine.loading import resolve_device
from vlrerank.errors import ConfigError, ModelNotFoundError


def test_missing_hub_model_offline_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as info:
        Reranker("Qwen/Qwen3-VL-Reranker-2B")
    message = str(info.value)
    assert "Qwen/Qwen3-VL-Reranker-2B" in message
    assert "HF_HUB_OFFLINE" in message and "hf download" in message


def test_local_paths_that_are_not_checkpoints(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        Reranker(str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="no model directory"):
        Reranker(str(tmp_path / "nope" / "deeper"))


def test_device_auto_is_cpu_float32_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device(EngineConfig()) == (torch.device("cpu"), torch.float32)
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device(EngineConfig(device="cuda"))
