"""Fixtures shared with the study tests."""

from ..study.conftest import small_study  # noqa: F401
