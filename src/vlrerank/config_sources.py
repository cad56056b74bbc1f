"""Where settings come from: defaults, a TOML file, ``VLRERANK_*`` variables and the command line.

One precedence everywhere (``serve``, ``rank``, ``study``, ``config``, the server's ``Settings``):
command line > environment > config file > the defaults in :class:`vlrerank.config.EngineConfig`
and the server's ``Settings``. :func:`gather` also records where each value came from, which is
what ``vlrerank config`` prints. See ``docs/configuration.md``.

A config file is TOML: top-level keys are server settings (``model``, ``port``, ...), the
``[engine]`` table holds :class:`EngineConfig` fields::

    model = "Qwen/Qwen3-VL-Reranker-2B"
    [engine]
    dtype = "bfloat16"
    torch_compile = true

In the environment an engine field is ``VLRERANK_ENGINE__<FIELD>`` (``VLRERANK_ENGINE__TORCH_COMPILE=true``)
or, shorter, ``VLRERANK_<FIELD>`` (``VLRERANK_DEVICE=cuda``); giving both with different values
is an error rather than a silent choice.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import EngineConfig
from .errors import ConfigError

ENV_PREFIX = "VLRERANK_"
ENGINE_ENV_PREFIX = "VLRERANK_ENGINE__"
CONFIG_FILE_ENV = "VLRERANK_CONFIG"
COMMAND_LINE = "command line"
DEFAULT = "default"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"", "none", "null"}


def engine_fields() -> dict[str, Any]:
    """Every :class:`EngineConfig` field and its type."""
    hints = typing.get_type_hints(EngineConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(EngineConfig)}


def coerce_engine_value(name: str, value: Any, *, where: str) -> Any:
    """``value`` as the type of ``EngineConfig.<name>``; strings (env, ``--engine``) are parsed.

    Raises:
        ConfigError: an unknown field, or a value of the wrong kind, naming ``where`` it was given.
    """
    fields = engine_fields()
    if name not in fields:
        raise ConfigError(
            f"{where}: EngineConfig has no field {name!r} (fields: {', '.join(sorted(fields))})"
        )
    kind = fields[name]
    optional = False
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(kind) if m is not type(None)]
        optional = len(members) < len(typing.get_args(kind))
        kind = members[0]
    if not isinstance(value, str):
        return value  # a TOML or Python value: EngineConfig validates it
    text = value.strip()
    if optional and text.lower() in _NONE:
        return None
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{where}: {name} must be true or false, got {value!r}")
    if kind in (int, float):
        try:
            return kind(text.replace("_", ""))
        except ValueError:
            word = "an integer" if kind is int else "a number"
            raise ConfigError(f"{where}: {name} must be {word}, got {value!r}") from None
    return text


def parse_assignments(items: Iterable[str], *, option: str = "--engine") -> dict[str, str]:
    """``["dtype=bfloat16", "torch_compile=true"]`` as a dict; dashes in names read as underscores."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} takes KEY=VALUE (e.g. {option} dtype=bfloat16), got {item!r}")
        parsed[key.strip().replace("-", "_")] = value
    return parsed


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The TOML file's contents. Raises ConfigError for a missing or malformed file."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    engine = data.get("engine", {})
    if not isinstance(engine, dict):
        raise ConfigError(f"config file {path}: 'engine' must be a table ([engine]), got {engine!r}")
    return data


@dataclass(frozen=True)
class Sourced:
    """Settings that were given somewhere, and where. Defaults are not listed.

    Attributes:
        top: top-level (server) settings given, by name; values as given (strings from the env).
        engine: EngineConfig fields given, parsed to their types.
        origins: ``"model"`` or ``"engine.dtype"`` → ``"command line"``, ``"env VLRERANK_..."``
            or ``"file PATH"``.
    """

    top: dict[str, Any] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def origin(self, key: str) -> str:
        return self.origins.get(key, DEFAULT)

    def engine_config(self, base: EngineConfig | None = None) -> EngineConfig:
        """``base`` (default: EngineConfig's defaults) with every given engine field applied.

        Raises:
            ConfigError: a value EngineConfig refuses, saying where that value was given.
        """
        try:
            return (base or EngineConfig()).with_(**self.engine)
        except ConfigError as exc:
            named = re.findall(r"EngineConfig\.(\w+)", str(exc))
            where = sorted({self.origin(f"engine.{name}") for name in named} - {DEFAULT})
            raise ConfigError(f"{exc} (from {', '.join(where)})" if where else str(exc)) from None


