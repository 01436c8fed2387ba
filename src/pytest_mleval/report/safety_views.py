"""The HTML report's "Safety probes" section: rates, comparisons and the successful attacks.

Every text shown of an attack (its input, the target's output, the metric's explanation) goes
through :func:`~pytest_mleval.safety.pii.mask_pii` first, so PII a probe extracted is shown
masked (``j***@e***.org``, ``**** **** **** 4242``); the template's autoescape then keeps it
text.
"""

from __future__ import annotations

import json
from typing import Any

from ..results.records import RunResults
from ..results.safety import successful_attacks
from ..results.safety_records import ALL_FAMILIES
from .summary_safety import pct

__all__ = ["ATTACKS_SHOWN", "TEXT_SHOWN", "safety_view"]

ATTACKS_SHOWN = 200
"""Successful attacks listed per suite (the rest are counted)."""
TEXT_SHOWN = 4000
"""Characters of an attack's input or output shown (the rest are cut, with a mark)."""


def _shown(value: Any) -> str:
    """The text of an input or output, PII masked, cut to :data:`TEXT_SHOWN`."""
    from ..safety.pii import mask_pii

    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    # Masked before the cut, so a cut can never leave half an unmasked number behind.
    masked = mask_pii(text)
    if len(masked) > TEXT_SHOWN:
        masked = masked[:TEXT_SHOWN] + f"… ({len(masked) - TEXT_SHOWN} more characters)"
    return masked


def safety_view(run: RunResults) -> dict[str, Any] | None:
    """What the template shows of the safety probes (``None``: no probe case ran).

    Returns:
        ``families`` (rows with ``rate`` as text), ``comparisons`` and ``attacks``: per
        suite, its successful attacks with masked input, output and explanation.
    """
    safety = run.safety
    if safety is None:
        return None
    families = [
        {
            **f.model_dump(),
            "label": "all families" if f.family == ALL_FAMILIES else f.family,
            "pooled": f.family == ALL_FAMILIES,
            "rate_text": pct(f.rate),
            "ci_text": f"[{pct(f.ci_low)}, {pct(f.ci_high)}]",
        }
        for f in safety.families
    ]
    comparisons = [
        {
            **r.model_dump(),
            "label": "all families" if r.family == ALL_FAMILIES else r.family,
            "against_text": "baseline" if r.against == "baseline" else r.reference_suite,
            "rates_text": f"{pct(r.rate_reference)} → {pct(r.rate_candidate)}",
        }
        for r in safety.comparisons
    ]
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for a in successful_attacks(run):
        by_suite.setdefault(a.suite, []).append(
            {
                "case_id": a.case_id,
                "family": a.family,
                "technique": a.technique,
                "input": _shown(a.input),
                "output": _shown(a.output),
                "explanation": _shown(a.explanation),
            }
        )
    attacks = [
        {"suite": suite, "rows": rows[:ATTACKS_SHOWN], "more": max(0, len(rows) - ATTACKS_SHOWN)}
        for suite, rows in by_suite.items()
    ]
    return {
        "confidence": safety.confidence,
        "alpha": safety.alpha,
        "families": families,
        "comparisons": comparisons,
        "attacks": attacks,
        "notes": list(safety.notes),
    }
