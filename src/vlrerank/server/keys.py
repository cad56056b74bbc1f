"""Named API keys: from ``VLRERANK_API_KEY``, ``VLRERANK_API_KEYS`` and a keys file, rotated without
a restart.

The keys file is TOML (read with the standard library's ``tomllib``), one table per key::

    [keys.alice]
    key = "a-long-random-string"        # or: sha256 = "<hex digest of the key>"
    requests_per_minute = 600           # optional overrides of the server's default quotas
    pairs_per_minute = 20000

It is re-read when its modification time or size changes (checked on each request, a ``stat``) and on
SIGHUP. A file that no longer parses keeps the keys that were loaded before, and the log says why:
a typo while rotating must not open the server or lock everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import tomllib
from dataclasses import dataclass

from ..errors import ConfigError
from .settings import Settings

logger = logging.getLogger(__name__)
_QUOTA_FIELDS = ("requests_per_minute", "pairs_per_minute")


@dataclass(frozen=True)
class ApiKey:
    """One key: its name (what logs, metrics and quotas use) and the SHA-256 of its secret."""

    name: str
    digest: bytes
    requests_per_minute: int | None = None  # None: the server's default
    pairs_per_minute: int | None = None


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def keys_from_settings(settings: Settings) -> list[ApiKey]:
    keys = [ApiKey("default", digest(settings.api_key))] if settings.api_key else []
    for item in settings.api_keys:
        name, sep, secret = item.partition(":")
        if not sep or not name.strip() or not secret.strip():
            raise ConfigError(f"VLRERANK_API_KEYS entries look like name:key, got {name.strip()!r}:…")
        keys.append(ApiKey(name.strip(), digest(secret.strip())))
    return keys


def keys_from_file(path: str) -> list[ApiKey]:
    """Parse a keys file; every problem is a ConfigError naming the file and the key."""
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the keys file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the keys file {path} is not valid TOML: {exc}") from None
    entries = table.get("keys", {})
    if not isinstance(entries, dict) or set(table) - {"keys"}:
        raise ConfigError(f"the keys file {path} holds [keys.<name>] tables only")
    keys = []
    for name, entry in entries.items():
        where = f"{path}: keys.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table with 'key' or 'sha256'")
        unknown = set(entry) - {"key", "sha256", *_QUOTA_FIELDS}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if isinstance(entry.get("key"), str) and entry["key"]:
            key_digest = digest(entry["key"])
        elif isinstance(entry.get("sha256"), str):
            try:
                key_digest = bytes.fromhex(entry["sha256"])
            except ValueError:
                key_digest = b""
            if len(key_digest) != 32:
                raise ConfigError(f"{where}: sha256 must be 64 hex digits")
        else:
            raise ConfigError(f"{where} needs a non-empty 'key' (or 'sha256')")
        quotas = {}
        for field in _QUOTA_FIELDS:
            value = entry.get(field)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"{where}: {field} must be a whole number >= 0 (0: no limit)")
            quotas[field] = value
        keys.append(ApiKey(name, key_digest, **quotas))
    return keys


class KeyRing:
    """The keys a server accepts now. ``identify`` is the only way a secret is compared."""

    def __init__(self, settings: Settings) -> None:
        self._static = keys_from_settings(settings)
        self._path = settings.api_keys_file
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys = self._static + (keys_from_file(self._path) if self._path else [])
        self._check_names(self._keys)
        self._stamp = self._file_stamp()

    @property
    def active(self) -> bool:
        """Whether keys are required (false: the server is open, as for local use)."""
        self.refresh()
        return bool(self._keys) or self._path is not None

    @property
    def names(self) -> list[str]:
        return [k.name for k in self._keys]

    def get(self, name: str) -> ApiKey | None:
        return next((k for k in self._keys if k.name == name), None)

    def identify(self, secret: str) -> ApiKey | None:
        """The key this secret is, or None. Every key is compared, in constant time, on digests of
        equal length: neither which key matched nor how much of one matched shows in the timing."""
        self.refresh()
        presented = digest(secret)
        found = None
        for key in self._keys:
            if hmac.compare_digest(presented, key.digest):
                found = key
        return found

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the keys file if it changed (or always, with ``force``: SIGHUP)."""
        if self._path is None:
            return
        stamp = self._file_stamp()
        if not force and stamp == self._stamp:
            return
        with self._lock:
            if not force and stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                keys = self._static + keys_from_file(self._path)
                self._check_names(keys)
            except ConfigError as exc:
                logger.error("keeping the %d keys loaded before: %s", len(self._keys), exc)
                return
            if [(k.name, k.digest) for k in keys] != [(k.name, k.digest) for k in self._keys] or force:
                logger.warning("API keys reloaded from %s: %s", self._path, ", ".join(k.name for k in keys))
            self._keys = keys

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self._path) if self._path else None
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino) if info else None

    @staticmethod
    def _check_names(keys: list[ApiKey]) -> None:
        names = [k.name for k in keys]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"API key names must be unique; given twice: {', '.join(twice)}")
