"""The HTML report's variant comparison: pure functions from ``RunResults.variant_sets`` to the
data the template draws (a heat-mapped estimates table with CI whiskers, the pairwise verdict
matrix, the quality-vs-cost scatter with its Pareto front, the judge's win rates and ranking,
and the cases where the variants disagree, which the page opens side by side).

Every count the page shows is bounded here (pairs, matrices, case links), so a run with many
variants and metrics keeps a page of a readable size; the results file has everything.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..results.units import unit_of
from .variants import (
    TRADEOFFS_SHOWN,
    lower_is_better,
    marks,
    metric_order,
    tradeoff_text,
    tradeoffs,
    verdict_text,
)
from .views import case_status

if TYPE_CHECKING:
    from ..results.records import CaseResult, RunResults, VariantSet

__all__ = ["HEAT_LEVELS", "pareto_chart", "variant_sets_view"]

HEAT_LEVELS = 6
"""Background shades of the estimates table (``heat-0`` worst to ``heat-5`` best)."""
WHISKER_W = 90.0
CHART_W, CHART_H = 420.0, 240.0
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 46.0, 16.0, 14.0, 34.0
PAIRS_SHOWN = 300
MATRICES_SHOWN = 12
DISAGREE_SHOWN = 50


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def _whisker(
    lo: float, hi: float, est: float, span: tuple[float, float]
) -> dict[str, float] | None:
    """A CI whisker on the row's common scale, so the variants' intervals line up."""
    a, b = span
    if not _finite(lo, hi, est, a, b) or b <= a:
        return None

    def x(v: float) -> float:
        return round(3 + (WHISKER_W - 6) * (min(max(v, a), b) - a) / (b - a), 2)

    return {"x1": x(lo), "x2": x(hi), "xe": x(est), "w": WHISKER_W}


def _heat(vs: VariantSet, metric: str, values: list[float]) -> list[int | None]:
    """Shade per value: a score in [0, 1] by its value (0.90 and 0.91 look alike), any other
    measure by its place between the row's extremes; reversed where lower is better."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [None] * len(values)
    if unit_of(metric) is None and all(0.0 <= v <= 1.0 for v in finite):
        lo, hi = 0.0, 1.0
    else:
        lo, hi = min(finite), max(finite)
    if hi <= lo:
        return [None] * len(values)
    flip = lower_is_better(vs, metric)
    out: list[int | None] = []
    for v in values:
        if not math.isfinite(v):
            out.append(None)
            continue
        t = (v - lo) / (hi - lo)
        t = 1.0 - t if flip else t
        out.append(min(HEAT_LEVELS - 1, max(0, int(t * HEAT_LEVELS))))
    return out


def _estimate_rows(vs: VariantSet) -> list[dict[str, Any]]:
    est = {(e.variant, e.metric): e for e in vs.estimates}
    verdicts = {v.metric: v for v in vs.verdicts}
    rows = []
    for m in metric_order(vs):
        row_est = [est.get((v, m)) for v in vs.variants]
        present = [e for e in row_est if e is not None]
        span = (
            min(min(e.ci_low, e.estimate) for e in present),
            max(max(e.ci_high, e.estimate) for e in present),
        )
        heat = _heat(vs, m, [e.estimate if e else math.nan for e in row_est])
        mk = marks(vs, m)
        cells = []
        for v, e, h in zip(vs.variants, row_est, heat, strict=True):
            cells.append(
                None
                if e is None
                else {
                    "variant": v,
                    "estimate": e.estimate,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "n": e.n,
                    "heat": h,
                    "mark": mk.get(v),
                    "bar": _whisker(e.ci_low, e.ci_high, e.estimate, span),
                }
            )
        verdict = verdicts.get(m)
        rows.append(
            {
                "metric": m,
                "lower_is_better": lower_is_better(vs, m),
                "cells": cells,
                "verdict": verdict_text(vs, m),
                "best": verdict.best if verdict else None,
            }
        )
    return rows


def _matrices(vs: VariantSet) -> list[dict[str, Any]]:
    """Per metric, who beats whom: cell (row, column) reads "row against column"."""
    out = []
    for m in metric_order(vs)[:MATRICES_SHOWN]:
        pairs = {(p.a, p.b): p for p in vs.pairs if p.metric == m}
        if not pairs:
            continue
        rows = []
        for r in vs.variants:
            cells: list[dict[str, Any]] = []
            for c in vs.variants:
                if r == c:
                    cells.append({"kind": "self"})
                    continue
                p = pairs.get((r, c)) or pairs.get((c, r))
                if p is None:
                    cells.append({"kind": "none"})
                    continue
                # The pair's difference is b - a; the cell shows row minus column.
                sign = 1.0 if p.b == r else -1.0
                lo, hi = sorted((sign * p.ci_low, sign * p.ci_high))
                kind = "tie" if p.better is None else "win" if p.better == r else "loss"
                cells.append(
                    {
                        "kind": kind,
                        # + 0.0: a tie shows as +0.000, never -0.000.
                        "diff": sign * p.diff + 0.0,
                        "p_adjusted": p.p_adjusted,
                        "title": f"{r} − {c}: {sign * p.diff:+.4g} [{lo:+.4g}, {hi:+.4g}], "
                        f"p {p.p_value:.3g}, adjusted {p.p_adjusted:.3g}, n={p.n}, {p.test}",
                    }
                )
            rows.append({"variant": r, "cells": cells})
        out.append({"metric": m, "lower_is_better": lower_is_better(vs, m), "rows": rows})
    return out


