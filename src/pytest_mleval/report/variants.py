"""The variant comparison (``RunResults.variant_sets``) for every reader: the terminal table, the
Markdown summary, the notebook's table and the trade-offs all of them state.

Each output reads the verdicts and the paired comparisons as the results file stores them and
claims nothing they do not support: "best" only where a variant beats every other one at the
adjusted level, "as good as" only for a pair with no significant difference (shown with the
interval of the difference, so a reader sees how large it could still be). The HTML view model
and its charts are in :mod:`.variant_views`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..results.units import RAW_MEASURES, fmt_interval, fmt_metric, fmt_p, fmt_usd, unit_of
from .escaping import md_code, md_text, term_text

if TYPE_CHECKING:
    from ..results.records import (
        RunResults,
        VariantEstimate,
        VariantSet,
        VariantUsage,
        VariantVerdict,
    )

__all__ = [
    "MIN_RATIO",
    "Tradeoff",
    "fmt_ms",
    "lower_is_better",
    "marks",
    "metric_order",
    "pair_records",
    "tradeoff_text",
    "tradeoffs",
    "variant_cost",
    "variant_markdown",
    "variant_records",
    "variant_terminal",
    "verdict_text",
]

MIN_RATIO = 1.2
"""Cost (or latency) ratios below this are not called cheaper (or faster)."""
TRADEOFFS_SHOWN = 5
TERMINAL_TRADEOFFS = 3
# Pairs listed in the Markdown summary's collapsed table; the results file has them all.
PAIRS_SHOWN = 60
# The gap between terminal columns, and the longest variant name a column shows (longer ones
# make every column a letter, with a legend).
_GAP = 2
_NAME_W = 20


# ---------------------------------------------------------------------------- shared readings


def metric_order(vs: VariantSet) -> list[str]:
    """The metrics of a variant set in the order their estimates were recorded."""
    return list(dict.fromkeys(e.metric for e in vs.estimates))


def _estimates(vs: VariantSet) -> dict[tuple[str, str], VariantEstimate]:
    return {(e.variant, e.metric): e for e in vs.estimates}


def _verdicts(vs: VariantSet) -> dict[str, VariantVerdict]:
    return {v.metric: v for v in vs.verdicts}


def _usage(vs: VariantSet) -> dict[str, VariantUsage]:
    return {u.variant: u for u in vs.usage}


def lower_is_better(vs: VariantSet, metric: str) -> bool:
    """Whether a drop of ``metric`` is an improvement (as the pairs say, else a raw measure)."""
    for p in vs.pairs:
        if p.metric == metric:
            return p.lower_is_better
    return metric in RAW_MEASURES


def marks(vs: VariantSet, metric: str) -> dict[str, str]:
    """``best`` for the verdict's winner of ``metric``; ``tied`` for the variants it cannot
    separate from the top when there is no winner."""
    verdict = _verdicts(vs).get(metric)
    if verdict is None:
        return {}
    if verdict.best:
        return {verdict.best: "best"}
    return dict.fromkeys(verdict.candidates, "tied")


def verdict_text(vs: VariantSet, metric: str, name: Callable[[str], str] = str) -> str:
    """The verdict on ``metric`` in words, variant names written with ``name``."""
    verdict = _verdicts(vs).get(metric)
    if verdict is None:
        return "not compared"
    if verdict.best:
        return f"{name(verdict.best)} is best (beats every other variant)"
    if verdict.candidates:
        text = "no clear winner: " + ", ".join(name(c) for c in verdict.candidates)
        tested = {frozenset((p.a, p.b)) for p in vs.pairs if p.metric == metric}
        pairs = itertools.combinations(verdict.candidates, 2)
        if vs.reference and any(frozenset(p) not in tested for p in pairs):
            # Two of them were never compared: "cannot be separated" only says untested.
            text += f" (only pairs with the reference {name(vs.reference)} were tested)"
        return text
    return "no clear winner"


def _signed(metric: str, value: float) -> str:
    if unit_of(metric):
        text = fmt_metric(metric, value)
        return text if text.startswith("-") else f"+{text}"
    return f"{value:+.3f}"


def fmt_ms(value: float | None) -> str:
    """A latency for people: ``1,500 ms``, ``12 ms``, ``0.82 ms`` (a local call takes less than
    one), ``–`` when unknown."""
    if value is None or not math.isfinite(value):
        return "–"
    if abs(value) >= 10 or value == 0:
        return f"{value:,.0f} ms"
    return f"{value:.2g} ms"


_ms = fmt_ms


def _ratio(x: float | None, y: float | None) -> float | None:
    """``y / x`` for two positive amounts (``None`` when either is missing or zero)."""
    if not x or not y or x <= 0 or y <= 0 or not math.isfinite(x) or not math.isfinite(y):
        return None
    return y / x


def _comparisons_text(vs: VariantSet) -> str:
    against = f"each against {vs.reference}" if vs.reference else "all pairs"
    return (
        f"{len(vs.variants)} variants, {against}, {vs.multiplicity} across "
        f"{len(vs.pairs)} comparisons, alpha {vs.alpha:g}"
    )


# ---------------------------------------------------------------------------- trade-offs


@dataclass(frozen=True)
class Tradeoff:
    """What one paired comparison on the quality metric says beside the two variants' costs.

    ``cheap`` costs less; ``verdict`` is how it compares with ``dear`` at the adjusted level;
    ``diff`` and its interval are ``cheap`` minus ``dear``.
    """

    cheap: str
    dear: str
    metric: str
    ratio: float
    verdict: Literal["as good", "better", "worse"]
    diff: float
    ci_low: float
    ci_high: float
    p_adjusted: float
    speed: float | None = None
    """``dear``'s p50 latency over ``cheap``'s (above 1: ``cheap`` is faster too)."""


def tradeoffs(vs: VariantSet, *, min_ratio: float = MIN_RATIO) -> list[Tradeoff]:
    """The compared pairs on the quality metric whose costs differ by ``min_ratio`` or more.

    Only pairs the comparison tested are read (with a ``reference:``, each variant against it);
    a pair whose variants both cost nothing (or whose cost is unknown) says nothing about cost.
    Dominating trade-offs (as good or better, and cheaper) come first, the larger ratio first.
    """
    usage = _usage(vs)
    out: list[Tradeoff] = []
    for p in vs.pairs:
        if p.metric != vs.quality_metric or p.a not in usage or p.b not in usage:
            continue
        ua, ub = usage[p.a], usage[p.b]
        if ua.cost_usd <= ub.cost_usd:
            cheap, dear, ratio = p.a, p.b, _ratio(ua.cost_usd, ub.cost_usd)
            # The pair's difference is b - a: from the cheap variant's side it flips sign.
            diff, lo, hi = -p.diff, -p.ci_high, -p.ci_low
        else:
            cheap, dear, ratio = p.b, p.a, _ratio(ub.cost_usd, ua.cost_usd)
            diff, lo, hi = p.diff, p.ci_low, p.ci_high
        if ratio is None or ratio < min_ratio:
            continue
        verdict: Literal["as good", "better", "worse"] = (
            "as good" if p.better is None else "better" if p.better == cheap else "worse"
        )
        speed = _ratio(usage[cheap].latency_p50_ms, usage[dear].latency_p50_ms)
        out.append(
            Tradeoff(cheap, dear, p.metric, ratio, verdict, diff, lo, hi, p.p_adjusted, speed)
        )
    out.sort(key=lambda t: (t.verdict == "worse", -t.ratio, t.cheap, t.dear))
    return out


def _speed_text(t: Tradeoff) -> str:
    if t.speed is None:
        return ""
    if t.speed >= MIN_RATIO:
        return f", {t.speed:.1f}x faster at p50"
    if 1 / t.speed >= MIN_RATIO:
        return f" ({1 / t.speed:.1f}x slower at p50)"
    return ""


def tradeoff_text(t: Tradeoff, name: Callable[[str], str] = str) -> str:
    """One trade-off in words (``b is as good as a on pass_rate (...) and 4.0x cheaper``)."""
    cheap, dear, metric = name(t.cheap), name(t.dear), t.metric
    ci = f"[{_signed(metric, t.ci_low)}, {_signed(metric, t.ci_high)}]"
    if t.verdict == "as good":
        return (
            f"{cheap} is as good as {dear} on {metric} (no significant difference: "
            f"Δ {_signed(metric, t.diff)} {ci}) and {t.ratio:.1f}x cheaper{_speed_text(t)}"
        )
    if t.verdict == "better":
        return (
            f"{cheap} is better than {dear} on {metric} (Δ {_signed(metric, t.diff)} {ci}, "
            f"adjusted p {fmt_p(t.p_adjusted)}) and {t.ratio:.1f}x cheaper{_speed_text(t)}"
        )
    return (
        f"{dear} is better than {cheap} on {metric} (Δ {_signed(metric, -t.diff)} "
        f"[{_signed(metric, -t.ci_high)}, {_signed(metric, -t.ci_low)}], adjusted p "
        f"{fmt_p(t.p_adjusted)}) but costs {t.ratio:.1f}x as much"
    )


# ---------------------------------------------------------------------------- terminal


def variant_cost(u: VariantUsage) -> str:
    """A variant's cost cell: ``$0.25``; ``unknown`` when its cases called a model with no
    price (their $0 is not a cost), ``≥$0.25`` when only some did."""
    if not u.cost_unknown:
        return fmt_usd(u.cost_usd)
    return f"≥{fmt_usd(u.cost_usd)}" if u.cost_usd > 0 else "unknown"


def _short(metric: str, value: float, *, ci: bool = False) -> str:
    """A compact number for a terminal cell: ``.801`` inside an interval, ``1.2k`` ms."""
    unit = unit_of(metric)
    if unit == "USD":
        return fmt_usd(value, digits=2)
    if unit is not None:
        # No thousands separator: a comma would read as the interval's own.
        return f"{value / 1000:.0f}k" if abs(value) >= 100_000 else f"{value:.0f}"
    text = f"{value:.3f}"
    if ci and -1 < value < 1:
        text = text.replace("0.", ".", 1)
    return text


def _cell(e: VariantEstimate | None, mark: str | None) -> str:
    if e is None:
        return "–"
    m = e.metric
    sign = {"best": "*", "tied": "~"}.get(mark or "", "")
    return (
        f"{_short(m, e.estimate)} [{_short(m, e.ci_low, ci=True)},{_short(m, e.ci_high, ci=True)}]"
        + sign
    )


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _labels(names: list[str], width: int) -> tuple[list[str], list[str]]:
    """Column headers: the names themselves, or letters and a legend when one does not fit."""
    if all(len(n) <= width for n in names):
        return names, []
    letters = [chr(65 + i) if i < 26 else f"V{i + 1}" for i in range(len(names))]
    return letters, [f"{k} = {n}" for k, n in zip(letters, names, strict=True)]


def _estimate_table(vs: VariantSet, labels: list[str], width: int) -> list[str]:
    est = _estimates(vs)
    metrics = metric_order(vs)
    names = labels
    cells = {m: [_cell(est.get((v, m)), marks(vs, m).get(v)) for v in vs.variants] for m in metrics}
    col = max([len(c) for row in cells.values() for c in row] + [5])
    col = max(col, *(len(label) for label in labels))
    metric_w = min(max([len(term_text(m)) for m in metrics] + [6]), 24)
    # As many variant columns per block as fit beside a metric column of at least 8.
    per_block = max(1, (width - 2 - min(metric_w, 8)) // (col + _GAP))
    metric_w = min(metric_w, width - 2 - min(per_block, len(names)) * (col + _GAP))
    lines = []
    for start in range(0, len(names), per_block):
        idx = range(start, min(start + per_block, len(names)))
        head = "".join(" " * _GAP + f"{labels[i]:<{col}}" for i in idx)
        lines.append(f"  {'metric':<{metric_w}}{head}".rstrip())
        for m in metrics:
            row = "".join(" " * _GAP + f"{cells[m][i]:<{col}}" for i in idx)
            lines.append(f"  {_fit(term_text(m), metric_w):<{metric_w}}{row}".rstrip())
    return lines


def _usage_table(vs: VariantSet, labels: list[str]) -> list[str]:
    usage = _usage(vs)
    if not usage:
        return []
    label = dict(zip(vs.variants, labels, strict=True))
    names = [v for v in vs.variants if v in usage]
    name_w = min(max([len(label[n]) for n in names] + [7]), _NAME_W)
    q = _fit(term_text(vs.quality_metric), 12)
    q_w = max(len(q), 9)
    lines = [
        f"  {'variant':<{name_w}}  {q:>{q_w}}  {'cost':>10}  {'tokens':>10}  {'p50':>9}  "
        f"{'p95':>9}  {'errored':>7}"
    ]
    for n in names:
        u = usage[n]
        quality = "–" if u.quality is None else fmt_metric(vs.quality_metric, u.quality)
        errored = f"{u.errored}/{u.cases}" if u.errored else "0"
        lines.append(
            f"  {_fit(label[n], name_w):<{name_w}}  {quality:>{q_w}}  "
            f"{variant_cost(u):>10}  {u.total_tokens:>10,}  {_ms(u.latency_p50_ms):>9}  "
            f"{_ms(u.latency_p95_ms):>9}  {errored:>7}" + ("  pareto" if u.pareto else "")
        )
    return lines


def _judge_lines(vs: VariantSet, name: Callable[[str], str]) -> list[str]:
    if vs.ranking:
        ranks = ", ".join(
            f"{r.rank}. {name(r.variant)} {r.strength:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
            for r in sorted(vs.ranking, key=lambda r: r.rank)
        )
        return [f"judge ranking (Bradley-Terry): {ranks}"]
    return [
        f"judge: {name(w.a)} vs {name(w.b)}: {w.wins_a} wins, {w.wins_b} losses, {w.ties} ties; "
        f"{name(w.a)}'s win rate {w.win_rate_a:.3f} [{w.ci_low:.3f}, {w.ci_high:.3f}]"
        for w in vs.win_rates
    ]


def variant_terminal(vs: VariantSet, *, width: int = 100) -> list[tuple[str, dict[str, Any]]]:
    """Terminal lines (with styles) of one variant set: estimates with CIs per variant and
    metric, the best marked, the verdicts, then cost, tokens and latency with the Pareto ones.

    Args:
        vs: The variant set.
        width: Terminal columns the tables fit in (variant columns wrap into blocks beyond).
    """
    level = round(vs.confidence * 100)
    labels, legend = _labels([term_text(v) for v in vs.variants], _NAME_W)
    lines: list[tuple[str, dict[str, Any]]] = [
        (f"variants of {term_text(vs.suite)}: {term_text(_comparisons_text(vs))}", {"bold": True})
    ]
    if vs.estimates:
        lines.extend((line, {}) for line in _estimate_table(vs, labels, width))
        for line in legend:
            lines.extend((text, {}) for text in _wrap(line, width))
        key = (
            f"[{level}% CI]  * best (beats every other, {vs.multiplicity} p < {vs.alpha:g})  "
            "~ cannot be separated from the top"
        )
        lines.extend((line, {}) for line in _wrap(key, width))
        for m in metric_order(vs):
            text = verdict_text(vs, m, term_text)
            style = {"green": True} if _verdicts(vs).get(m) and _verdicts(vs)[m].best else {}
            lines.extend((line, style) for line in _wrap(f"{term_text(m)}: {text}", width))
    lines.extend((line, {}) for line in _usage_table(vs, labels))
    # The terminal keeps to the trade-offs that dominate (as good or better, and cheaper).
    best_buys = [t for t in tradeoffs(vs) if t.verdict != "worse"][:TERMINAL_TRADEOFFS]
    prose = [tradeoff_text(t, term_text) for t in best_buys]
    for text in [*prose, *_judge_lines(vs, term_text)]:
        lines.extend((line, {}) for line in _wrap(text, width))
    for note in vs.notes:
        lines.extend((line, {"yellow": True}) for line in _wrap(f"note: {term_text(note)}", width))
    return lines


def _wrap(text: str, width: int) -> list[str]:
    """A sentence on lines of ``width`` columns, indented under the table."""
    import textwrap

    return textwrap.wrap(
        text, width, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False
    ) or ["  "]


# ---------------------------------------------------------------------------- Markdown


def _mdname(name: str) -> str:
    return md_code(name, table=True)


def _md_number(text: str) -> str:
    """Numbers this module formatted stay as written (``[0.7, 0.9]``), but a ``$`` pair would
    open GitHub's math: amounts are escaped."""
    return md_text(text) if "$" in text else text


