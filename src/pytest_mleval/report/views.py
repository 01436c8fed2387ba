"""View models of the HTML report: pure functions from result records to template data.

Charts are computed here as coordinates (the template only draws them), so each one is a small
function with a typed input that tests can check without a browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..results.records import run_status
from ..results.units import RAW_MEASURES, unit_of

if TYPE_CHECKING:
    from ..results.records import CaseResult, RunResults
    from .history import TrendPoint

__all__ = [
    "LOWER_IS_BETTER",
    "case_payload",
    "case_status",
    "comparison_view",
    "delta_charts",
    "header_view",
    "histogram_bins",
    "histograms",
    "sparkline",
    "suite_tables",
    "usage_rows",
]

LOWER_IS_BETTER = RAW_MEASURES
STATUSES = ("passed", "failed", "errored")
HIST_W, HIST_H = 260.0, 80.0
DELTA_W, DELTA_H = 320.0, 90.0
DELTA_MAX_BARS = 400
SPARK_W, SPARK_H = 120.0, 28.0


def case_status(case: CaseResult) -> str:
    """``errored`` when the case could not be scored, else ``passed`` or ``failed``."""
    if case.error:
        return "errored"
    return "passed" if case.passed else "failed"


def _text(value: Any) -> str | None:
    """Inputs and references may be structured; the report shows them as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, indent=2, default=str)
    except (TypeError, ValueError):
        return repr(value)


