"""Server settings: every limit in one place, each overridable by a ``VLRERANK_*`` variable."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from ..config import EngineConfig
from ..config_sources import Sourced, gather
from ..errors import ConfigError

# What Settings.load gathered, for the _Layered source of the Settings it builds.
_GIVEN: ContextVar[Sourced | None] = ContextVar("vlrerank_settings_given", default=None)


class Settings(BaseSettings):
    """Configuration of one server process (one model, one device).

    Example:
        ``VLRERANK_MAX_DOCUMENTS=50 VLRERANK_API_KEY=secret vlrerank serve --model tiny-random``
    """

    model_config = SettingsConfigDict(env_prefix="VLRERANK_", extra="forbid")

    model: str = Field("tiny-random", description="HF id, local checkpoint directory or tiny-random")
    engine: EngineConfig = Field(
        default_factory=EngineConfig,
        description="how the model runs (device, dtype, batching, image limits...); "
        "env VLRERANK_ENGINE__<FIELD> or VLRERANK_<FIELD>, [engine] in a config file",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_documents: int = Field(100, ge=1, description="documents per API request")
    ui_max_documents: int = Field(10, ge=1, description="candidates per UI request")
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="request body, counted on the stream")
    max_text_chars: int = Field(20_000, ge=1, description="characters per text field")
    max_upload_files: int = Field(32, ge=1, description="files in one multipart request")
    request_timeout_s: float = Field(120.0, gt=0)
    max_concurrent: int | None = Field(
        None,
        ge=1,
        description="requests inside the engine at once: their CPU preparation overlaps the others' "
        "forwards and ready requests share forwards; unset: 4 on CPU and on CUDA (measured in "
        "docs/benchmarks.md)",
    )
    max_queue: int = Field(8, ge=0, description="requests waiting beyond those; more get 429")
    api_key: str | None = Field(None, description="one key, named 'default' (see docs/security.md)")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="named keys, 'name:key,name:key' (or a JSON list of them)"
    )
    api_keys_file: str | None = Field(
        None, description="TOML file of named keys and their quotas; re-read on change and on SIGHUP"
    )
    public_metrics: bool = Field(False, description="/metrics answers without a key when keys are set")
    public_docs: bool = Field(False, description="/docs and /openapi.json answer without a key")
    quota_requests_per_minute: int = Field(0, ge=0, description="scoring requests per key (0: none)")
    quota_pairs_per_minute: int = Field(0, ge=0, description="pairs scored per key (0: none)")
    audit_log: str | None = Field(None, description="JSON lines, one per request: a file path, or '-'")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed to call the API from a browser ('*': any)"
    )
    ui: bool = Field(True, description="mount the web UI at /")
    strict_model: bool = Field(
        False, description="refuse (404) a request naming another model; off: any name is served"
    )
    strict_fields: bool = Field(
        False,
        description="refuse (422) a request field no dialect defines; off: ignored, named in the "
        "X-Vlrerank-Ignored-Fields header",
    )
    calibration: str | None = Field(
        None, description="calibrator file from `vlrerank eval`: every result gets a calibrated probability"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Python arguments first, then one source for the file and the environment, so that
        # every face (serve, config, a factory app) layers settings the same way.
        return init_settings, _Layered(settings_cls)

    @classmethod
    def load(
        cls,
        *,
        config_file: str | None = None,
        cli: dict[str, Any] | None = None,
        cli_engine: dict[str, Any] | None = None,
    ) -> tuple[Settings, Sourced]:
        """The settings from the command line, the environment and a config file (in that order
        of precedence), and where each came from.

        Raises:
            ConfigError: a bad value, naming the option, variable or file it came from.
        """
        sourced = gather(top_level=_top_level(), cli=cli, cli_engine=cli_engine, config_file=config_file)
        token = _GIVEN.set(sourced)
        try:
            return cls(), sourced
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])} ({sourced.origin(str(error['loc'][0]))}): "
                f"{error['msg']}"
                for error in exc.errors()
            )
            raise ConfigError(f"invalid server setting: {problems}") from None
        finally:
            _GIVEN.reset(token)

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """Lists from the environment: a JSON list, or comma-separated words."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


def _top_level() -> list[str]:
    return [name for name in Settings.model_fields if name != "engine"]


class _Layered(PydanticBaseSettingsSource):
    """The config file (``VLRERANK_CONFIG``) and the ``VLRERANK_*`` environment, as
    :func:`vlrerank.config_sources.gather` reads them for every face."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads everything at once

    def __call__(self) -> dict[str, Any]:
        sourced = _GIVEN.get() or gather(top_level=_top_level())
        values: dict[str, Any] = dict(sourced.top)
        if sourced.engine:
            values["engine"] = sourced.engine_config()
        return values