def _md_cell(vs: VariantSet, e: VariantEstimate | None, mark: str | None) -> str:
    if e is None:
        return "–"
    value = _md_number(fmt_metric(e.metric, e.estimate))
    ci = _md_number(fmt_interval(e.metric, e.ci_low, e.ci_high))
    if mark == "best":
        return f"**{value}** {ci} 🏆"
    return f"{value} {ci}" + (" ≈" if mark == "tied" else "")


def _md_pairs(vs: VariantSet) -> list[str]:
    if not vs.pairs:
        return []
    out = [
        f"<details><summary>{len(vs.pairs)} paired comparisons "
        f"({md_text(vs.multiplicity)}-adjusted across pairs and metrics)</summary>",
        "",
        "| metric | a | b | mean a | mean b | Δ (b − a) [CI] | p | p (adj.) | better | test |",
        "|---|---|---|---:|---:|---|---:|---:|---|---|",
    ]
    for p in vs.pairs[:PAIRS_SHOWN]:
        m = p.metric
        out.append(
            f"| {md_text(m)} | {_mdname(p.a)} | {_mdname(p.b)} | "
            f"{md_text(fmt_metric(m, p.mean_a))} | "
            f"{md_text(fmt_metric(m, p.mean_b))} | {md_text(_signed(m, p.diff))} "
            f"[{md_text(_signed(m, p.ci_low))}, {md_text(_signed(m, p.ci_high))}] | "
            f"{fmt_p(p.p_value)} | {fmt_p(p.p_adjusted)} | "
            f"{_mdname(p.better) if p.better else '–'} | {md_text(p.test, limit=60)} |"
        )
    if len(vs.pairs) > PAIRS_SHOWN:
        out += ["", f"… and {len(vs.pairs) - PAIRS_SHOWN} more in the results file."]
    return [*out, "", "</details>", ""]


