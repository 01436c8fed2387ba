"""Kept for code written against 0.1: fine-tuning jobs now live in ``finetune.jobs``."""

from __future__ import annotations

from .finetune.jobs import *  # noqa: F403
from .finetune.jobs import __all__ as __all__
