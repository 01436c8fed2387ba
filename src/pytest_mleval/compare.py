"""Kept for code written against 0.1: the comparison now lives in ``results.compare``."""

from __future__ import annotations

from .results.compare import *  # noqa: F403
from .results.compare import __all__ as __all__
