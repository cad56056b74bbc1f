"""Moved to :mod:`vlrerank.checkpoints.layouts`; kept so that imports written before the move work."""

from ..checkpoints.layouts import *  # noqa: F403
