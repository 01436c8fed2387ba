"""Sequential suites (glue): cases in a seeded random order, stopped once the verdicts are known.

A suite with ``sequential: true`` (or every suite under ``--mleval-sequential``) runs its cases
in a random order drawn from the run's seed, and after each case the process running it
updates an anytime-valid confidence sequence per gate (and per regression metric against a
baseline, paired by case). Once every gate and the regression verdict are decided, the suite's
remaining cases are not run: each is recorded as *not needed* (a skipped item, never a pass),
and the look-ahead window issues no more of them; calls already in flight still run and are
scored. What can be decided: gates on ``pass_rate`` or on the ``mean`` of a score in [0, 1]; a
gate on a raw measure (latency, cost), a median or a corpus statistic is not, so such a suite
runs to its end (and says why).

Under pytest-xdist every worker watches the cases it runs (a value-blind share of the random
order) at ``alpha / workers`` per sequence, so the workers' decisions together keep the
error rate; the controller's final intervals are the confidence sequences over all cases run.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pytest

from .targets import eval_item

if TYPE_CHECKING:
    from ..cases.schema import GateSpec
    from ..cases.suite import Suite
    from ..collect import EvalItem
    from ..results.records import CaseResult, RunResults

__all__ = ["Sequential", "bounded_metric", "sequential_order"]


def bounded_metric(suite: Suite, metric: str) -> bool:
    """Whether a suite's metric is a score in [0, 1] (pass rate included), not a raw measure."""
    from ..cases.schema import PASS_RATE
    from ..metrics.registry import get_metric

    if metric == PASS_RATE:
        return True
    entries = {m.name: m for m in suite.spec.metrics}
    for case in suite.cases:
        for m in case.metrics:
            entries.setdefault(m.name, m)
    entry = entries.get(metric)
    if entry is None:
        return False
    try:
        return not get_metric(entry.kind).raw
    except Exception:
        return False


def sequential_order(items: list[pytest.Item], seed: int, applies: Any) -> None:
    """Shuffle, in place, each run of consecutive items of a sequential suite, by case: a
    case's variants and repeats stay together, in the cases' random order (seeded by the
    run's seed and the suite's name, so every xdist worker collects the same order)."""
    start = 0
    while start < len(items):
        found = eval_item(items[start])
        end = start + 1
        if found is not None and applies(found.suite):
            base = found.suite.variant_of or found.suite.name
            while end < len(items):
                nxt = eval_item(items[end])
                if nxt is None or (nxt.suite.variant_of or nxt.suite.name) != base:
                    break
                end += 1
            block = items[start:end]
            ids = list(dict.fromkeys(_case_id(item) for item in block))
            random.Random(f"{seed}:{base}").shuffle(ids)
            position = {case_id: i for i, case_id in enumerate(ids)}
            block.sort(key=lambda item: position[_case_id(item)])  # stable: variants, repeats
            items[start:end] = block
            for item in block:
                # The statistics follow this order, not the order results arrive in (under
                # xdist that can depend on the outcomes: slow cases failing more, say).
                item.mleval_run_order = position[_case_id(item)]  # type: ignore[attr-defined]
        start = end


def _case_id(item: pytest.Item) -> str:
    found = eval_item(item)
    return "" if found is None else found.eval_case.id


@dataclass
class _GateWatch:
    gate: GateSpec
    cs: Any
    decision: str = "undecided"


@dataclass
class _Watch:
    """One suite's sequences and what they decided."""

    suite: Suite
    repeats: int
    gates: list[_GateWatch] = field(default_factory=list)
    regression: dict[str, Any] = field(default_factory=dict)
    regression_decisions: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, dict[str, float]] = field(default_factory=dict)
    margin: float = 0.0
    blocked: list[str] = field(default_factory=list)
    """Why the suite cannot be decided early (an undecidable gate), if it cannot."""
    pending: dict[str, list[CaseResult]] = field(default_factory=dict)
    seen: int = 0
    decided_after: int | None = None

    @property
    def decided(self) -> bool:
        if self.decided_after is not None:
            return True
        if self.blocked or (not self.gates and not self.regression):
            return False
        return all(g.decision != "undecided" for g in self.gates) and all(
            d != "undecided" for d in self.regression_decisions.values()
        )

    def reason(self) -> str:
        if self.blocked:
            return "every case runs: " + "; ".join(self.blocked)
        if not self.gates and not self.regression:
            return "every case runs: no gate and no baseline to decide"
        undecided = [g.gate.metric for g in self.gates if g.decision == "undecided"]
        undecided += [
            f"{m} vs baseline" for m, d in self.regression_decisions.items() if d == "undecided"
        ]
        if undecided and self.decided_after is None:
            return "every case ran: still undecided: " + ", ".join(undecided)
        parts = [f"{g.gate.metric} {g.decision}" for g in self.gates]
        parts += [f"{m} vs baseline: {d}" for m, d in self.regression_decisions.items()]
        return ", ".join(parts)


def _case_values(results: Sequence[CaseResult]) -> dict[str, float]:
    """A case's per-metric values over its repeats (pass rate: passed; errors count as 0)."""
    from ..cases.schema import PASS_RATE

    sums: dict[str, list[float]] = {PASS_RATE: [1.0 if r.passed else 0.0 for r in results]}
    for r in results:
        for name, score in r.scores.items():
            if score.score is not None:
                sums.setdefault(name, []).append(float(score.score))
    return {k: sum(v) / len(v) for k, v in sums.items() if v}


