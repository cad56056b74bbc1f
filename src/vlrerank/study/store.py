"""Results on disk: one SQLite file in WAL mode, one row per condition, written as they are made.

The study stores :class:`ResultRow`; ``vlrerank eval`` stores its own row type in the same way
(any frozen dataclass whose first field is the row's unique key). Rows are keyed by the
condition's stable hash and inserted with ``INSERT OR IGNORE`` inside a
transaction per batch, so a process killed at any moment leaves only whole batches behind, a rerun
computes just what is missing, and no condition is ever stored twice. A fingerprint of model,
spec, manifest and package version guards against mixing results from different setups.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from ..errors import ConfigError


@dataclass(frozen=True)
class ResultRow:
    condition: str
    item: int
    image: str
    category: str
    query: str
    grp: str | None
    relevant: float | None
    size: str  # "WxH" or "native"
    width: int | None
    height: int | None
    interpolation: str
    mode: str
    blur: float
    repeat: int
    score: float | None
    visual_match: float | None
    text_alignment: float | None
    model_width: int | None
    model_height: int | None
    visual_tokens: int | None
    latency_ms: float | None
    peak_memory_mb: float | None
    error: str | None


_REMEDY = "free space or choose another --out, then rerun the same command: it resumes"
Row = TypeVar("Row")


class ResultStore(Generic[Row]):
    """Rows of ``row_type`` (a dataclass; its first field is the unique key) in one SQLite file."""

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A transaction; a full disk or read-only folder becomes a clear, resumable error."""
        try:
            with self._db:
                yield
        except sqlite3.Error as exc:
            message = f"cannot write results to {self.path}: {exc}; {_REMEDY}"
            raise ConfigError(message) from None

    @overload
    def __init__(self: ResultStore[ResultRow], path: Path) -> None: ...
    @overload
    def __init__(self, path: Path, row_type: type[Row]) -> None: ...
    def __init__(self, path: Path, row_type: Any = ResultRow) -> None:
        self.path = path
        self._row_type = row_type
        self._columns = [f.name for f in fields(row_type)]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            key = self._columns[0]
            columns = ", ".join(f"{c} TEXT PRIMARY KEY" if c == key else c for c in self._columns)
            self._db.execute(f"CREATE TABLE IF NOT EXISTS results ({columns})")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self._db.commit()
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot write results to {path}: {exc}; {_REMEDY}") from None

    def close(self) -> None:
        self._db.close()

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str]) -> None:
        with self._writing():
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def claim(self, fingerprint: str, *, restart: bool) -> None:
        """Bind the store to ``fingerprint``; a different one is refused unless ``restart``."""
        existing = self.meta("fingerprint")
        if existing is not None and existing != fingerprint and not restart:
            raise ConfigError(
                f"{self.path} holds results of a different model, instruction, explain setting, "
                f"manifest or vlrerank version (fingerprint {existing[:12]} != {fingerprint[:12]}); "
                "use --restart to discard them and start over, or --out a new folder "
                "(new sizes, interpolations, modes, blurs or repeats need neither: they are added)"
            )
        if restart or existing != fingerprint:
            with self._writing():
                self._db.execute("DELETE FROM results")
            self.set_meta({"fingerprint": fingerprint})

    def done(self) -> set[str]:
        return {row[0] for row in self._db.execute(f"SELECT {self._columns[0]} FROM results")}

    def write(self, rows: Iterable[Row]) -> int:
        """Insert a batch atomically; rows already present are left as they are."""
        values = [astuple(r) for r in rows]  # type: ignore[call-overload]
        placeholders = ", ".join("?" for _ in self._columns)
        with self._writing():
            cursor = self._db.executemany(f"INSERT OR IGNORE INTO results VALUES ({placeholders})", values)
        return cursor.rowcount

    def rows(self) -> Iterator[Row]:
        columns = ", ".join(self._columns)
        for values in self._db.execute(f"SELECT {columns} FROM results ORDER BY {self._columns[0]}"):
            yield self._row_type(*values)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
