"""One configuration: defaults, a TOML file, VLRERANK_* variables and options, the same in every face."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from vlrerank import EngineConfig
from vlrerank.errors import ConfigError

from ..conftest import noise_image


def vlrerank(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vlrerank", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def env(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VLRERANK_")}
    return {**clean, "VLRERANK_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "vlrerank.toml"
    path.write_text(
        'model = "tiny-random"\nport = 9100\nmax_queue = 3\napi_key = "from-the-file"\n'
        '[engine]\ndtype = "float32"\ntorch_compile = true\nmax_batch_pairs = 16\n'
    )
    return path


def test_server_and_engine_share_one_set_of_defaults(monkeypatch):
    from vlrerank.server.settings import Settings

    for name in list(os.environ):
        if name.startswith("VLRERANK_"):
            monkeypatch.delenv(name)
    assert Settings().engine == EngineConfig()
    # No engine setting has a second home (and a second default) among the server's own.
    assert set(Settings.model_fields).isdisjoint(EngineConfig.model_fields)


def test_precedence_is_command_line_then_env_then_file(monkeypatch, config_file):
    from vlrerank.server.settings import Settings

    monkeypatch.setenv("VLRERANK_ENGINE__MAX_BATCH_PAIRS", "8")  # beats the file's 16
    monkeypatch.setenv("VLRERANK_ENGINE__TOKEN_BUDGET", "4096")
    monkeypatch.setenv("VLRERANK_MAX_QUEUE", "5")  # beats the file's 3
    settings = Settings.load(
        config_file=str(config_file), cli={"port": 9200}, cli_engine={"token_budget": "2048"}
    )
    assert (settings.port, settings.max_queue, settings.model) == (9200, 5, "tiny-random")
    engine = settings.engine
    assert (engine.dtype, engine.torch_compile, engine.max_batch_pairs, engine.token_budget) == (
        "float32", True, 8, 2048,
    )  # fmt: skip
    assert settings.origin("port") == "command line"
    assert settings.origin("max_queue") == "env VLRERANK_MAX_QUEUE"
    assert settings.origin("model") == f"file {config_file}"
    assert settings.origin("engine.max_batch_pairs") == "env VLRERANK_ENGINE__MAX_BATCH_PAIRS"
    assert settings.origin("engine.token_budget") == "command line"
    assert settings.origin("engine.dtype") == f"file {config_file}"
    assert settings.origin("engine.min_pixels") == "default"


def test_a_plain_settings_object_reads_the_environment_and_the_config_file(monkeypatch, config_file):
    """What ``uvicorn --factory vlrerank.server.app:create_app`` gets, with no CLI in between."""
    from vlrerank.server.settings import Settings

    monkeypatch.setenv("VLRERANK_CONFIG", str(config_file))
    monkeypatch.setenv("VLRERANK_DEVICE", "cpu")  # the short name of VLRERANK_ENGINE__DEVICE
    settings = Settings()
    assert (settings.port, settings.engine.device, settings.engine.torch_compile) == (9100, "cpu", True)
    # A Python argument wins over both, and an EngineConfig passed whole is used as it is.
    assert Settings(engine=EngineConfig(dtype="bfloat16")).engine == EngineConfig(dtype="bfloat16")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"VLRERANK_ENGINE__TORCH_COMPILE": "maybe"},
            "torch_compile must be true or false, got 'maybe' (from env VLRERANK_ENGINE__TORCH_COMPILE)",
        ),
        ({"VLRERANK_ENGINE__NOPE": "1"}, "EngineConfig has no field 'nope'"),
        ({"VLRERANK_ENGINE__NOPE": "1"}, "(from env VLRERANK_ENGINE__NOPE)"),
        ({"VLRERANK_DEVICE": "cpu", "VLRERANK_ENGINE__DEVICE": "cuda"}, "disagree"),
        ({"VLRERANK_ENGINE__MAX_PIXELS": "0"}, "(from env VLRERANK_ENGINE__MAX_PIXELS)"),
        ({"VLRERANK_ENGINE__TOKEN_BUDGET": "lots"}, "token_budget must be a positive integer, got 'lots'"),
        ({"VLRERANK_MAX_QUEUE": "-1"}, "max_queue (env VLRERANK_MAX_QUEUE)"),
    ],
)
def test_a_bad_variable_is_named(monkeypatch, variables, message):
    from vlrerank.server.settings import Settings

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dtype = 'float32'\n", "put engine settings under [engine]"),
        ("colour = 'blue'\n", "unknown setting 'colour'"),
        ("[engine]\ncolour = 'blue'\n", "EngineConfig has no field 'colour'"),
        ("[engine]\nmax_frames = 0\n", "max_frames must be an integer in [2, 768], got 0 (from file "),
        ("[engine\n", "is not valid TOML"),
        ("engine = 3\n", "'engine' must be a table"),
    ],
)
def test_a_bad_config_file_is_named(tmp_path, text, message):
    from vlrerank.server.settings import Settings

    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        Settings.load(config_file=str(path))
    assert message in str(caught.value)


# Values EngineConfig refuses, among them those once accepted and refused only later (when
# scoring, when loading the model, or never).
INVALID = [
    ("fps", "60", 60, "EngineConfig.fps must be a number in (0, 30]"),
    ("max_frames", "1", 1, "EngineConfig.max_frames must be an integer in [2, 768]"),
    (
        "device",
        "gpu",
        "gpu",
        "EngineConfig.device must be auto, cpu, cuda or cuda:N (or another torch device type)",
    ),
    ("url_timeout_s", "0", 0, "EngineConfig.url_timeout_s must be a positive number"),
    ("max_pixels", "0", 0, "EngineConfig.max_pixels must be a positive integer"),
]


@pytest.mark.parametrize(("name", "text", "value", "message"), INVALID)
def test_an_invalid_engine_value_names_its_source(monkeypatch, tmp_path, name, text, value, message):
    from vlrerank.config_sources import EngineSettings
    from vlrerank.server.settings import Settings

    path = tmp_path / "engine.toml"
    path.write_text(f"[engine]\n{name} = {value!r}\n".replace("'", '"'))
    given = [
        ({"cli_engine": {name: text}}, {}, "(from command line)"),
        ({}, {f"VLRERANK_ENGINE__{name.upper()}": text}, f"(from env VLRERANK_ENGINE__{name.upper()})"),
        ({}, {f"VLRERANK_{name.upper()}": text}, f"(from env VLRERANK_{name.upper()})"),
        ({"config_file": str(path)}, {}, f"(from file {path})"),
        ({}, {"VLRERANK_CONFIG": str(path)}, f"(from file {path})"),
    ]
    for arguments, variables, source in given:
        with monkeypatch.context() as scope:
            for variable, setting in variables.items():
                scope.setenv(variable, setting)
            for face in (Settings, EngineSettings):  # serve's, and rank's/study's/doctor's
                with pytest.raises(ConfigError) as caught:
                    face.load(**arguments)
                said = str(caught.value)
                assert f"{message}, got " in said and said.endswith(source), (face, source, said)


def test_a_check_across_fields_names_the_source_of_each(monkeypatch):
    from vlrerank.config_sources import EngineSettings

    monkeypatch.setenv("VLRERANK_MAX_PIXELS", "8192")
    with pytest.raises(ConfigError) as caught:
        EngineSettings.load(cli_engine={"min_pixels": "9000"})
    assert str(caught.value) == (
        "EngineConfig.min_pixels (9000) is above max_pixels (8192) "
        "(from command line, env VLRERANK_MAX_PIXELS)"
    )


def test_every_face_records_where_each_value_came_from(monkeypatch, config_file):
    from vlrerank.config_sources import EngineSettings
    from vlrerank.server.settings import Settings

    monkeypatch.setenv("VLRERANK_DEVICE", "cpu")
    monkeypatch.setenv("VLRERANK_ENGINE__VISION_CACHE_MB", "0")
    monkeypatch.setenv("VLRERANK_PORT", "9300")
    engine = EngineSettings.load(config_file=config_file, cli={"model": None}, cli_engine={"fps": "2"})
    # rank, study and doctor share serve's file: they take model and [engine], leave the rest.
    assert (engine.model, engine.engine.device, engine.engine.fps, engine.engine.max_batch_pairs) == (
        "tiny-random", "cpu", 2.0, 16,
    )  # fmt: skip
    assert {key: engine.origin(key) for key in ("model", "engine.device", "engine.fps", "engine.dtype")} == {
        "model": f"file {config_file}",
        "engine.device": "env VLRERANK_DEVICE",
        "engine.fps": "command line",
        "engine.dtype": f"file {config_file}",
    }
    assert engine.origin("engine.max_length") == "default" and engine.origin("port") == "default"
    assert engine.engine_given() == {
        "device": "cpu", "dtype": "float32", "max_batch_pairs": 16, "fps": 2.0, "vision_cache_mb": 0,
        "torch_compile": True,
    }  # fmt: skip
    server = Settings.load(config_file=config_file)
    assert (server.port, server.origin("port"), server.origin("engine.vision_cache_mb")) == (
        9300, "env VLRERANK_PORT", "env VLRERANK_ENGINE__VISION_CACHE_MB",
    )  # fmt: skip
    # Built without load() (a Python caller) the values are the same; no sources recorded.
    monkeypatch.setenv("VLRERANK_CONFIG", str(config_file))
    plain = Settings()
    assert plain.engine == server.engine and plain.origin("port") == "default"


def test_the_config_option_replaces_the_config_variable(monkeypatch, tmp_path, config_file):
    from vlrerank.server.settings import Settings

    other = tmp_path / "other.toml"
    other.write_text("host = '0.0.0.0'\n[engine]\nfps = 3.0\n")
    monkeypatch.setenv("VLRERANK_CONFIG", str(other))
    settings = Settings.load(config_file=str(config_file))
    assert (settings.host, settings.engine.fps, settings.port) == ("127.0.0.1", 1.0, 9100)
    assert Settings.load().host == "0.0.0.0" and Settings().engine.fps == 3.0


@pytest.mark.slow
def test_vlrerank_config_shows_every_value_and_its_source(env, config_file):
    out = vlrerank(
        "config", "--config", str(config_file), "--engine", "vision_cache_mb=0", "--max-pixels", "16384",
        "--json", env={**env, "VLRERANK_ENGINE__PREFIX_REUSE": "false"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert rows["engine.vision_cache_mb"] == {"value": 0, "source": "command line"}
    assert rows["engine.max_pixels"] == {"value": 16384, "source": "command line"}
    assert rows["engine.prefix_reuse"] == {"value": False, "source": "env VLRERANK_ENGINE__PREFIX_REUSE"}
    assert rows["engine.torch_compile"] == {"value": True, "source": f"file {config_file}"}
    assert rows["engine.fps"] == {"value": 1.0, "source": "default"}
    assert rows["port"] == {"value": 9100, "source": f"file {config_file}"}
    assert rows["api_key"]["value"] == "(set)" and "from-the-file" not in out.stdout  # never printed
    assert set(rows) >= {f"engine.{name}" for name in EngineConfig.model_fields}
    table = vlrerank("config", "--config", str(config_file), env=env)
    assert table.returncode == 0 and "engine.torch_compile" in table.stdout and "default" in table.stdout
    refused = vlrerank("config", "--engine", "torch_compile", env=env)
    assert refused.returncode == 2 and "KEY=VALUE" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.slow
def test_rank_and_study_take_engine_settings_from_every_source(env, tmp_path):
    photo = tmp_path / "car.png"
    noise_image(400, 300, 3).save(photo)
    small = tmp_path / "small.toml"
    small.write_text("[engine]\nmax_pixels = 16384\n")
    for extra, more_env in (
        (["--engine", "max_pixels=16384"], {}),
        ([], {"VLRERANK_ENGINE__MAX_PIXELS": "16384"}),
        (["--config", str(small)], {}),
    ):
        args = ["rank", "--query", "a car", "--doc", str(photo), "--json", *extra]
        out = vlrerank(*args, env={**env, **more_env})
        assert out.returncode == 0, out.stderr
        (image,) = json.loads(out.stdout)["results"][0]["images"]
        assert image["visual_tokens"] <= 16, extra or more_env

    (tmp_path / "m.csv").write_text(f"image,category,query\n{photo},art,a picture\n")
    out = vlrerank(
        "study", "run", "--manifest", str(tmp_path / "m.csv"), "--sizes", "320x240", "--out",
        str(tmp_path / "out"), "--quiet", "--engine", "max_pixels=16384", env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as db:
        (stored,) = db.execute("SELECT value FROM meta WHERE key = 'engine'").fetchone()
    assert json.loads(stored)["max_pixels"] == 16384