class Sequential:
    """The run's sequential suites: their order, their sequences, which cases are not needed.

    Args:
        every_suite: ``--mleval-sequential``.
        confidence: The run's confidence level (``alpha = 1 - confidence``).
        workers: How many processes run cases at once (xdist workers; 1 otherwise).
        baseline: The ``--mleval-baseline`` run, if any.
        margin: The regression margin of suites without their own.
        issued: Whether an item's generation is already in flight (the look-ahead window).
    """

    def __init__(
        self,
        *,
        every_suite: bool,
        confidence: float,
        workers: int,
        baseline: RunResults | None,
        margin: float,
        issued: Any,
    ) -> None:
        self.every_suite = every_suite
        self.alpha = (1.0 - confidence) / max(1, workers)
        self.baseline = baseline
        self.margin = margin
        self.issued = issued
        self._watches: dict[str, _Watch] = {}

    def applies(self, suite: Suite) -> bool:
        """Whether a suite runs sequentially."""
        return self.every_suite or suite.spec.sequential

    def _watch(self, suite: Suite, repeats: int) -> _Watch:
        watch = self._watches.get(suite.name)
        if watch is None:
            watch = self._watches[suite.name] = self._new_watch(suite, repeats)
        return watch

    def _new_watch(self, suite: Suite, repeats: int) -> _Watch:
        from ..cases.schema import PASS_RATE
        from ..stats.sequential import ConfidenceSequence, PairedConfidenceSequence

        population = len(suite.cases)
        watch = _Watch(suite=suite, repeats=repeats)
        for gate in suite.spec.gates:
            if gate.stat not in ("mean", "pass_rate") or (
                gate.stat == "pass_rate" and gate.metric != PASS_RATE
            ):
                watch.blocked.append(f"gate {gate.metric} ({gate.stat}) cannot be decided early")
            elif not bounded_metric(suite, gate.metric):
                watch.blocked.append(f"gate {gate.metric} is not a score in [0, 1]")
            else:
                # `on: estimate` asks about the suite's own mean (the finite population); a
                # bound about the distribution its cases come from, as the reported
                # intervals the gate is checked on at the end.
                cs = ConfidenceSequence(
                    alpha=self.alpha, population=population if gate.on == "estimate" else None
                )
                watch.gates.append(_GateWatch(gate, cs))
        if self.baseline is not None:
            base = [c for c in self.baseline.cases if c.suite == suite.name and not c.not_needed]
            by_case: dict[str, list[CaseResult]] = {}
            for c in base:
                by_case.setdefault(c.case_id, []).append(c)
            watch.baseline = {cid: _case_values(rs) for cid, rs in by_case.items()}
            names = suite.spec.regression_metrics or sorted(
                {m for values in watch.baseline.values() for m in values}
            )
            gating = [m for m in names if bounded_metric(suite, m)]
            matched = sum(1 for c in suite.cases if c.id in watch.baseline)
            if gating and matched:
                # A regression is about the distribution the cases come from (as the
                # verdict at the end of the run reads it): the infinite-population sequence.
                # Bonferroni over the gating metrics, as the fixed comparison adjusts (Holm).
                each = self.alpha / len(gating)
                for m in gating:
                    watch.regression[m] = PairedConfidenceSequence(alpha=each)
                    watch.regression_decisions[m] = "undecided"
            margin = suite.spec.regression_margin
            watch.margin = float(self.margin if margin is None else margin)
        return watch

    def observe(self, suite: Suite, repeats: int, result: CaseResult) -> None:
        """Take in one result of a sequential suite (in the process that ran it)."""
        from ..stats.sequential import decide_gate, decide_regression

        if result.not_needed or not self.applies(suite):
            return
        watch = self._watch(suite, repeats)
        bucket = watch.pending.setdefault(result.case_id, [])
        bucket.append(result)
        if len(bucket) < watch.repeats:
            return
        values = _case_values(watch.pending.pop(result.case_id))
        watch.seen += 1
        for g in watch.gates:
            value = values.get(g.gate.metric)
            if value is None:
                continue
            g.cs.update(min(1.0, max(0.0, value)))
            side: Literal["min", "max"] = "min" if g.gate.min is not None else "max"
            threshold = g.gate.min if g.gate.min is not None else g.gate.max
            if g.decision == "undecided" and threshold is not None:
                g.decision = decide_gate(g.cs.interval(), threshold, side)
        base = watch.baseline.get(result.case_id)
        if base is not None:
            for m, cs in watch.regression.items():
                if m in values and m in base:
                    cs.update(min(1.0, max(0.0, base[m])), min(1.0, max(0.0, values[m])))
                    if watch.regression_decisions[m] == "undecided":
                        watch.regression_decisions[m] = decide_regression(
                            cs.interval(), watch.margin
                        )
        if watch.decided_after is None and watch.decided:
            watch.decided_after = watch.seen

    def decided(self, suite: Suite) -> bool:
        """Whether a sequential suite's verdicts are all known (its other cases not needed)."""
        watch = self._watches.get(suite.name)
        return watch is not None and watch.decided

    def not_needed(self, item: EvalItem) -> str | None:
        """Why ``item`` need not run (its suite was decided and its call is not in flight),
        else ``None``."""
        suite = item.suite
        if not self.applies(suite) or not self.decided(suite) or self.issued(item):
            return None
        watch = self._watches[suite.name]
        return (
            f"not needed: suite {suite.name} was decided after {watch.decided_after} of "
            f"{len(suite.cases)} cases ({watch.reason()})"
        )

    def summary(self) -> dict[str, tuple[int | None, str]]:
        """Suite -> (cases run when it was decided, what decided it or why it could not be),
        for the suites this process watched."""
        return {name: (w.decided_after, w.reason()) for name, w in self._watches.items()}