class _Interner:
    """Indexes repeated strings (suites, metrics, tags, context passages) so each is sent once."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        idx = self._index.get(value)
        if idx is None:
            idx = self._index[value] = len(self.items)
            self.items.append(value)
        return idx


def _score_record(metrics: _Interner, name: str, ms: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"m": metrics(name)}
    for key, value in (
        ("v", ms.score),
        ("p", ms.passed),
        ("t", ms.threshold),
        ("x", ms.max),
        ("e", ms.explanation),
        ("er", ms.error),
        ("sk", ms.skipped),
    ):
        if value is not None:
            rec[key] = value
    if ms.data:
        # Sent as data; the page pretty-prints it when a case is opened.
        rec["d"] = ms.data
    if ms.weight != 1.0:
        rec["w"] = ms.weight
    return rec


def case_payload(run: RunResults, baseline: RunResults | None = None) -> dict[str, Any]:
    """The cases as compact JSON-ready records (optional fields are left out when empty).

    Keys of a case: ``s`` suite index, ``id``, ``r`` repeat, ``st`` status index (into
    ``statuses``), ``in``/``pr``/``out``/``exp`` texts, ``ctx`` indexes into ``docs``, ``ret``
    retrieved ids, ``sc`` scores (``m`` metric index, ``v`` score, ``p`` passed, ``t``/``x``
    bounds, ``e`` explanation, ``er`` error, ``sk`` skipped, ``d`` data), ``tg`` tag indexes,
    ``md`` metadata,
    ``lat``, ``tok`` [prompt, completion, total], ``cost``, ``mo`` model, ``err``, ``b`` the
    baseline's status, output and scores of the same case and repeat.
    """
    suites, metrics, tags, docs = _Interner(), _Interner(), _Interner(), _Interner()
    for s in run.suites:
        suites(s.name)
    base_index: dict[tuple[str, str, int], CaseResult] = {}
    if baseline is not None:
        for bc in baseline.cases:
            base_index[(bc.suite, bc.case_id, bc.repeat)] = bc
    cases = []
    for c in run.cases:
        rec: dict[str, Any] = {"s": suites(c.suite), "id": c.case_id, "st": case_status(c)}
        rec["st"] = STATUSES.index(rec["st"])
        optional: dict[str, Any] = {
            "r": c.repeat or None,
            "in": _text(c.input),
            "pr": c.prompt,
            "out": c.output,
            "exp": _text(c.expected),
            "err": c.error,
            "lat": c.latency_ms,
            "cost": c.cost_usd,
            "mo": c.model,
            "fb": c.fallback_used,
            "cl": c.cluster,
            "nid": c.nodeid or None,
            "ca": c.cached or None,
            "rt": c.retries or None,
        }
        rec.update({k: v for k, v in optional.items() if v is not None})
        if c.context:
            rec["ctx"] = [docs(text) for text in c.context]
        if c.retrieved:
            rec["ret"] = list(c.retrieved)
        if c.scores:
            rec["sc"] = [_score_record(metrics, k, v) for k, v in c.scores.items()]
        if c.tags:
            rec["tg"] = [tags(t) for t in c.tags]
        if c.usage.total_tokens or c.usage.prompt_tokens or c.usage.completion_tokens:
            rec["tok"] = [c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.total_tokens]
        if c.metadata:
            rec["md"] = c.metadata
        b = base_index.get((c.suite, c.case_id, c.repeat)) or base_index.get(
            (c.suite, c.case_id, 0)
        )
        if b is not None:
            brec: dict[str, Any] = {"st": STATUSES.index(case_status(b))}
            if b.output is not None:
                brec["out"] = b.output
            brec["sc"] = {
                str(metrics(k)): v.score for k, v in b.scores.items() if v.score is not None
            }
            rec["b"] = brec
        cases.append(rec)
    return {
        "statuses": list(STATUSES),
        "suites": suites.items,
        "metrics": metrics.items,
        "tags": sorted(tags.items),
        "tagIndex": tags.items,
        "docs": docs.items,
        "hasBaseline": baseline is not None,
        "cases": cases,
    }


def header_view(run: RunResults) -> dict[str, Any]:
    """The run header: when, which commit and models, flags, counts, cost, verdict."""
    meta = run.meta
    counts = {s: 0 for s in STATUSES}
    for c in run.cases:
        counts[case_status(c)] += 1
    total = (run.usage or {}).get("total") or {}
    cost = total.get("cost_usd")
    if cost is None:
        cost = sum(c.cost_usd or 0.0 for c in run.cases)
    tokens = total.get("total_tokens")
    if tokens is None:
        tokens = sum(c.usage.total_tokens for c in run.cases)
    gates_failed = sum(1 for g in run.gates if not g.passed)
    # The badge derives from the status the run ended with (exit status, completeness), as
    # the Markdown headline and the terminal do: it never says "passed" for a failed run.
    status, text = run_status(run)
    if status == "incomplete":
        verdict, tone = text, "bad"
    elif not run.cases:
        verdict, tone = "no cases", "neutral"
    elif status == "failed":
        verdict, tone = text, "bad" if gates_failed or run.meta.exit_status else "warn"
    elif counts["errored"] or counts["failed"]:
        verdict, tone = "some cases failed", "warn"
    else:
        verdict, tone = "passed", "good"
    flags = [
        (str(k), v if isinstance(v, str) else json.dumps(v, default=str))
        for k, v in sorted((meta.flags or {}).items())
    ]
    return {
        "started_at": meta.started_at or None,
        "finished_at": meta.finished_at or None,
        "duration": _duration(meta.duration_s),
        "git_sha": meta.git_sha,
        "git_branch": meta.git_branch,
        "models": list(meta.models),
        "flags": flags,
        "cost_usd": float(cost),
        "tokens": int(tokens),
        "tool_version": meta.tool_version or None,
        "python": meta.python or None,
        "platform": meta.platform or None,
        "seed": meta.seed,
        "exit_status": meta.exit_status,
        "n_results": len(run.cases),
        "n_cases": len({(c.suite, c.case_id) for c in run.cases}),
        "counts": counts,
        "gates_total": len(run.gates),
        "gates_failed": gates_failed,
        "verdict": verdict,
        "tone": tone,
    }


def usage_rows(run: RunResults) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, totals) for the whole run, then each suite and model that used anything.

    Totals are read tolerantly (a results file from an older version may lack keys) and
    always carry ``total_tokens``, ``prompt_tokens``, ``completion_tokens``, ``cost_usd``,
    ``cached``, ``retries`` and ``latency_ms`` (``p50``, ``p95``, ``p99``).
    """
    usage = run.usage or {}
    rows: list[tuple[str, str, dict[str, Any]]] = []

    def norm(t: dict[str, Any]) -> dict[str, Any]:
        lat = t.get("latency_ms") or {}
        return {
            "total_tokens": int(t.get("total_tokens") or 0),
            "prompt_tokens": int(t.get("prompt_tokens") or 0),
            "completion_tokens": int(t.get("completion_tokens") or 0),
            "cost_usd": float(t.get("cost_usd") or 0.0),
            "cached": int(t.get("cached") or 0),
            "retries": int(t.get("retries") or 0),
            "latency_ms": {q: float(lat.get(q) or 0.0) for q in ("p50", "p95", "p99")},
        }

    total = usage.get("total")
    if not isinstance(total, dict) or not (total.get("total_tokens") or total.get("cost_usd")):
        return rows
    rows.append(("total", "all", norm(total)))
    for kind, key in (("suite", "suites"), ("model", "models")):
        for name, t in sorted((usage.get(key) or {}).items()):
            if isinstance(t, dict) and (t.get("total_tokens") or t.get("cost_usd")):
                rows.append((kind, str(name), norm(t)))
    return rows


