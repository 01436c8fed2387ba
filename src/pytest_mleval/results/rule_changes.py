"""Metrics whose pass rule (threshold, max) changed since the baseline.

A tightened threshold failed the pass-rate regression gate with no word that the cases were
judged by another rule, and a loosened one read as an improved pass rate; the scores
themselves are compared as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from .records import PASS_RATE, CaseResult, MetricScore

__all__ = ["changed_rules"]

Rule = tuple[float | None, float | None]


def _rule(ms: MetricScore) -> Rule:
    return ms.threshold, ms.max


def _bound(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def changed_rules(
    suite: str, bcases: Sequence[CaseResult], ccases: Sequence[CaseResult]
) -> list[str]:
    """A warning per metric whose threshold or max differs between the paired cases of a suite.

    Args:
        suite: The suite's name.
        bcases: Its baseline cases (those paired by input too).
        ccases: Its cases in this run.

    Returns:
        One warning per metric whose pass rule changed, naming the first change seen.
    """
    base = {c.case_id: c for c in bcases}
    seen: set[str] = set()
    changed: dict[str, tuple[int, Rule, Rule]] = {}
    for c in ccases:
        b = base.get(c.case_id)
        if b is None or c.case_id in seen:
            continue  # unpaired, or a later repeat of a case already looked at
        seen.add(c.case_id)
        for metric, ms in c.scores.items():
            old = b.scores.get(metric)
            if old is None or _rule(old) == _rule(ms):
                continue
            n, first_old, first_new = changed.get(metric, (0, _rule(old), _rule(ms)))
            changed[metric] = (n + 1, first_old, first_new)
    out = []
    for metric, (n, old_rule, new_rule) in changed.items():
        what = ", ".join(
            f"{label} {_bound(o)} -> {_bound(w)}"
            for label, o, w in zip(("threshold", "max"), old_rule, new_rule, strict=True)
            if o != w
        )
        out.append(
            f"suite {suite}: the pass rule of {metric} changed since the baseline on {n} of "
            f"{len(seen)} paired cases ({what}): {PASS_RATE} compares cases judged by "
            "different rules"
        )
    return out
