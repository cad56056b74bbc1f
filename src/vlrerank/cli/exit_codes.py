"""Every exit status the ``vlrerank`` command can end with, and which error gets which.

Its own module, below every sub-command, so that a command returning a status imports it without
going through ``cli/main.py`` (which imports every command).
"""

from __future__ import annotations

from ..errors import ModelLoadError, ModelNotFoundError, VlrerankError

EXIT_OK = 0
EXIT_USAGE = 2  # bad input or options: the message says what to change
EXIT_MODEL = 3  # the model could not be found or loaded
EXIT_INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool whose reader went away


def exit_code_of(error: VlrerankError) -> int:
    """The status for a library error: by its type, never its message."""
    return EXIT_MODEL if isinstance(error, (ModelNotFoundError, ModelLoadError)) else EXIT_USAGE
