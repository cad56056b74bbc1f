"""Kept only for ``from vlrerank.engine.core import OUT_OF_MEMORY`` written before the engine's
split; import from :mod:`vlrerank.engine` instead. The engine itself is :mod:`.scoring`."""

from .plan import OUT_OF_MEMORY

__all__ = ["OUT_OF_MEMORY"]