def _scale(lo: float, hi: float, a: float, b: float, *, log: bool) -> Any:
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    span = hi - lo or 1.0

    def f(v: float) -> float:
        t = ((math.log10(v) if log else v) - lo) / span
        return round(a + (b - a) * t, 2)

    return f


def pareto_chart(vs: VariantSet) -> dict[str, Any] | None:
    """Coordinates of the quality-vs-cost scatter: one point per variant with its quality CI
    as a whisker, the Pareto-optimal ones joined by the front (a staircase).

    The x axis is the variant's cost (log-scaled when the costs span 10x or more); with no
    cost recorded it is the p50 latency, and the front is drawn only from the records'
    ``pareto`` flags on cost, never recomputed. ``None`` with fewer than two variants to place.
    """
    est = {e.variant: e for e in vs.estimates if e.metric == vs.quality_metric}
    usable = [u for u in vs.usage if u.quality is not None and math.isfinite(u.quality)]
    by_cost = any(u.cost_usd > 0 for u in usable)
    xs: dict[str, float] = {}
    for u in usable:
        x = u.cost_usd if by_cost else u.latency_p50_ms
        if x is not None and math.isfinite(x) and (x > 0 or not by_cost):
            xs[u.variant] = float(x)
    points = [u for u in usable if u.variant in xs]
    if len(points) < 2:
        return None
    x_lo, x_hi = min(xs.values()), max(xs.values())
    log = by_cost and x_lo > 0 and x_hi / x_lo >= 10
    if not log:
        pad = (x_hi - x_lo) * 0.08 or max(abs(x_hi) * 0.1, 1e-9)
        x_lo, x_hi = max(0.0, x_lo - pad) if x_lo >= 0 else x_lo - pad, x_hi + pad
    else:
        x_lo, x_hi = x_lo / 1.3, x_hi * 1.3
    ys = [float(u.quality) for u in points if u.quality is not None]
    for u in points:
        e = est.get(u.variant)
        if e is not None and _finite(e.ci_low, e.ci_high):
            ys += [e.ci_low, e.ci_high]
    y_lo, y_hi = min(ys), max(ys)
    pad_y = (y_hi - y_lo) * 0.08 or 0.05
    y_lo, y_hi = y_lo - pad_y, y_hi + pad_y
    fx = _scale(x_lo, x_hi, _PAD_L, CHART_W - _PAD_R, log=log)
    fy = _scale(y_lo, y_hi, CHART_H - _PAD_B, _PAD_T, log=False)
    dots = []
    for u in points:
        e = est.get(u.variant)
        q = float(u.quality) if u.quality is not None else 0.0
        whisker = None
        if e is not None and _finite(e.ci_low, e.ci_high):
            whisker = {"y1": fy(e.ci_low), "y2": fy(e.ci_high)}
        cx = fx(xs[u.variant])
        dots.append(
            {
                "variant": u.variant,
                "label": u.variant if len(u.variant) <= 24 else u.variant[:23] + "…",
                "x": cx,
                "y": fy(q),
                # Labels of points on the right half go to their left, inside the frame.
                "anchor": "end" if cx > CHART_W * 0.6 else "start",
                "dx": -7 if cx > CHART_W * 0.6 else 7,
                "pareto": u.pareto,
                "whisker": whisker,
                "cost": u.cost_usd,
                "p50": u.latency_p50_ms,
                "quality": q,
            }
        )
    _place_labels(dots)
    front = ""
    if by_cost:
        best = sorted((d for d in dots if d["pareto"]), key=lambda d: (d["x"], -d["y"]))
        steps: list[str] = []
        for i, d in enumerate(best):
            if i:
                steps.append(f"{d['x']},{best[i - 1]['y']}")
            steps.append(f"{d['x']},{d['y']}")
        front = " ".join(steps) if len(best) > 1 else ""
    # Ticks at the data's extremes, not at the padded edges (no "$0.000384" on the axis).
    x_ticks = sorted({(fx(v), v) for v in (min(xs.values()), max(xs.values()))})
    y_ticks = sorted(
        {(fy(v), v) for v in (min(d["quality"] for d in dots), max(d["quality"] for d in dots))}
    )
    return {
        "w": CHART_W,
        "x_ticks": [{"x": x, "value": v} for x, v in x_ticks],
        "y_ticks": [{"y": y, "value": v} for y, v in y_ticks],
        "h": CHART_H,
        "left": _PAD_L,
        "right": CHART_W - _PAD_R,
        "top": _PAD_T,
        "bottom": CHART_H - _PAD_B,
        "by_cost": by_cost,
        "log": log,
        "x_lo": x_lo,
        "x_hi": x_hi,
        "y_lo": y_lo,
        "y_hi": y_hi,
        "x_label": ("cost, USD" + (" (log scale)" if log else ""))
        if by_cost
        else "latency p50, ms (no cost recorded)",
        "y_label": vs.quality_metric,
        "dots": dots,
        "front": front,
    }


