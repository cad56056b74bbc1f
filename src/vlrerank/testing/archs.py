"""Moved to :mod:`vlrerank.checkpoints.archs`; kept so that imports written before the move work."""

from ..checkpoints.archs import *  # noqa: F403