def _md_usage(vs: VariantSet) -> list[str]:
    usage = _usage(vs)
    if not usage:
        return []
    out = [
        "**Cost and speed**",
        "",
        f"| variant | {md_text(vs.quality_metric)} | cost | tokens (in / out) | "
        "latency p50 / p95 | errored | Pareto |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for v in vs.variants:
        u = usage.get(v)
        if u is None:
            continue
        quality = "–" if u.quality is None else md_text(fmt_metric(vs.quality_metric, u.quality))
        out.append(
            f"| {_mdname(v)} | {quality} | {md_text(variant_cost(u))} | "
            f"{u.total_tokens:,} ({u.prompt_tokens:,} / {u.completion_tokens:,}) | "
            f"{_ms(u.latency_p50_ms)} / {_ms(u.latency_p95_ms)} | "
            f"{u.errored}/{u.cases} | {'✓' if u.pareto else ''} |"
        )
    return [*out, ""]


def _md_judge(vs: VariantSet) -> list[str]:
    out: list[str] = []
    if vs.win_rates:
        out += [
            "**Pairwise judge**",
            "",
            "| a | b | a wins | ties | b wins | a's win rate [CI] |",
            "|---|---|---:|---:|---:|---|",
        ]
        for w in vs.win_rates:
            out.append(
                f"| {_mdname(w.a)} | {_mdname(w.b)} | {w.wins_a} | {w.ties} | {w.wins_b} | "
                f"{w.win_rate_a:.3f} [{w.ci_low:.3f}, {w.ci_high:.3f}] |"
            )
        out.append("")
    if vs.ranking:
        out += ["| rank | variant | Bradley-Terry strength [CI] |", "|---:|---|---|"]
        for r in sorted(vs.ranking, key=lambda r: r.rank):
            out.append(
                f"| {r.rank} | {_mdname(r.variant)} | "
                f"{r.strength:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] |"
            )
        out.append("")
    return out


def variant_markdown(vs: VariantSet) -> list[str]:
    """Markdown of one variant set: the estimates table with verdicts, cost and speed, the
    trade-offs the comparisons support, the judge's win rates and the paired tests."""
    level = round(vs.confidence * 100)
    ref = f", each against {md_code(vs.reference)}" if vs.reference else ", all pairs"
    out = [
        f"### Variants of {md_text(vs.suite)}",
        "",
        f"{len(vs.variants)} variants{ref} · {md_text(vs.multiplicity)} across "
        f"{len(vs.pairs)} comparisons · α = {vs.alpha:g} · {level}% CIs",
        "",
    ]
    for note in vs.notes:
        out += [f"> ⚠️ {md_text(note)}", ""]
    if vs.estimates:
        est = _estimates(vs)
        out.append("| metric | " + " | ".join(map(_mdname, vs.variants)) + " | verdict |")
        out.append("|---|" + "---:|" * len(vs.variants) + "---|")
        for m in metric_order(vs):
            mk = marks(vs, m)
            cells = " | ".join(_md_cell(vs, est.get((v, m)), mk.get(v)) for v in vs.variants)
            text = verdict_text(vs, m, _mdname)
            icon = "🏆 " if _verdicts(vs).get(m) and _verdicts(vs)[m].best else ""
            lib = " (lower is better)" if lower_is_better(vs, m) else ""
            out.append(f"| {md_text(m)}{lib} | {cells} | {icon}{text} |")
        out.append("")
    out += _md_usage(vs)
    claims = tradeoffs(vs)[:TRADEOFFS_SHOWN]
    if claims:
        out += [f"- {tradeoff_text(t, md_code)}" for t in claims]
        out.append("")
    out += _md_judge(vs)
    out += _md_pairs(vs)
    return out


# ---------------------------------------------------------------------------- notebook


def variant_records(run: RunResults) -> list[dict[str, Any]]:
    """One record per variant set, variant and metric: the estimate with its CI and n, whether
    the verdict calls it best (or cannot separate it from the top), and the variant's cost,
    tokens, latency and Pareto flag."""
    records = []
    for vs in run.variant_sets:
        usage = _usage(vs)
        for m in metric_order(vs):
            mk = marks(vs, m)
            for e in vs.estimates:
                if e.metric != m:
                    continue
                u = usage.get(e.variant)
                records.append(
                    {
                        "suite": vs.suite,
                        "variant": e.variant,
                        "metric": m,
                        "estimate": e.estimate,
                        "ci_low": e.ci_low,
                        "ci_high": e.ci_high,
                        "n": e.n,
                        "best": mk.get(e.variant) == "best",
                        "tied_top": mk.get(e.variant) == "tied",
                        "reference": e.variant == vs.reference,
                        "cost_usd": None if u is None else u.cost_usd,
                        "total_tokens": None if u is None else u.total_tokens,
                        "latency_p50_ms": None if u is None else u.latency_p50_ms,
                        "latency_p95_ms": None if u is None else u.latency_p95_ms,
                        "errored": None if u is None else u.errored,
                        "pareto": None if u is None else u.pareto,
                    }
                )
    return records


def pair_records(run: RunResults) -> list[dict[str, Any]]:
    """One record per paired comparison of every variant set (``diff`` is ``b - a``)."""
    return [{"suite": vs.suite, **p.model_dump()} for vs in run.variant_sets for p in vs.pairs]
