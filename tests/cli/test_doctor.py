"""``vlrerank doctor`` as users run it, on checkpoints in every published layout and on broken ones.

Only tokenizers are loaded (never the weights), so each run costs an interpreter start and about a
second; ``serve`` and ``rank`` are run where they must refuse a checkpoint or log its summary.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vlrerank.checkpoints import LAYOUTS, copy_with_layout

pytestmark = pytest.mark.slow

YES_ID, NO_ID = 9693, 2152  # Qwen's 'yes' and 'no', as published
COMMIT = "0123456789abcdef0123456789abcdef01234567"
EXIT_MODEL = 3


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    hub = tmp_path_factory.mktemp("hub")
    return {
        **os.environ,
        "VLRERANK_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(hub),
        "COLUMNS": "160",
    }


@pytest.fixture(scope="module")
def layouts(tiny_dir, tmp_path_factory) -> dict[str, Path]:
    """The session's tiny checkpoint in each layout; the weights are linked, not written again."""
    root = tmp_path_factory.mktemp("layouts")
    return {layout: copy_with_layout(tiny_dir, root / layout, layout) for layout in LAYOUTS}


@pytest.fixture(scope="module")
def own_prompt(layouts, tmp_path_factory) -> Path:
    """A checkpoint whose reranker template writes ``<Query>: `` with one space too many."""
    out = copy_with_layout(
        layouts["reranker-native"], tmp_path_factory.mktemp("own-prompt"), "reranker-native"
    )
    template = out / "chat_template.jinja"
    text = template.read_text(encoding="utf-8")
    assert "<Query>:" in text
    template.write_text(text.replace("<Query>:", "<Query>: "), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def hub_model(layouts, env) -> str:
    """``org/tiny-reranker`` in a Hugging Face cache, as ``hf download`` leaves it."""
    repo = Path(env["HF_HUB_CACHE"]) / "models--org--tiny-reranker"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    source = layouts["sentence-transformers"]
    for item in source.iterdir():
        (snapshot / item.name).symlink_to(item, target_is_directory=item.is_dir())
    return "org/tiny-reranker"


def vlrerank(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vlrerank", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def doctor_json(*args: str, env: dict[str, str]) -> tuple[int, dict]:
    out = vlrerank("doctor", *args, "--json", env=env)
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, json.loads(out.stdout)


def chosen(report: dict) -> tuple[str, str]:
    return report["template"]["source"], report["template"]["roles"]


def matching(report: dict) -> set[tuple[str, str]]:
    return {(p["source"], p["roles"]) for p in report["probes"] if p["matches"]}


@pytest.mark.parametrize(
    ("layout", "template", "matches"),
    [
        ("single-template", ("chat_template.jinja", "system/user"), {("chat_template.jinja", "system/user")}),
        (
            "sentence-transformers",
            ("chat_template.jinja", "system/user"),
            {
                ("chat_template.jinja", "system/user"),
                ("additional_chat_templates/reranker.jinja", "system/query/document"),
            },
        ),
        (
            "reranker-native",
            ("chat_template.jinja", "system/query/document"),
            {("chat_template.jinja", "system/query/document")},
        ),
    ],
)
def test_each_published_layout_is_usable_and_says_which_template(env, layouts, layout, template, matches):
    code, report = doctor_json(str(layouts[layout]), env=env)
    assert code == 0 and report["usable"] is True and report["problems"] == []
    assert chosen(report) == template
    assert "renders the published reranker prompt" in report["template"]["reason"]
    assert matching(report) == matches
    assert (report["tokens"]["yes_id"], report["tokens"]["no_id"]) == (YES_ID, NO_ID)
    if layout == "single-template":
        assert report["sentence_transformers_files"] == []
        assert report["tokens"]["logit_score_true_id"] is None
    else:
        assert "1_LogitScore/config.json" in report["sentence_transformers_files"]
        assert report["tokens"]["logit_score_true_id"] == YES_ID
        assert report["tokens"]["logit_score_false_id"] == NO_ID
    assert report["model_type"] == "qwen3_vl" and report["random_weights"] is True
    assert any("RANDOM" in warning for warning in report["warnings"])


def test_weights_are_described_from_their_headers(env, layouts):
    from safetensors import safe_open

    path = layouts["single-template"]
    _, report = doctor_json(str(path), env=env)
    weights = report["weights"]
    expected = 0
    for file in path.glob("*.safetensors"):
        with safe_open(file, framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                count = 1
                for n in handle.get_slice(name).get_shape():
                    count *= n
                expected += count
    assert weights["parameters"] == expected > 0
    assert weights["stored_dtype"] == "float32" and weights["dtypes"] == {"float32": expected}
    assert weights["total_bytes"] == sum(f.stat().st_size for f in path.glob("*.safetensors"))
    # This tiny model ties its LM head to the embeddings, so all of it goes to the device.
    assert report["runtime"] == {"device": "cpu", "dtype": "float32", "device_weight_bytes": 4 * expected}
    assert report["engine_pixels"]["min_tokens"] == 4 and report["engine_pixels"]["max_tokens"] == 1800
    assert report["processor_pixels"]["max_pixels"] != report["engine_pixels"]["max_pixels"]


def test_text_report_names_template_roles_tokens_and_verdict(env, layouts):
    out = vlrerank("doctor", str(layouts["reranker-native"]), env=env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "chat_template.jinja" in text and "system/query/document" in text
    assert str(YES_ID) in text and str(NO_ID) in text
    assert "1,800" in text and "published rule" in text
    assert "Verdict: OK" in text and "RANDOM" in text


def test_a_different_reranker_prompt_is_a_problem_showing_the_difference(env, own_prompt):
    out = vlrerank("doctor", str(own_prompt), env=env)
    assert out.returncode == EXIT_MODEL
    assert "Traceback" not in out.stderr
    assert "NOT USABLE" in out.stdout and "differs from the published" in out.stdout
    assert "+<Instruct>: TEXT0<Query>: " in out.stdout and "-<Instruct>: TEXT0<Query>:<" in out.stdout
    code, report = doctor_json(str(own_prompt), env=env)
    assert code == EXIT_MODEL and report["usable"] is False and report["template"] is None
    assert not matching(report)


def test_bundled_template_setting_accepts_a_different_prompt(env, own_prompt):
    code, report = doctor_json(str(own_prompt), "--chat-template", "bundled", env=env)
    assert code == 0, report["problems"]
    assert report["template"]["setting"] == "bundled"
    assert report["template"]["reason"] == "chosen by configuration"
    assert report["template"]["roles"] == "system/user"


def test_a_template_that_is_not_the_reranker_prompt_falls_back_to_the_bundled_one(env, layouts, tmp_path):
    path = copy_with_layout(layouts["single-template"], tmp_path / "ckpt", "single-template")
    template = (path / "chat_template.jinja").read_text().replace("<|im_start|>", "<|im_start|> ")
    (path / "chat_template.jinja").write_text(template)
    config = json.loads((path / "tokenizer_config.json").read_text())
    (path / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": template}))
    code, report = doctor_json(str(path), env=env)
    assert code == 0, report["problems"]
    assert report["template"]["source"] == "vlrerank's bundled template"
    assert "no template of the checkpoint renders" in report["template"]["reason"]
    assert not matching(report) and len(report["probes"]) == 2
    assert any("bundled" in warning for warning in report["warnings"])


def test_yes_no_ids_disagreeing_with_logit_score_is_a_problem(env, layouts, tmp_path):
    path = copy_with_layout(layouts["sentence-transformers"], tmp_path / "ckpt", "sentence-transformers")
    config = path / "1_LogitScore" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "true_token_id": 9454}))
    code, report = doctor_json(str(path), env=env)
    assert code == EXIT_MODEL
    assert [p for p in report["problems"] if "true_token_id 9454" in p and f"{YES_ID}/{NO_ID}" in p]


def test_broken_weights_are_a_problem(env, layouts, tmp_path):
    path = tmp_path / "ckpt"
    path.mkdir()
    for item in layouts["single-template"].iterdir():
        if item.suffix != ".safetensors":
            (path / item.name).symlink_to(item, target_is_directory=item.is_dir())
    (path / "model.safetensors").write_bytes(b"\xff" * 16)  # a header length far beyond the file
    code, report = doctor_json(str(path), env=env)
    assert code == EXIT_MODEL
    assert any("model.safetensors is not a readable safetensors file" in p for p in report["problems"])
    assert report["weights"]["parameters"] is None
    assert chosen(report) == ("chat_template.jinja", "system/user")  # the rest is still checked


def test_an_empty_directory_is_reported_not_raised(env, tmp_path):
    out = vlrerank("doctor", str(tmp_path), env=env)
    assert out.returncode == EXIT_MODEL
    assert "Traceback" not in out.stderr
    assert "no config.json" in out.stdout and "no weights" in out.stdout and "no tokenizer" in out.stdout
    code, report = doctor_json(str(tmp_path), env=env)
    assert code == EXIT_MODEL and report["path"] == str(tmp_path) and report["has_config"] is False


def test_another_model_type_is_not_a_reranker(env, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    code, report = doctor_json(str(tmp_path), env=env)
    assert code == EXIT_MODEL
    assert report["model_type"] == "bert"
    assert any("not a Qwen3-VL model" in p for p in report["problems"])
    out = vlrerank("doctor", str(tmp_path), env=env)
    assert out.returncode == EXIT_MODEL and "not a Qwen3-VL model" in out.stdout
    assert "Traceback" not in out.stderr


def test_missing_model_keeps_the_how_to_message(env, tmp_path):
    out = vlrerank("doctor", str(tmp_path / "nowhere" / "deeper"), env=env)
    assert out.returncode == EXIT_MODEL and "no model directory" in out.stdout


def test_hub_id_resolves_to_the_cached_commit(env, hub_model):
    code, report = doctor_json(hub_model, env=env)
    assert code == 0, report["problems"]
    assert report["commit"] == COMMIT and report["revision"] is None
    assert report["path"].endswith(f"snapshots/{COMMIT}")
    assert chosen(report) == ("chat_template.jinja", "system/user")
    out = vlrerank("doctor", hub_model, "--revision", COMMIT, env=env)
    assert out.returncode == 0 and COMMIT in out.stdout


def test_unknown_revision_fails_clearly(env, hub_model):
    out = vlrerank("doctor", hub_model, "--revision", "no-such-branch", env=env)
    assert out.returncode == EXIT_MODEL and "Traceback" not in out.stderr
    assert "'no-such-branch'" in out.stdout and "could not be found" in out.stdout
    assert "--revision no-such-branch" in out.stdout  # the how-to names the revision


def test_a_closed_pipe_is_not_a_traceback(env, layouts):
    process = subprocess.Popen(
        [sys.executable, "-m", "vlrerank", "doctor", str(layouts["single-template"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head` does once it has read enough; here before any write
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_serve_refuses_an_unusable_checkpoint_before_listening(env, own_prompt, hub_model):
    out = vlrerank("serve", "--model", str(own_prompt), "--port", "0", "--no-ui", env=env, timeout=120)
    assert out.returncode == EXIT_MODEL
    assert "differs from the published" in out.stderr and "serving" not in out.stdout
    out = vlrerank("serve", "--model", hub_model, "--revision", "nope", "--port", "0", env=env, timeout=120)
    assert out.returncode == EXIT_MODEL and "'nope'" in out.stderr and "hf download" in out.stderr
    assert "Traceback" not in out.stderr


def test_loading_logs_the_template_choice_and_the_commit(layouts, tmp_path, caplog):
    from vlrerank import EngineConfig
    from vlrerank.engine.loading import load_checkpoint

    snapshot = tmp_path / "models--org--tiny-reranker" / "snapshots" / COMMIT
    copy_with_layout(layouts["reranker-native"], snapshot, "reranker-native")
    with caplog.at_level(logging.INFO, logger="vlrerank.engine.loading"):
        load_checkpoint(str(snapshot), EngineConfig(device="cpu"))
    logged = caplog.text
    assert f"commit {COMMIT}" in logged
    assert "chat_template.jinja" in logged and "system/query/document" in logged
    assert "renders the published reranker prompt" in logged


def test_rank_logs_the_summary_and_accepts_the_checkpoint_options(env, layouts):
    path = str(layouts["reranker-native"])
    args = ["rank", "--model", path, "--query", "q", "--doc", "d", "--json", "--chat-template", "auto"]
    out = vlrerank(*args, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["results"][0]["index"] == 0
    assert path in out.stderr
    assert "system/query/document" in out.stderr and str(YES_ID) in out.stderr
    assert "1800 visual tokens" in out.stderr and "float32" in out.stderr
