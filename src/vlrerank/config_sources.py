"""Where settings come from: defaults, a TOML file, ``VLRERANK_*`` variables and the command line.

One mechanism for every face (``serve``, ``rank``, ``study``, ``doctor``, ``eval``, ``config``, a
server app built by ``create_app``): :class:`EngineSettings` (and the server's ``Settings``, which
extends it) is a pydantic-settings class whose sources are the layers below, in this precedence:
command line > environment > config file > the fields' defaults. Each layer records where each of
its values came from, which is what ``vlrerank config`` prints; pydantic validates the merged
values once, and each validation error is traced to its source through its ``loc``. See
``docs/configuration.md``.

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

import contextlib
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, Field, PrivateAttr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .config import EngineConfig, describe_error, field_kind
from .errors import ConfigError

ENV_PREFIX = "VLRERANK_"
ENGINE_ENV_PREFIX = "VLRERANK_ENGINE__"
CONFIG_FILE_ENV = "VLRERANK_CONFIG"
COMMAND_LINE = "command line"
DEFAULT = "default"

_NONE = {"", "none", "null"}
# A check across fields fails on the field validated last; every field it reads may be the one to fix.
_CHECKED_TOGETHER = {"max_pixels": ("min_pixels", "max_pixels")}


def parse_assignments(items: Iterable[str], *, option: str = "--engine") -> dict[str, str]:
    """``["dtype=bfloat16", "torch_compile=true"]`` as a dict; dashes in names read as underscores."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} takes KEY=VALUE (e.g. {option} dtype=bfloat16), got {item!r}")
        parsed[key.strip().replace("-", "_")] = value
    return parsed


def parse_engine_text(values: Mapping[str, Any]) -> dict[str, Any]:
    """Engine fields given as text (the environment, ``--engine``, a quoted TOML value) as their
    field's type: ``"true"``/``"on"`` → ``True``, ``"4_096"`` → ``4096``, ``"none"`` → ``None`` for
    an optional field. Text that does not parse, and unknown names, are passed on unchanged for
    :class:`EngineConfig` to refuse, naming the field."""
    parsed: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, str) and name in EngineConfig.model_fields:
            kind, _, optional = field_kind(name)
            text = value.strip()
            if optional and text.lower() in _NONE:
                value = None
            elif kind in (bool, int, float):
                with contextlib.suppress(ValidationError):
                    value = TypeAdapter(kind).validate_python(text)
            else:
                value = text
        parsed[name] = value
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


class _Layer:
    """One layer of :class:`Layered`: called, it gives its values and records where each came
    from: ``"model"`` or ``"engine.dtype"`` → ``"command line"``, ``"env VLRERANK_..."`` or
    ``"file PATH"``."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        self.settings_cls = settings_cls
        self.origins: dict[str, str] = {}

    def __call__(self) -> dict[str, Any]:
        raise NotImplementedError

    def _values(
        self, top: Mapping[str, tuple[Any, str]], engine: Mapping[str, tuple[Any, str]]
    ) -> dict[str, Any]:
        """The layer's values from ``{name: (value, where)}``, recording each ``where``."""
        self.origins = {name: where for name, (_, where) in top.items()}
        self.origins.update({f"engine.{name}": where for name, (_, where) in engine.items()})
        values = {name: value for name, (value, _) in top.items()}
        if engine:
            values["engine"] = parse_engine_text({name: value for name, (value, _) in engine.items()})
        return values

    def _server_names(self) -> list[str]:
        return [name for name in self.settings_cls.model_fields if name != "engine"]


class CommandLineLayer(_Layer):
    """Options given on the command line (``None``: not given)."""

    def __init__(
        self, settings_cls: type[BaseSettings], top: Mapping[str, Any], engine: Mapping[str, Any]
    ) -> None:
        super().__init__(settings_cls)
        self.top, self.engine = top, engine

    def __call__(self) -> dict[str, Any]:
        return self._values(
            {name: (value, COMMAND_LINE) for name, value in self.top.items() if value is not None},
            {name: (value, COMMAND_LINE) for name, value in self.engine.items() if value is not None},
        )