def gather(
    *,
    top_level: Collection[str] = (),
    cli: Mapping[str, Any] | None = None,
    cli_engine: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    strict: bool = True,
) -> Sourced:
    """Collect settings from a config file, the environment and the command line, in that order
    of increasing precedence.

    Args:
        top_level: the names of the caller's own (non-engine) settings; a file key or
            ``VLRERANK_*`` variable is read for these and for EngineConfig fields only.
        cli: top-level values from the command line (``None`` values were not given).
        cli_engine: engine fields from the command line (``--engine k=v``, ``--dtype``, ...).
        config_file: a TOML file; ``None`` uses ``VLRERANK_CONFIG`` when that is set.
        environ: the environment (default: ``os.environ``).
        strict: an unknown top-level key in the file is an error; ``False`` skips it (a face
            that reads only the engine settings of a file shared with ``serve``).

    Raises:
        ConfigError: an unknown key in the file, an unknown engine field, a malformed value, or one
            engine field given two different values in the environment.
    """
    environ = os.environ if environ is None else environ
    top: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    origins: dict[str, str] = {}
    engine_names = set(engine_fields())

    path = config_file if config_file is not None else environ.get(CONFIG_FILE_ENV) or None
    if path is not None:
        data = read_config_file(path)
        where = f"file {path}"
        for key, value in data.items():
            if key == "engine":
                for name, item in value.items():
                    engine[name] = coerce_engine_value(name, item, where=f"{where} [engine]")
                    origins[f"engine.{name}"] = where
            elif key in top_level:
                top[key] = value
                origins[key] = where
            elif strict or key in engine_names:
                hint = (
                    f" (put engine settings under [engine]: [engine] {key} = ...)"
                    if key in engine_names
                    else ""
                )
                raise ConfigError(f"{where}: unknown setting {key!r}{hint}")

    for name in top_level:
        variable = ENV_PREFIX + name.upper()
        if variable in environ:
            top[name] = environ[variable]
            origins[name] = f"env {variable}"
    for variable in sorted(environ):
        name = variable.removeprefix(ENGINE_ENV_PREFIX).lower()
        if variable.startswith(ENGINE_ENV_PREFIX) and name not in engine_names:
            raise ConfigError(
                f"{variable}: EngineConfig has no field {name!r} (fields: {', '.join(sorted(engine_names))})"
            )
    for name in sorted(engine_names):
        given = {
            variable: environ[variable]
            for variable in (ENGINE_ENV_PREFIX + name.upper(), ENV_PREFIX + name.upper())
            if variable in environ and name not in top_level
        }
        if not given:
            continue
        values = {
            variable: coerce_engine_value(name, text, where=variable) for variable, text in given.items()
        }
        if len(set(map(repr, values.values()))) > 1:
            shown = " and ".join(f"{variable}={text!r}" for variable, text in given.items())
            raise ConfigError(f"{shown} disagree; set one of them")
        variable, value = next(iter(values.items()))
        engine[name] = value
        origins[f"engine.{name}"] = f"env {variable}"

    for key, value in (cli or {}).items():
        if value is not None:
            top[key] = value
            origins[key] = COMMAND_LINE
    for name, value in (cli_engine or {}).items():
        if value is not None:
            engine[name] = coerce_engine_value(name, value, where=COMMAND_LINE)
            origins[f"engine.{name}"] = COMMAND_LINE
    return Sourced(top=top, engine=engine, origins=origins)
