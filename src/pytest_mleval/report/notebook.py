"""Looking at runs in a notebook: ``load_run(path)`` renders itself and gives tables.

``Run.cases``, ``Run.aggregates``, ``Run.variants`` (a suite's variants compared) and
``Run.safety`` (attack success rates of the safety probes) are pandas DataFrames when pandas
is installed (plain lists of dicts otherwise); ``Run.compare(baseline)`` is the paired
comparison the plugin runs.
"""

from __future__ import annotations

import html
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.records import (
    PASS_RATE,
    STREAM_TIMINGS,
    CaseResult,
    RunResults,
    load_results,
    run_status,
)
from .summary import _last_line
from .views import FLIPS, STATUSES, case_status, unchecked_gates

__all__ = ["Comparison", "Run", "load_run"]

_STYLE = (
    "<style>.mleval-nb table{border-collapse:collapse;margin:4px 0}"
    ".mleval-nb td,.mleval-nb th{border:1px solid #ddd;padding:2px 8px;text-align:left}"
    ".mleval-nb .ok{color:#1a7f37}.mleval-nb .bad{color:#c62828}.mleval-nb .warn{color:#9a6700}"
    "</style>"
)


def _frame(records: list[dict[str, Any]]) -> Any:
    """A DataFrame when pandas is installed, else the records themselves."""
    if importlib.util.find_spec("pandas") is None:
        return records
    import pandas as pd

    return pd.DataFrame.from_records(records)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(head: list[str], rows: list[list[str]]) -> str:
    """An HTML table; cells are escaped by the caller (they may carry a class span)."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


_PASS = "<span class='ok'>pass</span>"
_FAIL = "<span class='bad'>FAIL</span>"


def _ci(lo: float, hi: float) -> str:
    return f"[{lo:.3f}, {hi:.3f}]"


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@dataclass
class Comparison:
    """A run compared with a baseline, per suite and metric (candidate minus baseline)."""

    rows: list[dict[str, Any]]
    """One record per suite and metric."""
    method: str
    """How the differences were tested (or that they were not)."""
    flipped: list[dict[str, str]] = field(default_factory=list)
    """Cases whose pass/fail outcome changed: suite, case_id, direction."""
    raw: dict[str, Any] | None = None
    """The full comparison record (as ``RunResults.comparison`` stores it), when tested."""
    warnings: list[str] = field(default_factory=list)
    """What the comparison does not cover (cases in one run only, a run that is not whole)."""
    regressed: bool | None = None
    """Whether the candidate regressed under the run's regression rule, the call
    ``mleval compare`` exits 1 on (``None``: not tested)."""
    verdict: str = "not tested"
    """That verdict in words (``regression in 1 of 3 suite(s)``, ``no regression in 3
    suite(s)``, ``nothing was compared``)."""

    @property
    def table(self) -> Any:
        """The rows as a DataFrame (pandas installed) or records."""
        return _frame(self.rows)

    def _repr_html_(self) -> str:
        head = ["suite", "metric", "n", "baseline", "candidate", "diff", "CI", "p", "verdict"]
        rows = [
            [
                _e(r["suite"]),
                _e(r["metric"]),
                _e(r["n"]),
                _f(r["baseline"]),
                _f(r["candidate"]),
                f"{r['diff']:+.3f}",
                "–" if r["ci_low"] is None else f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]",
                "–" if r["p_value"] is None else f"{r['p_value']:.3g}",
                _e(r["verdict"]),
            ]
            for r in self.rows
        ]
        flips = ""
        if self.flipped:
            items = ", ".join(
                f"{_e(f['suite'])}::{_e(f['case_id'])} ({_e(f['direction'])})"
                for f in self.flipped[:20]
            )
            flips = f"<p>Flipped: {items}{' …' if len(self.flipped) > 20 else ''}</p>"
        warned = "".join(f"<p class='warn'>⚠️ {_e(w)}</p>" for w in self.warnings)
        tone = "warn" if self.regressed is None else "bad" if self.regressed else "ok"
        verdict = f"<p class='{tone}'><b>{_e(self.verdict)}</b></p>"
        return (
            f'{_STYLE}<div class="mleval-nb">{verdict}{warned}<p>{_e(self.method)}</p>'
            f"{_table(head, rows)}{flips}</div>"
        )


def _by_suite(run: RunResults) -> dict[str, list[CaseResult]]:
    out: dict[str, list[CaseResult]] = {}
    for c in run.cases:
        out.setdefault(c.suite, []).append(c)
    return out


def _means(cases: list[CaseResult], metric: str | None) -> dict[str, float]:
    from ..results.aggregate import per_case

    keys, values, _, _ = per_case(cases, metric)
    return dict(zip(keys, values, strict=True))


def _plain_comparison(baseline: RunResults, candidate: RunResults) -> Comparison:
    """Mean differences over matched cases, untested (no statistics module available)."""
    rows: list[dict[str, Any]] = []
    flipped: list[dict[str, str]] = []
    base, cand = _by_suite(baseline), _by_suite(candidate)
    for suite in sorted(set(base) & set(cand)):
        names: dict[str, None] = {}
        for case in [*base[suite], *cand[suite]]:
            names.update(dict.fromkeys(case.scores))
        for metric in [PASS_RATE, *names]:
            key = None if metric == PASS_RATE else metric
            b, c = _means(base[suite], key), _means(cand[suite], key)
            ids = sorted(set(b) & set(c))
            if not ids:
                continue
            bm = sum(b[i] for i in ids) / len(ids)
            cm = sum(c[i] for i in ids) / len(ids)
            rows.append(
                {
                    "suite": suite,
                    "metric": metric,
                    "n": len(ids),
                    "baseline": bm,
                    "candidate": cm,
                    "diff": cm - bm,
                    "ci_low": None,
                    "ci_high": None,
                    "p_value": None,
                    "verdict": "not tested",
                }
            )
            if metric == PASS_RATE:
                errored = {x.case_id for x in cand[suite] if x.errored}
                for cid in ids:
                    if (b[cid] >= 0.5) != (c[cid] >= 0.5):
                        direction = "pass -> fail" if b[cid] >= 0.5 else "fail -> pass"
                        if direction == "pass -> fail" and cid in errored:
                            direction = "pass -> errored"
                        flipped.append({"suite": suite, "case_id": cid, "direction": direction})
    return Comparison(
        rows=rows,
        method="plain mean difference over matched cases (not tested: pytest_mleval.stats "
        "is unavailable)",
        flipped=flipped,
    )


def _tested_comparison(baseline: RunResults, candidate: RunResults, seed: int) -> Comparison:
    from ..results.compare import regression_check
    from .regression_verdict import regression_verdict

    result, gates = regression_check(baseline, candidate, seed=seed)
    rows = []
    flipped = []
    for s in result.suites:
        for m in s.metrics:
            rows.append(
                {
                    "suite": s.suite,
                    "metric": m.metric,
                    "n": m.n,
                    "baseline": m.baseline,
                    "candidate": m.candidate,
                    "diff": m.diff,
                    "ci_low": m.ci_low,
                    "ci_high": m.ci_high,
                    "p_value": m.p_value,
                    "p_adjusted": m.p_adjusted,
                    "test": m.test,
                    "verdict": m.verdict,
                }
            )
        for key, label in FLIPS:
            direction = label.replace("→", "->")
            flipped += [
                {"suite": s.suite, "case_id": c, "direction": direction} for c in getattr(s, key)
            ]
    return Comparison(
        rows=rows,
        method="paired per case: mean difference with CI, p-value (permutation; exact "
        "McNemar for pass/fail), Holm-adjusted verdicts",
        flipped=flipped,
        raw=result.model_dump(mode="json"),
        warnings=list(result.warnings),
        regressed=result.regressed,
        verdict=regression_verdict(result, gates)[1],
    )


@dataclass
class Run:
    """A stored run, for a notebook."""

    results: RunResults
    """The run's records."""
    path: Path | None = None
    """Where it was loaded from."""

    @property
    def cases(self) -> Any:
        """One row per case result: ids, status, texts, usage, ``turns``, ``tool_calls`` and
        ``tool_errors`` (``None`` for a case without a trajectory) and a ``score.<metric>``
        column per metric."""
        records = []
        for c in self.results.cases:
            rec: dict[str, Any] = {
                "suite": c.suite,
                "case_id": c.case_id,
                "repeat": c.repeat,
                "status": case_status(c),
                "passed": c.passed,
                "input": c.input,
                "output": c.output,
                "expected": c.expected,
                "error": c.error,
                "tags": list(c.tags),
                "latency_ms": c.latency_ms,
                # A streamed call's timings (None when it was not streamed).
                **{key: getattr(c, key) for key in STREAM_TIMINGS},
                "cached": c.cached,
                "total_tokens": c.usage.total_tokens,
                "cost_usd": c.cost_usd,
                "model": c.model,
                # What a tool-using or conversation case did (None without a trajectory).
                "turns": None if c.trajectory is None else len(c.trajectory.turns),
                "tool_calls": None if c.trajectory is None else len(c.trajectory.tool_calls),
                "tool_errors": None if c.trajectory is None else len(c.trajectory.tool_errors),
            }
            for name, ms in c.scores.items():
                rec[f"score.{name}"] = ms.score
            records.append(rec)
        return _frame(records)

    @property
    def aggregates(self) -> Any:
        """Per suite and metric: estimate, CI, n, method."""
        return _frame([a.model_dump() for a in self.results.aggregates])

    @property
    def variants(self) -> Any:
        """The suites' variants compared: one row per suite, variant and metric with the
        estimate, ``ci_low``, ``ci_high``, ``n``, ``best`` (the verdict's winner), ``tied_top``
        (no winner, but not separable from the top), ``reference``, and the variant's
        ``cost_usd``, ``total_tokens``, ``latency_p50_ms``, ``latency_p95_ms``, ``errored`` and
        ``pareto``. (``results.variants`` holds the ``compare_to:`` comparisons instead.)"""
        from .variants import variant_records

        return _frame(variant_records(self.results))

    @property
    def variant_pairs(self) -> Any:
        """The variants' paired comparisons: one row per suite, metric and pair (``diff`` is
        ``b - a``, ``p_adjusted`` across the suite's pairs and metrics, ``better``)."""
        from .variants import pair_records

        return _frame(pair_records(self.results))

    @property
    def gates(self) -> Any:
        """The gates' outcomes."""
        return _frame([g.model_dump() for g in self.results.gates])

    @property
    def safety(self) -> Any:
        """The safety probes' attack success rates: one row per suite and probe family (and
        ``family == "all"``, pooled) with ``n``, ``successes``, ``errors``, ``rate``,
        ``ci_low``, ``ci_high`` and ``success_ids``; no rows when no probe case ran."""
        safety = self.results.safety
        return _frame([f.model_dump() for f in safety.families] if safety else [])

    @property
    def safety_comparisons(self) -> Any:
        """The safety probes' paired comparisons (with the baseline, between variants): ``b``
        newly broken, ``c`` newly defended, ``diff``, ``p_value``, ``p_adjusted``, ``verdict``."""
        safety = self.results.safety
        return _frame([r.model_dump() for r in safety.comparisons] if safety else [])

    def compare(self, baseline: Run | RunResults | str | Path, *, seed: int | None = None) -> Any:
        """This run (the candidate) against ``baseline``, paired by case.

        Uses the paired statistics of :mod:`pytest_mleval.stats` when available; otherwise
        the plain mean differences, labelled as untested.

        Args:
            baseline: The earlier run (a ``Run``, records, or a results file path).
            seed: Seed of the permutation tests (default: this run's seed).
        """
        if isinstance(baseline, Run):
            base = baseline.results
        elif isinstance(baseline, RunResults):
            base = baseline
        else:
            base = load_results(baseline)
        if importlib.util.find_spec("pytest_mleval.stats") is None:
            return _plain_comparison(base, self.results)
        return _tested_comparison(
            base, self.results, self.results.meta.seed if seed is None else seed
        )

    def report(self, path: str | Path, *, baseline: Run | RunResults | None = None) -> Path:
        """Write the full HTML report (open it, or show it with ``IPython.display.IFrame``)."""
        from .html import write_report

        base = baseline.results if isinstance(baseline, Run) else baseline
        run = self.results
        if base is not None:
            from ..results.rebaseline import with_baseline

            # The comparison with its regression gates, as `mleval report --baseline` draws it.
            run = with_baseline(run, base)
        return write_report(path, run, baseline=base)

    @property
    def status(self) -> tuple[str, str]:
        """The run's verdict, as every output shows it: ``(status, headline)``, status one of
        ``passed``, ``partial``, ``failed`` or ``incomplete`` (see ``run_status``)."""
        return run_status(self.results)

    def _repr_html_(self) -> str:
        r = self.results
        meta = r.meta
        counts = {s: 0 for s in STATUSES}
        for c in r.cases:
            counts[case_status(c)] += 1
        # The verdict and the files that could not be collected first, as in every output:
        # counts and tables alone read as a clean run when a file never ran.
        status, text = self.status
        tone = "ok" if status == "passed" else "warn" if status == "partial" else "bad"
        verdict = f"<p class='{tone}'><b>{_e(text)}</b></p>"
        if r.collection_errors:
            items = "".join(
                f"<li><code>{_e(e.where)}</code>: {_e(_last_line(e.message))}</li>"
                for e in r.collection_errors
            )
            verdict += f"<p>{len(r.collection_errors)} file(s) could not be collected:</p>"
            verdict += f"<ul>{items}</ul>"
        where = f" · {_e(self.path.name)}" if self.path else ""
        sha = f" · <code>{_e(meta.git_sha[:10])}</code>" if meta.git_sha else ""
        head = (
            f"<p><b>pytest-mleval run</b>{where}{sha} · {_e(meta.started_at or '?')} · "
            f"{len(r.cases)} results: <span class='ok'>{counts['passed']} passed</span>, "
            f"<span class='bad'>{counts['failed']} failed</span>, {counts['errored']} errored</p>"
        )
        aggs = _table(
            ["suite", "metric", "estimate", "CI", "n"],
            [
                [_e(a.suite), _e(a.metric), _f(a.estimate), _ci(a.ci_low, a.ci_high), _e(a.n)]
                for a in r.aggregates
            ],
        )
        gates = ""
        # Gates the selection left unchecked have rows too, as in the Markdown and HTML.
        unchecked = [[_e(name), _e(why), "not checked"] for name, why in unchecked_gates(r)]
        if r.gates or unchecked:
            gates = _table(
                ["suite", "gate", ""],
                [[_e(g.suite), _e(g.message), _PASS if g.passed else _FAIL] for g in r.gates]
                + unchecked,
            )
        return (
            f'{_STYLE}<div class="mleval-nb">{verdict}{head}{aggs if r.aggregates else ""}'
            f"{gates}</div>"
        )


def load_run(path: str | Path) -> Run:
    """Load a results file for a notebook.

    Args:
        path: A ``mleval-results.json`` (or any results file the plugin wrote).

    Raises:
        ResultsFileError: missing, unreadable or not a results file.
    """
    p = Path(path)
    return Run(load_results(p), p)
