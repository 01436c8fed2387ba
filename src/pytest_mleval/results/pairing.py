"""Which case ids of two runs name the same case: the id, and the input where both kept it.

A dataset without ids numbers its rows (``rows-3``), so a row inserted above shifts every id
after it: paired by id alone, each case would be compared with its neighbour's baseline and
the paired test would measure the shuffle, not the change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .records import CaseResult

__all__ = ["changed_inputs"]


def _canonical(value: Any) -> str:
    # As the results file writes it (tuples are lists), keys in a fixed order.
    from pydantic_core import to_jsonable_python

    try:
        jsonable = to_jsonable_python(value)
    except Exception:  # not JSON-like: compared by its text
        jsonable = str(value)
    return json.dumps(jsonable, sort_keys=True, ensure_ascii=False)


def _same(a: Any, b: Any) -> bool:
    if _canonical(a) == _canonical(b):
        return True
    # One run saved with --mleval-redact and the other not: the same input once redacted.
    from ..safety.pii import redact_value

    return _canonical(redact_value(a)) == _canonical(redact_value(b))


def _first_inputs(cases: Sequence[CaseResult]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in cases:
        if c.input is not None:
            out.setdefault(c.case_id, c.input)  # repeats share their case's input
    return out


def changed_inputs(baseline: Sequence[CaseResult], candidate: Sequence[CaseResult]) -> list[str]:
    """Case ids in both whose input differs between the runs (sorted).

    Args:
        baseline: One suite's cases in the baseline run.
        candidate: The same suite's cases in this run.

    Returns:
        The ids not to pair. An id whose input either run did not record (a results file
        from before inputs were kept, a Python test without one) is paired by id.
    """
    b, c = _first_inputs(baseline), _first_inputs(candidate)
    return sorted(i for i in b.keys() & c.keys() if not _same(b[i], c[i]))
