"""Every error vlrerank raises on purpose, in one hierarchy.

Faces (CLI, REST API) map these to exit codes or HTTP statuses in one place each; anything that is
not a ``VlrerankError`` is a bug.
"""

from __future__ import annotations

import re


class VlrerankError(Exception):
    """Base class: an error with a message meant for the person who caused it."""


class _FieldError(VlrerankError):
    """An error about one place in a request: ``reason`` is the message, ``field`` the place
    (empty for the whole request), and ``str()`` reads ``field: reason``."""

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}" if field else message)


class InputError(_FieldError, ValueError):
    """A request or one of its parts is malformed.

    Attributes:
        field: where the problem is, e.g. ``documents[2].image[0]``; empty for the whole request.
    """


class DataUriError(InputError):
    """A ``data:`` URI is not ``data:<type>;base64,<data>`` or holds invalid base64 (every face)."""


class ImageLoadError(InputError):
    """An image could not be read or decoded. Never replaced by placeholder text."""


class VideoLoadError(InputError):
    """A video (file or frame list) could not be read or decoded."""


class PdfLoadError(InputError):
    """A PDF could not be opened or is over a limit; ``kind`` says which (``encrypted``, ``broken``,
    ``empty``, ``page_too_large``, ``too_many_pages``, ``too_many_pixels``, ``embedded_image``,
    ``render_timeout``, ``too_large``)."""

    def __init__(self, message: str, *, kind: str, field: str = "") -> None:
        self.kind = kind
        super().__init__(message, field=field)


class ScoringFailed(_FieldError, RuntimeError):
    """A pair could not be scored even alone (e.g. the device ran out of memory); names the document."""


class DeviceOutOfMemory(ScoringFailed):
    """The device ran out of memory even for one pair alone. Inside a ranking it is not raised: the
    document is reported unscored (``RejectedDocument.failure``) and the other documents are ranked."""


class EngineFault(VlrerankError, RuntimeError):
    """The model stage itself failed (a device error, a closed engine), not the request's input.

    Only this type makes a server reload its model: an input problem is an :class:`InputError`
    whatever its message, so no request can restart the engine by sending odd input.
    """


class DeadlineExceeded(_FieldError, TimeoutError):
    """Work for a request ran past its deadline (decoding a video, preparing inputs) and was stopped."""


class ConfigError(VlrerankError, ValueError):
    """An engine or preprocessing setting is invalid or unsupported on this machine."""


class ModelNotFoundError(VlrerankError, FileNotFoundError):
    """Model weights or files are missing; the message says how to get them."""

    def __init__(self, message: str) -> None:
        # Messages quote a library's own sentence ("... try again.") before adding ours ("."):
        # one full stop is enough.
        super().__init__(re.sub(r"\.\.(?=\s|$)", ".", message))


class ModelLoadError(VlrerankError, RuntimeError):
    """Model files exist but do not form a usable Qwen3-VL reranker checkpoint."""


class MissingDependencyError(VlrerankError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class ServerError(VlrerankError):
    """A vlrerank server refused or failed a request (``vlrerank.client``); 422s are InputErrors.

    Attributes:
        status: the HTTP status.
        error_type: the API's error type (``overloaded``, ``unauthorized``, ... see docs/api.md).
        field: the field at fault, when one is.
        request_id: the request's X-Request-ID, to find it in the server's log.
    """

    def __init__(
        self, message: str, *, status: int, error_type: str, field: str = "", request_id: str | None = None
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.field = field
        self.request_id = request_id
        super().__init__(f"{status} {error_type}: {message}" if error_type else f"{status}: {message}")
