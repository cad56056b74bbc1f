"""The Python API's guard against media passed as a bare string (and so scored as its characters).

The reference scores a plain string as text. ``Reranker`` is a drop-in for it, so a plain string
stays text; but a string that names an image or video (an existing file, a ``file://`` path, a
``data:image`` URI, an image URL) is almost always a mistake that would rank the path's characters
without a word. Those are refused, with the two explicit forms that say what was meant.

This runs only for callers of the Python API, never for the REST API or the web UI: those wrap
remote text as ``{"text": ...}`` first, because a server must not reveal which of its files exist.
With ``EngineConfig(media_root=...)`` only files inside the root are looked at, for the same reason.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InputError
from .schema import IMAGE_EXTENSIONS

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpeg", ".mpg"})
_MEDIA = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
_ARTICLE = {"image": "an image", "video": "a video", "pdf": "a PDF"}
_MAX_PATH = 4096  # longer strings are prose, not paths: no file system call for them


def _local_file(path: str, media_root: str | None) -> bool:
    """Whether ``path`` is a file the library could read. With a media root, only files inside it
    count: a path outside stays text, so the check says nothing about files beyond the root."""
    if media_root is None:
        return os.path.isfile(os.path.expanduser(path))
    root = os.path.realpath(media_root)
    resolved = os.path.realpath(os.path.join(root, path))
    return os.path.commonpath([root, resolved]) == root and os.path.isfile(resolved)


def _kind(value: str, media_root: str | None) -> str | None:
    """``"image"``, ``"video"`` or ``"pdf"`` when ``value`` names media, else ``None``."""
    if value.startswith(("data:image/", "data:video/")):
        return value[5:10]
    if value.startswith("data:application/pdf"):
        return "pdf"
    if len(value) > _MAX_PATH or "\n" in value:
        return None
    target = value
    if value.startswith(("http://", "https://")):
        target = value.split("?", 1)[0].split("#", 1)[0]
        if " " in target:
            return None
    elif value.startswith("file://"):
        target = value[len("file://") :]
        if not _local_file(target, media_root):
            return None
    elif not _local_file(value, media_root):
        return None
    extension = os.path.splitext(target.lower().split("#", 1)[0])[1]
    if extension == ".pdf":
        return "pdf"
    if extension in VIDEO_EXTENSIONS:
        return "video"
    return "image" if extension in IMAGE_EXTENSIONS else None


def refuse_bare_media(value: Any, field: str, media_root: str | None = None) -> None:
    """Raise :class:`InputError` when ``value`` is a bare string that names an image or video.

    Refusing, rather than guessing, keeps a plain string meaning text exactly as in the reference,
    and makes the caller say which was meant; the message shows both spellings.
    """
    if not isinstance(value, str):
        return
    kind = _kind(value, media_root)
    if kind is None:
        return
    shown = value if len(value) <= 80 else value[:77] + "..."
    raise InputError(
        f"{shown!r} names {_ARTICLE[kind]}, but a bare string is scored as "
        f'text; pass {{"{kind}": {shown!r}}} to use the {kind}, or {{"text": {shown!r}}} to score '
        "the characters as text",
        field=field,
    )
