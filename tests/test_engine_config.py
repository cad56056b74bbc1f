"""EngineConfig: every value is checked when the object is built, so an invalid one cannot exist."""

from __future__ import annotations

import pickle

import pytest

from vlrerank import EngineConfig
from vlrerank.errors import ConfigError

# One refused value per rule, the fields once checked only later (when scoring, when loading or
# never) among them.
REFUSED = [
    ({"fps": 60}, "EngineConfig.fps must be a number in (0, 30], got 60"),
    ({"fps": 0}, "EngineConfig.fps must be a number in (0, 30], got 0"),
    ({"max_frames": 1}, "EngineConfig.max_frames must be an integer in [2, 768], got 1"),
    ({"max_frames": 769}, "EngineConfig.max_frames must be an integer in [2, 768], got 769"),
    ({"device": "gpu"}, "EngineConfig.device must be auto, cpu, cuda or cuda:N"),
    ({"device": "cuda:x"}, "EngineConfig.device must be auto, cpu, cuda or cuda:N"),
    ({"url_timeout_s": 0}, "EngineConfig.url_timeout_s must be a positive number, got 0"),
    ({"url_timeout_s": -1.5}, "EngineConfig.url_timeout_s must be a positive number, got -1.5"),
    ({"max_length": 0}, "EngineConfig.max_length must be a positive integer, got 0"),
    ({"max_length": True}, "EngineConfig.max_length must be a positive integer, got True"),
    ({"max_length": "128"}, "EngineConfig.max_length must be a positive integer, got '128'"),
    ({"token_budget": 2.5}, "EngineConfig.token_budget must be a positive integer, got 2.5"),
    ({"vision_cache_mb": -1}, "EngineConfig.vision_cache_mb must be an integer of 0 or more, got -1"),
    ({"prefix_reuse": 1}, "EngineConfig.prefix_reuse must be true or false, got 1"),
    ({"dtype": "int8"}, "EngineConfig.dtype must be auto, float32, bfloat16 or float16, got 'int8'"),
    ({"attn_implementation": "flash"}, "must be auto, sdpa, eager or flash_attention_2, got 'flash'"),
    ({"chat_template": "reranker"}, "EngineConfig.chat_template must be auto or bundled"),
    ({"revision": " "}, "EngineConfig.revision must be a branch, tag or commit, got ' '"),
    ({"pdf_dpi": 0}, "EngineConfig.pdf_dpi must be a positive number, got 0"),
    ({"min_pixels": 10**7}, "EngineConfig.min_pixels (10000000) is above max_pixels (1843200)"),
    ({"colour": "blue"}, "EngineConfig has no field 'colour'"),
]


@pytest.mark.parametrize(("values", "message"), REFUSED)
def test_an_invalid_value_is_refused_at_construction(values, message):
    with pytest.raises(ConfigError) as caught:
        EngineConfig(**values)
    assert message in str(caught.value)
    with pytest.raises(ConfigError) as again:  # and when deriving a variant
        EngineConfig().with_(**values)
    assert message in str(again.value)


def test_the_bounds_are_inclusive_where_the_reference_allows_them():
    config = EngineConfig(fps=30, max_frames=2, device="cuda:1", url_timeout_s=0.5, vision_cache_mb=0)
    assert (config.fps, config.max_frames, config.device) == (30.0, 2, "cuda:1")
    assert EngineConfig(max_frames=768, min_pixels=4096, max_pixels=4096).max_frames == 768


def test_frozen_hashable_and_equal_by_value():
    config = EngineConfig(dtype="bfloat16", token_budget=4096)
    assert config == EngineConfig(token_budget=4096, dtype="bfloat16") and config != EngineConfig()
    assert hash(config) == hash(EngineConfig(token_budget=4096, dtype="bfloat16"))
    assert len({config, EngineConfig(token_budget=4096, dtype="bfloat16"), EngineConfig()}) == 2
    with pytest.raises(ValueError):
        config.dtype = "float32"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(config)) == config  # Ray ships it to replicas and workers
    changed = config.with_(max_batch_pairs=8)
    assert (changed.max_batch_pairs, changed.dtype, config.max_batch_pairs) == (8, "bfloat16", 64)
    assert config.with_() is config


def test_reference_keywords_are_checked_the_same_way():
    config = EngineConfig().with_keywords({"total_pixels": 100_000, "torch_dtype": "float32"})
    assert (config.video_total_pixels, config.dtype) == (100_000, "float32")
    with pytest.raises(ConfigError, match=r"Reranker\(\) has no keyword 'batch_size'.*token_budget"):
        EngineConfig().with_keywords({"batch_size": 8})
    with pytest.raises(ConfigError, match=r"EngineConfig\.fps must be a number in \(0, 30\], got 45"):
        EngineConfig().with_keywords({"fps": 45})
