"""Qwen3-VL architectures by name: ``tiny`` for tests, full-size ``2b`` and ``8b`` for benchmarks."""

from __future__ import annotations

from typing import Any

_COMMON_TEXT = {
    "vocab_size": 151936,
    "rope_theta": 5_000_000.0,
    "max_position_embeddings": 262144,
    "hidden_act": "silu",
    "rms_norm_eps": 1e-6,
    "attention_bias": False,
}
_COMMON_VISION = {
    "patch_size": 16,
    "temporal_patch_size": 2,
    "spatial_merge_size": 2,
    "in_channels": 3,
    "hidden_act": "gelu_pytorch_tanh",
    "num_position_embeddings": 2304,
}
# What the published 2B and 8B text models share: grouped-query attention over 8 key/value heads of
# 128 dimensions, and the same multimodal rotary split.
_PUBLISHED_TEXT = {
    "num_key_value_heads": 8,
    "head_dim": 128,
    "rope_scaling": {"rope_type": "default", "mrope_section": [24, 20, 20], "mrope_interleaved": True},
}

ARCHS: dict[str, dict[str, Any]] = {
    "tiny": {
        "text": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            # Larger than the default 0.02 so a 2-layer random model is sensitive to every token,
            # position and pixel: parity tests on nearly constant scores would prove little.
            "initializer_range": 0.06,
            "rope_scaling": {"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": True},
        },
        "vision": {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
            "deepstack_visual_indexes": [0, 1],
            "initializer_range": 0.06,
        },
        "tie_word_embeddings": True,
    },
    "2b": {
        "text": {
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "num_hidden_layers": 28,
            "num_attention_heads": 16,
            **_PUBLISHED_TEXT,
        },
        "vision": {
            "depth": 24,
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_heads": 16,
            "out_hidden_size": 2048,
            "deepstack_visual_indexes": [5, 11, 17],
        },
        "tie_word_embeddings": True,
    },
    "8b": {
        "text": {
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            **_PUBLISHED_TEXT,
        },
        "vision": {
            "depth": 27,
            "hidden_size": 1152,
            "intermediate_size": 4304,
            "num_heads": 16,
            "out_hidden_size": 4096,
            "deepstack_visual_indexes": [8, 16, 24],
        },
        "tie_word_embeddings": False,
    },
}


def qwen3vl_config(arch: str) -> Any:
    """A ``Qwen3VLConfig`` for ``arch`` (``tiny``, ``2b`` or ``8b``)."""
    from transformers import Qwen3VLConfig

    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    spec = ARCHS[arch]
    return Qwen3VLConfig(
        text_config={**_COMMON_TEXT, **spec["text"]},
        vision_config={**_COMMON_VISION, **spec["vision"]},
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
        tie_word_embeddings=spec["tie_word_embeddings"],
    )
