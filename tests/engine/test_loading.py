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


def fake_hub_cache(root, tiny_dir, repo: str, commits: dict[str, str]):
    """A Hugging Face cache holding ``repo`` at several commits (ref name -> 40-hex commit)."""
    from vlrerank.checkpoints import copy_with_layout

    folder = root / f"models--{repo.replace('/', '--')}"
    for ref, commit in commits.items():
        copy_with_layout(tiny_dir, folder / "snapshots" / commit, "sentence-transformers")
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / ref).write_text(commit)
    return root


def test_hub_ids_load_offline_at_a_pinned_revision_and_name_the_commit(monkeypatch, tmp_path, tiny_dir):
    main, tagged = "a" * 40, "b" * 40
    cache = fake_hub_cache(tmp_path / "hub", tiny_dir, "org/tiny-reranker", {"main": main, "v1": tagged})
    import huggingface_hub.constants

    # The hub reads HF_HUB_CACHE once, at import; a user sets it before starting Python.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert Reranker("org/tiny-reranker").revision == main
    assert Reranker("org/tiny-reranker", revision="v1").revision == tagged
    assert Reranker("org/tiny-reranker", revision=tagged).revision == tagged
    with pytest.raises(ModelNotFoundError) as info:
        Reranker("org/tiny-reranker", revision="v2")
    assert "revision 'v2'" in str(info.value) and "--revision v2" in str(info.value)


def test_a_local_directory_has_no_revision(reranker):
    assert reranker.revision is None