def _place_labels(dots: list[dict[str, Any]]) -> None:
    """``ly``, the baseline of each point's label: above the point, or stepped below it when
    the label would overlap one placed before (points close together, equal quality)."""
    placed: list[tuple[float, float, float]] = []  # left, right, baseline
    for d in sorted(dots, key=lambda d: (d["x"], d["y"])):
        width = 6.2 * len(d["label"])
        left = d["x"] + d["dx"] - (width if d["anchor"] == "end" else 0.0)
        ly = d["y"] - 7
        for step in range(4):
            ly = d["y"] - 7 if step == 0 else d["y"] + 4 + 12 * step
            if not any(left < r and x0 < left + width and abs(ly - b) < 12 for x0, r, b in placed):
                break
        placed.append((left, left + width, ly))
        d["ly"] = round(ly, 2)


def _variant_suites(run: RunResults, vs: VariantSet) -> dict[str, str]:
    """Variant name -> the suite its cases ran in (``SUITE[VARIANT]``)."""
    out = {s.variant: s.name for s in run.suites if s.variant_of == vs.suite and s.variant}
    for v in vs.variants:
        out.setdefault(v, f"{vs.suite}[{v}]")
    return out


def _disagreements(run: RunResults, vs: VariantSet) -> tuple[list[dict[str, Any]], int]:
    """Cases (and repeats) whose outcome differs between the variants, in file order."""
    suites = {name: v for v, name in _variant_suites(run, vs).items()}
    seen: dict[tuple[str, int], dict[str, CaseResult]] = {}
    for c in run.cases:
        v = suites.get(c.suite)
        if v is not None:
            seen.setdefault((c.case_id, c.repeat), {})[v] = c
    out = []
    for (cid, r), by_variant in seen.items():
        statuses = {v: case_status(c) for v, c in by_variant.items()}
        if len(set(statuses.values())) > 1:
            out.append(
                {
                    "id": cid,
                    "r": r,
                    "statuses": [(v, statuses[v]) for v in vs.variants if v in statuses],
                }
            )
    return out[:DISAGREE_SHOWN], len(out)


def _ranking(vs: VariantSet) -> list[dict[str, Any]]:
    ranks = sorted(vs.ranking, key=lambda r: r.rank)
    if not ranks:
        return []
    span = (min(r.ci_low for r in ranks), max(r.ci_high for r in ranks))
    return [
        {
            "rank": r.rank,
            "variant": r.variant,
            "strength": r.strength,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "bar": _whisker(r.ci_low, r.ci_high, r.strength, span),
        }
        for r in ranks
    ]


def variant_sets_view(run: RunResults) -> list[dict[str, Any]]:
    """Per variant set, everything the report's variants section draws."""
    out = []
    for i, vs in enumerate(run.variant_sets):
        disagree, n_disagree = _disagreements(run, vs)
        out.append(
            {
                "suite": vs.suite,
                "anchor": f"variant-set-{i}",
                "variants": list(vs.variants),
                "reference": vs.reference,
                "multiplicity": vs.multiplicity,
                "alpha": vs.alpha,
                "confidence": vs.confidence,
                "quality_metric": vs.quality_metric,
                "notes": list(vs.notes),
                "rows": _estimate_rows(vs),
                "matrices": _matrices(vs),
                "matrices_more": max(0, len(metric_order(vs)) - MATRICES_SHOWN),
                "pairs": vs.pairs[:PAIRS_SHOWN],
                "n_pairs": len(vs.pairs),
                "usage": [u for v in vs.variants for u in vs.usage if u.variant == v],
                "chart": pareto_chart(vs),
                "tradeoffs": [
                    {"text": tradeoff_text(t), "verdict": t.verdict}
                    for t in tradeoffs(vs)[:TRADEOFFS_SHOWN]
                ],
                "win_rates": vs.win_rates,
                "ranking": _ranking(vs),
                "disagree": disagree,
                "n_disagree": n_disagree,
            }
        )
    return out
