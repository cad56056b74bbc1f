"""Moved to :mod:`vlrerank.checkpoints.builder`; kept so that imports written before the move work."""

from ..checkpoints.builder import *  # noqa: F403
