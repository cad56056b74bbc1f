"""Server settings: every limit in one place, each overridable by a ``VLRERANK_*`` variable."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from ..config_sources import EngineSettings


class Settings(EngineSettings):
    """Configuration of one server process (one model, one device): :class:`EngineSettings`
    (``model``, ``engine``) and the server's own settings, read from the same sources.

    Example:
        ``VLRERANK_MAX_DOCUMENTS=50 VLRERANK_API_KEY=secret vlrerank serve --model tiny-random``
    """

    model_config = SettingsConfigDict(extra="forbid")
    # serve owns the config file: an unknown top-level key is an error, not someone else's.
    shared_file: ClassVar[bool] = False

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
    api_keys: list[str] = Field(
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
    cors_origins: list[str] = Field(
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
