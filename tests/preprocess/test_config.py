from __future__ import annotations

import pytest

from vlrerank.errors import ConfigError
from vlrerank.preprocess import PreprocessConfig, QualityPolicy


def test_defaults_are_the_reference():
    config = PreprocessConfig()
    assert config.mode == "native" and config.target is None and config.is_reference


@pytest.mark.parametrize(
    ("preset", "target"),
    [("general", (1024, 768)), ("product", (1280, 960)), ("art", (800, 600)), ("art-large", (1600, 1200))],
)
def test_presets_set_a_target_and_default_to_crop(preset, target):
    config = PreprocessConfig(preset=preset)
    assert config.target == target and config.mode == "crop" and not config.is_reference


def test_document_preset_keeps_native_mode():
    config = PreprocessConfig(preset="document")
    assert config.mode == "native" and config.target is None and not config.is_reference


def test_hashable_and_round_trips_through_plain_data():
    config = PreprocessConfig(size=(640, 480), mode="fit", pad_color=(1, 2, 3), blur_sigma=0.3)
    assert hash(config) == hash(PreprocessConfig.from_dict(config.to_dict()))
    assert PreprocessConfig.from_dict(config.to_dict()) == config
    assert (
        len({config, PreprocessConfig(size=(640, 480), mode="fit", pad_color=(1, 2, 3), blur_sigma=0.3)}) == 1
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "huge"}, "unknown preset"),
        ({"size": (10, 10), "preset": "general"}, "not both"),
        ({"size": (0, 10)}, "size must be"),
        ({"mode": "fit"}, "needs a target"),
        ({"mode": "native", "size": (10, 10)}, "needs resize mode"),
        ({"mode": "squash", "size": (10, 10)}, "unknown resize mode"),
        ({"interpolation": "cubic"}, "unknown interpolation"),
        ({"blur_sigma": -1}, "blur_sigma"),
        ({"pad_color": (0, 0, 300), "size": (4, 4)}, "pad_color"),
        ({"aspect_snap": "yes"}, "aspect_snap"),
        ({"max_pixels": 0}, "max_pixels"),
    ],
)
def test_invalid_configs_say_what_to_change(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PreprocessConfig(**kwargs)


def test_from_dict_rejects_unknown_keys_and_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown preprocess option.*valid: .*blur_sigma"):
        PreprocessConfig.from_dict({"blur": 1})


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"mode": "drop"}, "off, reject or penalize"), ({"threshold": 0}, "threshold")]
)
def test_quality_policy_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        QualityPolicy(**kwargs)
