"""Text that can reach the tokenizer: valid Unicode only.

JSON may carry a lone surrogate (``"\\ud800"``) and Python strings may hold one, but no tokenizer can
encode it; found here, it is the caller's error naming the field, never a failure of the engine.
"""

from __future__ import annotations

from ..errors import InputError


def check_text(text: str, field: str) -> str:
    """Return ``text`` when it encodes as UTF-8; else raise :class:`InputError` naming ``field``
    and the first offending character's position (never echoing the text itself)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"text is not valid Unicode: a lone surrogate U+{ord(text[exc.start]):04X} at character "
            f"{exc.start}; send UTF-8 text",
            field=field,
        ) from None
    return text
