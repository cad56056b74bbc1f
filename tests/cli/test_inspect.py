"""``vlrerank inspect`` as a new user runs it: a real photo, a big generated one, bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ..conftest import noise_image

pytestmark = pytest.mark.slow


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "vlrerank", "inspect", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def real_photo() -> str:
    from skimage import data

    path = Path(data.data_dir) / "coffee.png"  # a photograph shipped inside scikit-image
    assert path.is_file()
    return str(path)


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("big") / "generated-4000x3000.jpg"
    noise_image(200, 150, 3).resize((4000, 3000), Image.Resampling.BICUBIC).save(path, quality=90)
    return str(path)


def test_table_for_a_real_photo_and_a_big_generated_one(real_photo, big_jpeg, tmp_path):
    out = inspect(real_photo, big_jpeg, "--preset", "general", "--blur", "0.3", "--save", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "coffee.png" in out.stdout and "600x400 (3:2)" in out.stdout
    assert "4000x3000 (4:3)" in out.stdout and "jpeg_draft" in out.stdout
    assert out.stdout.count("1024x768, 768 visual tokens") == 2
    assert "quality" in out.stdout and "blur(sigma=0.3)" in out.stdout
    saved = Image.open(tmp_path / "coffee.model.png")
    assert saved.size == (1024, 768)


def test_native_json_reports_the_models_own_resize(big_jpeg):
    out = inspect(big_jpeg, "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    (report,) = payload["images"]
    assert payload["config"]["mode"] == "native"
    assert (report["original_width"], report["original_height"]) == (4000, 3000)
    assert (report["output_width"], report["output_height"]) == (4000, 3000)  # nothing of ours applied
    assert (report["model_width"], report["model_height"], report["visual_tokens"]) == (1536, 1152, 1728)
    assert 0 <= report["quality"]["score"] <= 1


def test_a_bad_file_is_reported_and_the_others_still_shown(real_photo, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is text, not a picture")
    out = inspect(str(bad), real_photo, "--size", "320x240", "--mode", "fit", "--json")
    assert out.returncode == 2
    images = json.loads(out.stdout)["images"]
    assert images[0] == {"file": str(bad), "error": "not a recognised image format"}
    assert images[1]["output_width"] == 320 and images[1]["steps"][0]["name"] == "fit"
    assert "notes.png: not a recognised image format" in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--size", "big"], "--size must look like 1024x768"), (["--mode", "fit"], "needs a target")],
)
def test_bad_options_exit_2_with_a_clear_message(real_photo, args, message):
    out = inspect(real_photo, *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
