"""The README's Python code blocks, run as written on the tiny random checkpoint (its scores are
meaningless; this checks that the documented calls, names and shapes are the library's)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from .conftest import noise_image

README = Path(__file__).resolve().parents[1] / "README.md"
REAL_MODEL = "Qwen/Qwen3-VL-Reranker-2B"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_python_blocks_run(tiny_dir, tmp_path, monkeypatch):
    blocks = python_blocks()
    assert len(blocks) >= 3 and all(REAL_MODEL in b for b in blocks[:2])
    # The files the examples name, in the folder they run in.
    noise_image(400, 300, 1).save(tmp_path / "photo.jpg")
    noise_image(300, 200, 2).save(tmp_path / "b.png")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(blocks, start=1):
            code = compile(
                block.replace(REAL_MODEL, str(tiny_dir)), f"README.md python block {number}", "exec"
            )
            exec(code, namespace)  # the README's own examples, on purpose
    assert "RANDOM weights" in printed.getvalue()  # print(ranked) says the scores mean nothing
