"""docs/deploy.md works when copied: every Kubernetes manifest and Serve config in it, read from the
page's own code blocks, validates against the real schemas (KubeRay's CRD for ``RayService``, Ray's
``ServeDeploySchema``), strict about unknown fields, and every ``import_path`` imports."""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

pytest.importorskip("ray.serve")
from ray.serve.schema import HTTPOptionsSchema, ServeApplicationSchema, ServeDeploySchema

from vlrerank.server.keys import keys_from_file
from vlrerank.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"
CRD_SCHEMA = ROOT / "tests" / "data" / "kuberay" / "rayservice-v1.schema.json"
# The fields of a core/v1 Secret (Kubernetes API reference); the guide's Secret may use no other.
SECRET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "v1"},
        "kind": {"const": "Secret"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}},
        },
        "type": {"type": "string"},
        "immutable": {"type": "boolean"},
        "data": {"type": "object", "additionalProperties": {"type": "string"}},
        "stringData": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


VLRERANK_VARIABLES = {"VLRERANK_CONFIG"} | {f"VLRERANK_{name.upper()}" for name in Settings.model_fields}


def code_blocks(language: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def yaml_documents() -> list[dict[str, Any]]:
    return [doc for block in code_blocks("yaml") for doc in yaml.safe_load_all(block) if doc]


def manifests(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml_documents() if doc.get("kind") == kind]


def serve_configs() -> list[dict[str, Any]]:
    """The Serve config files, and the config inside each RayService."""
    files = [doc for doc in yaml_documents() if "applications" in doc]
    embedded = [yaml.safe_load(doc["spec"]["serveConfigV2"]) for doc in manifests("RayService")]
    return files + embedded


def strict(schema: Any) -> Any:
    """The CRD schema as the API server applies it with strict field validation: an object with
    declared properties takes no others (Kubernetes prunes or rejects them; JSON Schema allows)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        schema["additionalProperties"] = False
    return schema


@pytest.fixture(scope="module")
def rayservice_validator() -> jsonschema.Draft7Validator:
    schema = strict(json.loads(CRD_SCHEMA.read_text(encoding="utf-8")))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator: jsonschema.Draft7Validator, manifest: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]


def test_the_guide_has_the_manifests_and_configs_this_file_checks():
    kinds = [doc.get("kind") for doc in yaml_documents() if "kind" in doc]
    assert sorted(kinds) == ["RayService", "Secret"]
    assert len(serve_configs()) == 2  # the config file, and the RayService's


def test_every_rayservice_validates_against_kuberays_crd_strictly(rayservice_validator):
    for manifest in manifests("RayService"):
        assert manifest["apiVersion"] == "ray.io/v1"
        assert errors(rayservice_validator, manifest) == []


def test_the_crd_check_refuses_unknown_and_misplaced_fields(rayservice_validator):
    """The check can fail: a misspelt field, and a field one level off, are both refused."""
    (manifest,) = manifests("RayService")
    misspelt = copy.deepcopy(manifest)
    misspelt["spec"]["rayClusterConfig"]["enableInTreeAutoscalling"] = True
    assert any("enableInTreeAutoscalling" in e for e in errors(rayservice_validator, misspelt))
    misplaced = copy.deepcopy(manifest)
    misplaced["spec"]["rayClusterConfig"]["headGroupSpec"]["volumes"] = [{"name": "keys"}]
    assert errors(rayservice_validator, misplaced)
    wrong_type = copy.deepcopy(manifest)
    wrong_type["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = "four"
    assert errors(rayservice_validator, wrong_type)


def test_every_secret_has_only_a_secrets_fields():
    validator = jsonschema.Draft7Validator(SECRET_SCHEMA)
    for manifest in manifests("Secret"):
        assert errors(validator, manifest) == []


def test_the_rayservice_mounts_its_keys_file_from_the_secret_on_every_pod():
    secrets = {doc["metadata"]["name"]: doc for doc in manifests("Secret")}
    for manifest in manifests("RayService"):
        config = yaml.safe_load(manifest["spec"]["serveConfigV2"])
        paths = [
            app["runtime_env"]["env_vars"]["VLRERANK_API_KEYS_FILE"]
            for app in config["applications"]
            if "VLRERANK_API_KEYS_FILE" in app.get("runtime_env", {}).get("env_vars", {})
        ]
        assert paths
        cluster = manifest["spec"]["rayClusterConfig"]
        pods = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
        for pod in pods:
            spec = pod["template"]["spec"]
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            for path in paths:
                found = []
                for container in spec["containers"]:
                    for mount in container.get("volumeMounts", []):
                        directory = mount["mountPath"].rstrip("/") + "/"
                        if path.startswith(directory) and "subPath" not in mount:
                            found.append((volumes[mount["name"]], path[len(directory) :]))
                assert found, (pod.get("groupName", "head"), path)
                for volume, file_name in found:
                    secret = secrets[volume["secret"]["secretName"]]
                    assert file_name in {**secret.get("stringData", {}), **secret.get("data", {})}


def test_every_secrets_keys_file_is_one_the_server_reads(tmp_path):
    for manifest in manifests("Secret"):
        for name, text in manifest["stringData"].items():
            (tmp_path / name).write_text(text, encoding="utf-8")
            assert [key.name for key in keys_from_file(str(tmp_path / name))] == ["search-app"]


def test_worker_groups_with_min_and_max_replicas_have_the_autoscaler_on():
    for manifest in manifests("RayService"):
        cluster = manifest["spec"]["rayClusterConfig"]
        scaled = [g for g in cluster["workerGroupSpecs"] if "minReplicas" in g or "maxReplicas" in g]
        assert not scaled or cluster.get("enableInTreeAutoscaling") is True


def test_every_serve_config_validates_against_rays_schema_strictly():
    for config in serve_configs():
        # ServeDeploySchema lets unknown top-level fields through (for newer configs); the guide's
        # own configs must not need that.
        assert set(config) <= set(ServeDeploySchema.model_fields), config
        ServeDeploySchema.model_validate(config)
        assert set(config.get("http_options", {})) <= set(HTTPOptionsSchema.model_fields)
        for app in config["applications"]:
            assert set(app) <= set(ServeApplicationSchema.model_fields), app
            # build_app's arguments: the replica spec's, or a server setting by its field name.
            spec = {"replicas", "cpus", "gpus", "max_replicas"}
            assert set(app["args"]) - spec <= set(Settings.model_fields), app["args"]
            assert set(app.get("runtime_env", {}).get("env_vars", {})) <= VLRERANK_VARIABLES


def test_every_import_path_in_the_guide_imports():
    paths = [app["import_path"] for config in serve_configs() for app in config["applications"]]
    commands = [line for block in code_blocks("bash") for line in block.splitlines()]
    paths += [
        word for line in commands if line.startswith("serve run ") for word in line.split() if ":" in word
    ]
    assert len(paths) >= 3
    for path in paths:
        module, _, attribute = path.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), path
