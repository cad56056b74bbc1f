"""The CLI as users run it: a subprocess, real files, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import noise_image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {**os.environ, "VLRERANK_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("photos") / "car.jpg"
    noise_image(400, 300, 11).save(path)
    return str(path)


def vlrerank(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vlrerank", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_rank_prints_a_table_with_the_random_weights_warning(env, photo):
    out = vlrerank(
        "rank",
        "--model",
        "tiny-random",
        "--query",
        "a red car",
        "--doc",
        "a red car parked",
        "--doc",
        photo,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "RANDOM weights" in out.stdout and "meaningless" in out.stdout
    assert "a red car parked" in out.stdout and "car.jpg" in out.stdout
    assert "400x300 -> 384x288 (108)" in out.stdout


def test_json_output_matches_the_python_api(env, photo, tiny_dir, reranker):
    out = vlrerank(
        "rank",
        "--model",
        str(tiny_dir),
        "--query",
        "a red car",
        "--doc",
        "soup",
        "--doc",
        photo,
        "--doc",
        "a red car parked",
        "--top-n",
        "2",
        "--json",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["random_weights"] is True and "meaningless" in payload["warning"]
    expected = reranker.rank("a red car", ["soup", {"image": photo}, "a red car parked"], top_n=2)
    assert [r["index"] for r in payload["results"]] == [r.index for r in expected]
    for got, want in zip(payload["results"], expected, strict=True):
        assert abs(got["score"] - want.score) < 1e-6


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--query", "q", "--doc", "missing-photo.jpg"], 2, "no such image file: missing-photo.jpg"),
        (["--doc", "text only"], 2, "give --query"),
        (["--query", "q", "--doc", "d", "--top-n", "0"], 2, "--top-n"),
        (["--query", "q", "--doc", "d", "--model", "/nowhere/at/all"], 3, "no model directory"),
    ],
)
def test_bad_input_exits_with_a_clear_message(env, args, code, message):
    out = vlrerank("rank", *args, env=env)
    assert out.returncode == code
    assert message in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


def test_a_corrupt_image_names_the_document(env, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = vlrerank("rank", "--query", "q", "--doc", "fine", "--doc", str(bad), env=env)
    assert out.returncode == 2
    # The file and the option it came from, not the library's documents[1].image.
    assert f"error: {bad} (--doc #2): not a recognised image format" in out.stderr
    assert "documents[1]" not in out.stderr


def test_version_and_a_closed_pipe(env):
    from vlrerank import __version__

    out = vlrerank("--version", env=env)
    assert out.returncode == 0 and out.stdout.strip() == f"vlrerank {__version__}"
    # `vlrerank rank --json ... | head -c 1`: the reader leaves after one byte of more output than a
    # pipe buffers (64 KiB), so the write fails; the command must stop without a traceback.
    documents = [arg for i in range(120) for arg in ("--doc", f"document {i} " + "word " * 150)]
    command = [sys.executable, "-m", "vlrerank", "rank", "--json", "--query", "q", *documents]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(1) == b"{"
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=300) == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_a_missing_model_message_has_one_full_stop_per_sentence():
    from vlrerank.errors import ModelNotFoundError

    message = str(ModelNotFoundError("could not be found: Check your connection or try again.. Download it"))
    assert "again. Download" in message and ".." not in message


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "vlrerank"
    out = subprocess.run([str(script), "rank", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--query-image" in out.stdout


def test_rank_with_preprocessing_and_the_quality_gate(env, tmp_path):
    from PIL import Image, ImageFilter
    from skimage import data

    sharp = tmp_path / "sharp.png"
    blurry = tmp_path / "blurry.png"
    photo = Image.fromarray(data.coffee())
    photo.save(sharp)
    photo.resize((1024, 683)).filter(ImageFilter.GaussianBlur(4)).save(blurry)
    args = ["rank", "--query", "coffee", "--doc", str(sharp), "--doc", str(blurry), "--preset", "art"]
    out = vlrerank(*args, "--quality", "reject", env=env)
    assert out.returncode == 0, out.stderr
    assert "rejected doc 1: image quality" in out.stdout and "(blurry" in out.stdout
    assert "600x400 -> 800x608 (475)" in out.stdout
    payload = json.loads(vlrerank(*args, "--quality", "reject", "--json", env=env).stdout)
    assert [r["index"] for r in payload["results"]] == [0]
    assert payload["results"][0]["images"][0]["steps"][-1]["name"] == "crop"
    assert payload["rejected"][0]["index"] == 1


def test_rank_explain_prints_measured_sub_scores(env, photo):
    out = vlrerank("rank", "--query", "q", "--doc", photo, "--doc", "text", "--explain", "--json", env=env)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    for result in results:
        explanation = result["explanation"]
        assert set(explanation) == {"visual_match", "text_alignment", "cross_modal_consistency"}
        assert explanation["visual_match"]["value"] is None and explanation["visual_match"]["reason"]


def test_engine_settings_reach_the_model_and_bad_ones_are_named(env, photo):
    out = vlrerank(
        "rank", "--query", "a red car", "--doc", photo, "--max-pixels", "16384", "--dtype", "float32",
        "--token-budget", "512", "--max-batch-pairs", "2", "--json", env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (image,) = json.loads(out.stdout)["results"][0]["images"]
    assert image["model_width"] * image["model_height"] <= 16384 and image["visual_tokens"] <= 16
    bad = vlrerank("rank", "--query", "q", "--doc", "d", "--min-pixels", "9000000", env=env)
    assert bad.returncode == 2 and "min_pixels" in bad.stderr and "Traceback" not in bad.stderr
    for args, extra_env, named in (
        (["--max-pixels", "0"], {}, "max_pixels"),
        ([], {"VLRERANK_TOKEN_BUDGET": "lots"}, "VLRERANK_TOKEN_BUDGET"),
        ([], {"VLRERANK_MAX_QUEUE": "-1"}, "VLRERANK_MAX_QUEUE"),
    ):
        refused = vlrerank("serve", "--port", "0", *args, env={**env, **extra_env})
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert named in refused.stderr
