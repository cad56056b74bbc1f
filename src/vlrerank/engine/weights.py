"""The weight files of a checkpoint, described from their safetensors headers (no tensor is read)."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# safetensors' dtype names, in torch's words (the ones users see everywhere else).
_DTYPE_NAMES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}
# A header larger than this is not a safetensors header: refuse it rather than read gigabytes.
_MAX_HEADER_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Weights:
    """The weight files and what their safetensors headers say (no tensor is read)."""

    files: tuple[str, ...] = ()
    total_bytes: int = 0
    parameters: int | None = None  # None when some weights are not safetensors, or unreadable
    dtypes: dict[str, int] = field(default_factory=dict)  # parameters stored in each dtype
    stored_dtype: str | None = None  # the dtype most parameters are stored in
    lm_head_parameters: int = 0  # 0 when the head is tied to the embeddings (not stored)


def read_json(file: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{file.name} cannot be read as JSON: {exc}")
        return None
    if not isinstance(value, dict):
        problems.append(f"{file.name} is not a JSON object")
        return None
    return value


def read_weights(path: Path, problems: list[str]) -> Weights:
    safetensors = sorted(path.glob("*.safetensors"))
    # transformers loads safetensors when a repository has both; .bin files only count without them.
    others = [] if safetensors else sorted(path.glob("pytorch_model*.bin"))
    index_file = path / "model.safetensors.index.json"
    if index_file.is_file():
        index = read_json(index_file, problems) or {}
        shards = sorted(set((index.get("weight_map") or {}).values()))
        missing = [shard for shard in shards if not (path / shard).is_file()]
        if missing:
            problems.append(
                f"weights incomplete: {', '.join(missing)} listed in {index_file.name} are missing"
            )
    if not safetensors and not others:
        problems.append("no weights: no *.safetensors (or pytorch_model*.bin) files")
        return Weights()
    dtypes: dict[str, int] = {}
    head = 0
    readable = not others
    for file in safetensors:
        try:
            header = read_safetensors_header(file)
        except (OSError, ValueError) as exc:
            problems.append(f"{file.name} is not a readable safetensors file: {exc}")
            readable = False
            continue
        for tensor, info in header.items():
            if tensor == "__metadata__" or not isinstance(info, dict):
                continue
            count = math.prod(int(n) for n in info.get("shape", ()))
            dtype = _DTYPE_NAMES.get(str(info.get("dtype")), str(info.get("dtype")))
            dtypes[dtype] = dtypes.get(dtype, 0) + count
            if tensor.endswith("lm_head.weight"):
                head += count
    files = [*safetensors, *others]
    return Weights(
        files=tuple(f.name for f in files),
        total_bytes=sum(f.stat().st_size for f in files),
        parameters=sum(dtypes.values()) if readable else None,
        dtypes=dict(sorted(dtypes.items(), key=lambda item: -item[1])),
        stored_dtype=max(dtypes, key=dtypes.__getitem__) if dtypes else None,
        lm_head_parameters=head,
    )


def read_safetensors_header(file: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file: each tensor's dtype, shape and byte range.

    The format is an 8-byte little-endian header length, then that many bytes of JSON, then data.
    """
    with file.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) != 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(_MAX_HEADER_BYTES, file.stat().st_size - 8):
            raise ValueError(f"header length {length} does not fit the file")
        header = json.loads(handle.read(length))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    return header
