"""Checked field types shared by the pydantic models of eval files and metric options.

pydantic's lax mode reads the text ``"0.5"`` or ``true`` as a number, and YAML's ``.inf`` and
``.nan`` are floats: a bound that every score passes (or none can), a count of 1 from a
boolean. These types take a number only as written. Core: nothing of the package below it.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["Count", "Real"]


def _real(value: Any) -> Any:
    # A number as written: pydantic's lax mode would take the text "0.5" or `true` for one,
    # and YAML's `.inf` / `.nan` make a bound that every score passes (or none can).
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")
    return value


def _count(value: Any) -> Any:
    # A whole number as written: not `true` (lax mode's 1), not "3", not 2.0.
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, got {type(value).__name__} {value!r}")
    return value


Real = Annotated[float, BeforeValidator(_real)]
"""A finite number written as a number (eval-file fields and metric options)."""
Count = Annotated[int, BeforeValidator(_count)]
"""A whole number written as one."""