class EnvironmentLayer(_Layer):
    """``VLRERANK_<SETTING>``, and ``VLRERANK_ENGINE__<FIELD>`` or ``VLRERANK_<FIELD>`` for engine
    fields. An unknown ``VLRERANK_ENGINE__*`` is passed on, for validation to refuse (a typo would
    otherwise go unnoticed)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings_cls)
        self.environ = os.environ if environ is None else environ

    def __call__(self) -> dict[str, Any]:
        environ = self.environ
        top = {
            name: (environ[ENV_PREFIX + name.upper()], f"env {ENV_PREFIX}{name.upper()}")
            for name in self._server_names()
            if ENV_PREFIX + name.upper() in environ
        }
        engine: dict[str, tuple[Any, str]] = {}
        for variable in sorted(environ):
            name = variable.removeprefix(ENGINE_ENV_PREFIX).lower()
            if variable.startswith(ENGINE_ENV_PREFIX) and name not in EngineConfig.model_fields:
                engine[name] = (environ[variable], f"env {variable}")
        for name in EngineConfig.model_fields:
            given = {
                variable: environ[variable]
                for variable in (ENGINE_ENV_PREFIX + name.upper(), ENV_PREFIX + name.upper())
                if variable in environ
            }
            if not given:
                continue
            values = [parse_engine_text({name: text})[name] for text in given.values()]
            if len(set(map(repr, values))) > 1:
                shown = " and ".join(f"{variable}={text!r}" for variable, text in given.items())
                raise ConfigError(f"{shown} disagree; set one of them")
            variable, text = next(iter(given.items()))
            engine[name] = (text, f"env {variable}")
        return self._values(top, engine)


class ConfigFileLayer(_Layer):
    """The TOML file ``path``, else ``$VLRERANK_CONFIG``, else none."""

    def __init__(self, settings_cls: type[BaseSettings], path: str | Path | None = None) -> None:
        super().__init__(settings_cls)
        self.path = path if path is not None else os.environ.get(CONFIG_FILE_ENV) or None

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        where = f"file {self.path}"
        top: dict[str, tuple[Any, str]] = {}
        engine: dict[str, tuple[Any, str]] = {}
        for key, value in read_config_file(self.path).items():
            if key == "engine":
                engine = {name: (item, where) for name, item in value.items()}
            elif key in EngineConfig.model_fields:
                hint = f"put engine settings under [engine]: [engine] {key} = ..."
                raise ConfigError(f"{where}: unknown setting {key!r} ({hint})")
            elif key in self.settings_cls.model_fields or not getattr(
                self.settings_cls, "shared_file", False
            ):
                top[key] = (value, where)  # an unknown key is refused by validation, naming the file
        return self._values(top, engine)


class Layered(PydanticBaseSettingsSource):
    """The command line, the environment and the config file as one source: each layer read on
    its own (so that every value's source is known, :attr:`origins`), then merged in that order of
    precedence, engine fields one by one."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        *,
        cli: Mapping[str, Any] | None = None,
        cli_engine: Mapping[str, Any] | None = None,
        config_file: str | Path | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self.layers = (
            CommandLineLayer(settings_cls, cli or {}, cli_engine or {}),
            EnvironmentLayer(settings_cls),
            ConfigFileLayer(settings_cls, config_file),
        )
        self.origins: dict[str, str] = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every layer at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        self.origins = {}
        for layer in reversed(self.layers):  # the most precedent last
            given = layer()
            engine = {**values.get("engine", {}), **given.pop("engine", {})}
            values.update(given)
            if engine:
                values["engine"] = engine
            self.origins.update(layer.origins)
        return values


class EngineSettings(BaseSettings):
    """What every face reads: the model, and how it runs (:class:`EngineConfig`).

    Example:
        ``EngineSettings.load(config_file="vlrerank.toml", cli_engine={"dtype": "bfloat16"})``
    """

    model_config = SettingsConfigDict(extra="forbid")
    # These faces read a config file shared with ``serve`` and leave its server keys alone.
    shared_file: ClassVar[bool] = True

    model: str = Field("tiny-random", description="HF id, local checkpoint directory or tiny-random")
    engine: EngineConfig = Field(
        default_factory=EngineConfig,
        description="how the model runs (device, dtype, batching, image limits...); "
        "env VLRERANK_ENGINE__<FIELD> or VLRERANK_<FIELD>, [engine] in a config file",
    )
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Python arguments first, then the same layers as load(), so that a plain Settings() built
        # in Python reads the environment and the config file as every face does.
        return init_settings, Layered(settings_cls)

    @classmethod
    def load(
        cls,
        *,
        config_file: str | Path | None = None,
        cli: Mapping[str, Any] | None = None,
        cli_engine: Mapping[str, Any] | None = None,
    ) -> Self:
        """The settings from the command line, the environment and a config file (in that order
        of precedence), each value's source recorded (:meth:`origin`).

        Args:
            config_file: a TOML file; ``None`` uses ``$VLRERANK_CONFIG`` when that is set.
            cli: top-level settings from the command line (``None`` values were not given).
            cli_engine: engine fields from the command line (``--engine k=v``, ``--dtype``, ...).

        Raises:
            ConfigError: a bad value or an unknown setting, naming the option, variable or file
                it came from.
        """
        layered = Layered(cls, cli=cli, cli_engine=cli_engine, config_file=config_file)
        values = layered()
        # Validated as BaseSettings.__init__ validates what its sources gathered, these values
        # being all of them (a second reading of the sources could disagree with --config).
        settings = cls.__new__(cls)
        try:
            BaseModel.__init__(settings, **values)
        except ValidationError as exc:
            raise ConfigError(explain(exc, layered.origins)) from None
        settings._origins = layered.origins
        return settings

    def origin(self, key: str) -> str:
        """Where ``key`` (``"port"``, ``"engine.dtype"``) came from: ``"command line"``,
        ``"env VLRERANK_..."``, ``"file PATH"`` or ``"default"`` (also for settings built
        without :meth:`load`)."""
        return self._origins.get(key, DEFAULT)

    def engine_given(self) -> dict[str, Any]:
        """The engine fields set by some source rather than left at their defaults."""
        return {
            name: value
            for name, value in self.engine.model_dump().items()
            if self.origin(f"engine.{name}") != DEFAULT
        }


def explain(exc: ValidationError, origins: Mapping[str, str]) -> str:
    """The validation errors of settings, each naming the field and the source of its value."""
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) > 1 and loc[0] == "engine":
            name = str(loc[1])
            related = _CHECKED_TOGETHER.get(name, (name,)) if error["type"] == "value_error" else (name,)
            given = sorted({origins.get(f"engine.{field}", DEFAULT) for field in related} - {DEFAULT})
            text = describe_error(error)
            problems.append(f"{text} (from {', '.join(given)})" if given else text)
            continue
        name = str(loc[0]) if loc else ""
        where = origins.get(name, DEFAULT)
        if error["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown setting {name!r}")
        else:
            problems.append(f"invalid server setting: {name} ({where}): {error['msg']}")
    return "; ".join(problems)