def _duration(seconds: float | None) -> str | None:
    if not seconds:
        return None
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def sparkline(points: Sequence[TrendPoint]) -> dict[str, Any] | None:
    """Coordinates of a trend sparkline: the estimates as a line over their CI band."""
    if not points:
        return None
    lo = min(min(p.ci_low, p.estimate) for p in points)
    hi = max(max(p.ci_high, p.estimate) for p in points)
    span = hi - lo or 1.0
    pad = 3.0
    n = len(points)

    def x(i: int) -> float:
        return pad + (SPARK_W - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return round(SPARK_H - pad - (SPARK_H - 2 * pad) * (v - lo) / span, 2)

    line = " ".join(f"{x(i):.2f},{y(p.estimate)}" for i, p in enumerate(points))
    upper = [f"{x(i):.2f},{y(p.ci_high)}" for i, p in enumerate(points)]
    lower = [f"{x(i):.2f},{y(p.ci_low)}" for i, p in reversed(list(enumerate(points)))]
    dots = [
        {
            "x": round(x(i), 2),
            "y": y(p.estimate),
            "title": f"{p.started_at} {(p.git_sha or '')[:8]}: {p.estimate:.4f} "
            f"[{p.ci_low:.4f}, {p.ci_high:.4f}] n={p.n}",
        }
        for i, p in enumerate(points)
    ]
    first, last = points[0].estimate, points[-1].estimate
    return {
        "w": SPARK_W,
        "h": SPARK_H,
        "line": line,
        "band": " ".join(upper + lower),
        "dots": dots,
        "n": n,
        "change": last - first,
    }


def _ci_bar(estimate: float, lo: float, hi: float) -> dict[str, float] | None:
    if not all(0.0 <= v <= 1.0 for v in (estimate, lo, hi)):
        return None
    w = 100.0
    return {"x1": lo * w, "x2": hi * w, "xe": estimate * w, "w": w}


def suite_tables(
    run: RunResults, trends: dict[tuple[str, str], list[TrendPoint]]
) -> list[dict[str, Any]]:
    """Per suite: description, case counts, and each metric's estimate, CI and trend."""
    names = [s.name for s in run.suites]
    for c in run.cases:
        if c.suite not in names:
            names.append(c.suite)
    info = {s.name: s for s in run.suites}
    out = []
    for name in names:
        counts = {s: 0 for s in STATUSES}
        for c in run.cases:
            if c.suite == name:
                counts[case_status(c)] += 1
        rows = []
        for a in run.aggregates:
            if a.suite != name:
                continue
            rows.append(
                {
                    "metric": a.metric,
                    "estimate": a.estimate,
                    "ci_low": a.ci_low,
                    "ci_high": a.ci_high,
                    "confidence": a.confidence,
                    "n": a.n,
                    "method": a.method,
                    "note": a.note,
                    "bar": _ci_bar(a.estimate, a.ci_low, a.ci_high),
                    "spark": sparkline(trends.get((name, a.metric), [])),
                }
            )
        s = info.get(name)
        out.append(
            {
                "name": name,
                "description": s.description if s else None,
                "target": s.target if s else None,
                "file": s.file if s else None,
                "n_cases": s.n_cases
                if s
                else len({c.case_id for c in run.cases if c.suite == name}),
                "counts": counts,
                "rows": rows,
            }
        )
    return out


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def comparison_view(comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    """A tolerant reading of ``RunResults.comparison`` (missing keys read as absent).

    Reads top-level ``baseline_sha``, ``baseline_started_at``, ``margin``, ``alpha``,
    ``warnings``, ``only_in_baseline``, ``only_in_candidate`` and ``suites``; per suite
    ``suite``, ``n_matched``, ``regressed``, ``flipped_to_fail``, ``flipped_to_pass`` and
    ``metrics``; per metric ``metric``, ``n``, ``baseline``, ``candidate``, ``diff``,
    ``ci_low``, ``ci_high``, ``p_value``, ``p_adjusted``, ``test``, ``verdict``,
    ``regression``, ``gating``, ``lower_is_better``, ``note``.
    """
    if not comparison:
        return None
    suites = []
    for s in comparison.get("suites") or []:
        if not isinstance(s, dict):
            continue
        metrics = []
        for m in s.get("metrics") or []:
            if not isinstance(m, dict):
                continue
            p = _float(m.get("p_value"))
            p_adj = _float(m.get("p_adjusted"))
            metrics.append(
                {
                    "metric": str(m.get("metric", "?")),
                    "n": m.get("n"),
                    "baseline": _float(m.get("baseline")),
                    "candidate": _float(m.get("candidate")),
                    "diff": _float(m.get("diff")),
                    "ci_low": _float(m.get("ci_low")),
                    "ci_high": _float(m.get("ci_high")),
                    "p_value": p,
                    "p_adjusted": p_adj if p_adj is not None else p,
                    "test": m.get("test"),
                    "verdict": str(m.get("verdict") or "not tested"),
                    "regression": bool(m.get("regression")),
                    "gating": bool(m.get("gating")),
                    "lower_is_better": bool(
                        m.get("lower_is_better", m.get("metric") in LOWER_IS_BETTER)
                    ),
                    "note": m.get("note"),
                }
            )
        suites.append(
            {
                "suite": str(s.get("suite", "?")),
                "n_matched": s.get("n_matched"),
                "regressed": bool(s.get("regressed")),
                "metrics": metrics,
                "flipped_to_fail": [str(i) for i in s.get("flipped_to_fail") or []],
                "flipped_to_pass": [str(i) for i in s.get("flipped_to_pass") or []],
            }
        )
    sha = comparison.get("baseline_sha")
    return {
        "baseline_sha": str(sha) if sha else None,
        "baseline_started_at": comparison.get("baseline_started_at") or None,
        "margin": _float(comparison.get("margin")),
        "alpha": _float(comparison.get("alpha")),
        "warnings": [str(w) for w in comparison.get("warnings") or []],
        "only_in_baseline": [str(i) for i in comparison.get("only_in_baseline") or []],
        "only_in_candidate": [str(i) for i in comparison.get("only_in_candidate") or []],
        "suites": suites,
    }


def histogram_bins(values: Sequence[float], lo: float, hi: float, bins: int) -> list[int]:
    """Counts of ``values`` in ``bins`` equal bins over [lo, hi] (the top edge included)."""
    counts = [0] * bins
    span = hi - lo
    for v in values:
        idx = 0 if span <= 0 else min(bins - 1, max(0, int((v - lo) / span * bins)))
        counts[idx] += 1
    return counts


def _scores(cases: Iterable[CaseResult], suite: str, metric: str) -> list[float]:
    out = []
    for c in cases:
        if c.suite == suite:
            ms = c.scores.get(metric)
            if ms is not None and ms.score is not None:
                out.append(float(ms.score))
    return out


def _suite_metrics(run: RunResults) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for c in run.cases:
        for m in c.scores:
            seen.setdefault((c.suite, m), None)
    return list(seen)


def histograms(run: RunResults, baseline: RunResults | None = None) -> list[dict[str, Any]]:
    """Score distributions per suite and metric, with the baseline's as an outline."""
    out = []
    for suite, metric in _suite_metrics(run):
        values = _scores(run.cases, suite, metric)
        if not values:
            continue
        base = _scores(baseline.cases, suite, metric) if baseline is not None else []
        both = values + base
        # A raw measure is never drawn on a score's [0, 1] axis (0.4 ms latencies fit in it).
        bounded = unit_of(metric) is None and all(0.0 <= v <= 1.0 for v in both)
        lo, hi = (0.0, 1.0) if bounded else (min(both), max(both))
        n_bins = 10 if bounded else 12
        counts = histogram_bins(values, lo, hi, n_bins)
        base_counts = histogram_bins(base, lo, hi, n_bins) if base else []
        # Shares, not counts: the two runs may differ in size.
        shares = [k / len(values) for k in counts]
        base_shares = [k / len(base) for k in base_counts]
        top = max(shares + base_shares) or 1.0
        bw = HIST_W / n_bins
        bars = []
        for i, (k, share) in enumerate(zip(counts, shares, strict=True)):
            h = HIST_H * share / top
            left, right = lo + (hi - lo) * i / n_bins, lo + (hi - lo) * (i + 1) / n_bins
            bars.append(
                {
                    "x": round(i * bw + 1, 2),
                    "y": round(HIST_H - h, 2),
                    "w": round(bw - 2, 2),
                    "h": round(h, 2),
                    "title": f"[{left:.4g}, {right:.4g}{']' if i == n_bins - 1 else ')'}: {k}",
                }
            )
        outline = ""
        if base_shares:
            pts = [f"0,{HIST_H}"]
            for i, share in enumerate(base_shares):
                y = round(HIST_H - HIST_H * share / top, 2)
                pts += [f"{i * bw:.2f},{y}", f"{(i + 1) * bw:.2f},{y}"]
            pts.append(f"{HIST_W},{HIST_H}")
            outline = " ".join(pts)
        out.append(
            {
                "suite": suite,
                "metric": metric,
                "n": len(values),
                "mean": sum(values) / len(values),
                "base_mean": sum(base) / len(base) if base else None,
                "unit": unit_of(metric),
                # The x axis says what it measures: a score, or a measure in its unit.
                "axis": _axis_label(metric, bounded),
                "lo": lo,
                "hi": hi,
                "w": HIST_W,
                "h": HIST_H,
                "bars": bars,
                "outline": outline,
            }
        )
    return out


def _axis_label(metric: str, bounded: bool) -> str:
    unit = unit_of(metric)
    if unit is not None:
        return f"{metric} ({unit})"
    return "score" if bounded else f"{metric} (value)"


def _per_case_means(cases: Iterable[CaseResult], suite: str, metric: str) -> dict[str, float]:
    from ..results.aggregate import per_case

    return per_case([c for c in cases if c.suite == suite], metric).as_dict()


def _downsample(values: list[float], k: int) -> list[float]:
    """``k`` evenly spaced order statistics of sorted ``values`` (all of them when fewer)."""
    if len(values) <= k:
        return values
    return [values[round(i * (len(values) - 1) / (k - 1))] for i in range(k)]


def delta_charts(run: RunResults, baseline: RunResults) -> list[dict[str, Any]]:
    """Per suite and metric: the per-case differences (this run minus baseline), sorted."""
    out = []
    for suite, metric in _suite_metrics(run):
        cand = _per_case_means(run.cases, suite, metric)
        base = _per_case_means(baseline.cases, suite, metric)
        ids = sorted(set(cand) & set(base))
        if not ids:
            continue
        deltas = sorted(cand[i] - base[i] for i in ids)
        lower_better = metric in LOWER_IS_BETTER
        eps = 1e-12
        better = sum(1 for d in deltas if (d < -eps if lower_better else d > eps))
        worse = sum(1 for d in deltas if (d > eps if lower_better else d < -eps))
        shown = _downsample(deltas, DELTA_MAX_BARS)
        scale = max(abs(deltas[0]), abs(deltas[-1])) or 1.0
        mid = DELTA_H / 2
        bw = DELTA_W / len(shown)
        bars = []
        for i, d in enumerate(shown):
            h = (DELTA_H / 2 - 2) * abs(d) / scale
            good = d < 0 if lower_better else d > 0
            tone = "same" if abs(d) <= eps else ("better" if good else "worse")
            bars.append(
                {
                    "x": round(i * bw, 2),
                    "y": round(mid - h if d > 0 else mid, 2),
                    "w": round(max(bw - (0.5 if bw > 2 else 0), 0.4), 2),
                    "h": round(max(h, 0.6), 2),
                    "tone": tone,
                }
            )
        out.append(
            {
                "suite": suite,
                "metric": metric,
                "n": len(deltas),
                "better": better,
                "worse": worse,
                "same": len(deltas) - better - worse,
                "mean": sum(deltas) / len(deltas),
                "scale": scale,
                "w": DELTA_W,
                "h": DELTA_H,
                "mid": mid,
                "bars": bars,
                "sampled": len(shown) < len(deltas),
            }
        )
    return out
