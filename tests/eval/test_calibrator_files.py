"""Bad calibrator files are refused by every face, naming the file and the field; none is served."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vlrerank import Reranker
from vlrerank.calibration import Calibrator, load_calibrator
from vlrerank.errors import ConfigError
from vlrerank.eval.calibrate import fit_calibrator
from vlrerank.server.ui.render import comparison

INSTRUCTION = "Given a search query, retrieve relevant candidates that answer the query."


def good(model: str) -> dict[str, Any]:
    return {"format": "vlrerank-calibrator", "version": 1, "method": "platt",
            "params": {"slope": 1.5, "intercept": -0.5}, "model": model, "instruction": INSTRUCTION,
            "preprocess": "default", "threshold": 0.5, "threshold_rule": "max-f1"}  # fmt: skip


def isotonic(model: str, x: list[Any], y: list[Any]) -> dict[str, Any]:
    return {**good(model), "method": "isotonic", "params": {"x": x, "y": y}}


# name -> (how the file differs from a good one, the field the refusal must name)
BAD: dict[str, tuple[Any, str]] = {
    "other model": (lambda m: {**good(m), "model": "Qwen/Qwen3-VL-Reranker-8B"}, "model"),
    "NaN slope": (lambda m: {**good(m), "params": {"slope": float("nan"), "intercept": 0.0}}, "params.slope"),
    "Infinity intercept": (
        lambda m: {**good(m), "params": {"slope": 1.0, "intercept": float("inf")}},
        "params.intercept",
    ),
    "string slope": (lambda m: {**good(m), "params": {"slope": "nan", "intercept": 0.0}}, "params.slope"),
    "string threshold": (lambda m: {**good(m), "threshold": "0.5"}, "threshold"),
    "string isotonic x": (lambda m: isotonic(m, ["0", "1"], [0.1, 0.9]), "params.x"),
    "y out of range": (lambda m: isotonic(m, [0.0, 1.0], [0.2, 1.7]), "params.y"),
    "unsorted x": (lambda m: isotonic(m, [1.0, 0.0, 2.0], [0.1, 0.2, 0.3]), "x must be strictly ascending"),
    "negative slope": (lambda m: {**good(m), "params": {"slope": -2.0, "intercept": 0.0}}, "params.slope"),
}


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{name.replace(' ', '-')}.json"
    path.write_text(json.dumps(data))  # json writes NaN and Infinity as Python reads them
    return path


@pytest.mark.parametrize("case", list(BAD))
def test_the_python_api_refuses_each_bad_file_naming_the_field(
    case: str, tiny_dir: Path, tmp_path: Path
) -> None:
    change, field = BAD[case]
    path = write(tmp_path, case, change(str(tiny_dir)))
    with pytest.raises(ConfigError) as refused:
        Reranker(str(tiny_dir), calibration=path)
    assert str(refused.value).startswith(f"{path}: ") and field in str(refused.value)


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vlrerank", *args], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


@pytest.mark.slow  # a subprocess per bad file (~10 s each on 2 cores)
def test_rank_refuses_each_bad_file_with_exit_2(tiny_dir: Path, tmp_path: Path) -> None:
    for case, (change, field) in BAD.items():
        path = write(tmp_path, case, change(str(tiny_dir)))
        out = cli(
            "rank", "--model", str(tiny_dir), "--query", "cats", "--doc", "a cat", "--calibration", str(path)
        )
        assert out.returncode == 2, (case, out.stderr)
        assert f"{path}: " in out.stderr and field in out.stderr and "Traceback" not in out.stderr, case


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_refuses_each_bad_file_before_its_port_opens(tiny_dir: Path, tmp_path: Path) -> None:
    for case, (change, field) in BAD.items():
        path = write(tmp_path, case, change(str(tiny_dir)))
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "vlrerank", "serve", "--model", str(tiny_dir), "--no-ui",
             "--port", str(port), "--calibration", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        accepted = False
        deadline = time.monotonic() + 240
        while process.poll() is None and time.monotonic() < deadline:
            with socket.socket() as probe:
                accepted = accepted or probe.connect_ex(("127.0.0.1", port)) == 0
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
        assert process.returncode == 2 and not accepted, (case, stderr)
        assert f"{path}: " in stderr and field in stderr and "Traceback" not in stderr, case


def test_an_inverted_fit_is_refused_unless_allowed_and_then_named(tmp_path: Path, tiny_dir: Path) -> None:
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 3, 400)
    labels = (rng.random(400) < 1 / (1 + np.exp(logits))).astype(int)  # relevance falls with the score
    with pytest.raises(ConfigError, match=r"inverted.*--allow-inverted"):
        fit_calibrator(logits, labels, model=str(tiny_dir), instruction=INSTRUCTION)
    fit = fit_calibrator(logits, labels, model=str(tiny_dir), instruction=INSTRUCTION, allow_inverted=True)
    assert fit.calibrator.inverted
    path = fit.calibrator.save(tmp_path / "inverted.json")
    assert json.loads(path.read_text())["inverted"] is True
    assert load_calibrator(path, model=str(tiny_dir)).inverted  # allowed: loads, and says so
    out = cli(
        "rank", "--model", str(tiny_dir), "--query", "cats", "--doc", "a cat", "--calibration", str(path)
    )
    assert out.returncode == 0, out.stderr
    assert "INVERTED" in out.stderr


def test_rank_warns_when_the_instruction_differs_from_the_fit(tiny_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "good", good(str(tiny_dir)))
    args = [
        "rank",
        "--model",
        str(tiny_dir),
        "--query",
        "cats",
        "--doc",
        "a cat",
        "--calibration",
        str(path),
        "--json",
    ]
    same = cli(*args)
    assert same.returncode == 0 and "calibrator fitted with" not in same.stderr, same.stderr
    other = cli(*args, "--instruction", "Find pictures of pets.")
    assert other.returncode == 0, other.stderr
    assert other.stderr.count("calibrator fitted with instruction") == 1
    assert all(0 <= r["probability"] <= 1 for r in json.loads(other.stdout)["results"])


def test_the_ab_view_says_which_calibrator_applies_to_each_side(reranker: Reranker) -> None:
    calibrator = Calibrator("platt", {"slope": 1.0, "intercept": 0.0}, model="m", instruction="Find cats.")
    documents = ["a cat", "a violin"]
    a = calibrator.apply(reranker.rank("cats", documents, instruction="Find cats."))
    b = calibrator.apply(reranker.rank("cats", documents, instruction="Find violins."))
    html = comparison(a, b, documents, {}, None)
    side_a, side_b = html.split("data-side='B'")
    assert "calibrator fitted for this instruction" in side_a
    assert "no calibrator fits this instruction" in side_b and "Find cats." in side_b
    plain = comparison(reranker.rank("cats", documents), reranker.rank("cats", documents, instruction="x"),
                       documents, {}, None)  # fmt: skip
    assert "calibrator" not in plain


def test_extreme_logits_give_probabilities_0_and_1_not_nan() -> None:
    calibrator = Calibrator("platt", {"slope": 1.0, "intercept": 0.0}, model="m", instruction="i")
    assert calibrator.probabilities([1e308, -1e308]).tolist() == [1.0, 0.0]
