"""The report's charts as coordinates: trend sparklines, score histograms, per-case deltas.

The template only draws them, so each chart is a small pure function with a typed input that
tests can check without a browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..results.units import RAW_MEASURES, unit_of

if TYPE_CHECKING:
    from ..results.records import CaseResult, RunResults
    from .history import TrendPoint

__all__ = [
    "LOWER_IS_BETTER",
    "delta_charts",
    "histogram_bins",
    "histograms",
    "sparkline",
]

LOWER_IS_BETTER = RAW_MEASURES
"""Metrics where a drop is an improvement (the raw measures: latency, cost)."""
HIST_W, HIST_H = 260.0, 80.0
DELTA_W, DELTA_H = 320.0, 90.0
DELTA_MAX_BARS = 400
SPARK_W, SPARK_H = 120.0, 28.0


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
            f"[{p.ci_low:.4f}, {p.ci_high:.4f}] n={p.n}"
            + (f" (not a whole run: {p.incomplete})" if p.incomplete else ""),
            # A run over part of the suite (-k, a file not collected) is drawn hollow.
            "partial": bool(p.incomplete),
        }
        for i, p in enumerate(points)
    ]
    # The change is between whole runs only: from or to a run of 2 of 40 cases it says
    # nothing about the suite.
    whole = [p.estimate for p in points if not p.incomplete]
    return {
        "w": SPARK_W,
        "h": SPARK_H,
        "line": line,
        "band": " ".join(upper + lower),
        "dots": dots,
        "n": n,
        "whole": len(whole),
        "change": whole[-1] - whole[0] if len(whole) >= 2 else None,
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
