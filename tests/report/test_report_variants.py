"""The variant comparison in every output: the terminal table, the Markdown summary, the HTML
matrix view (heat map, whiskers, who-beats-whom matrix, quality-vs-cost scatter, outputs side by
side, in a real browser too) and the notebook's DataFrame, from hand-built ``VariantSet``s."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_report import _embedded, _parse
from test_summary_escaping import Html, assert_only_own_markup, render

from pytest_mleval.report.html import render_report, write_report
from pytest_mleval.report.notebook import load_run
from pytest_mleval.report.summary import render_summary, terminal_lines
from pytest_mleval.report.variant_views import PAIRS_SHOWN, pareto_chart, variant_sets_view
from pytest_mleval.report.variants import (
    fmt_ms,
    tradeoff_text,
    tradeoffs,
    variant_markdown,
    variant_terminal,
    verdict_text,
)
from pytest_mleval.results.records import (
    CaseResult,
    MetricScore,
    RunResults,
    SuiteInfo,
    Usage,
    VariantEstimate,
    VariantPair,
    VariantRank,
    VariantSet,
    VariantUsage,
    VariantVerdict,
    VariantWinRate,
    write_results,
)

SUITE = "summaries"
# Per variant: pass_rate, rouge_l, latency_ms (estimate; the CI is +-0.1 or +-40 ms).
MEANS = {
    "mini": (0.80, 0.71, 400.0),
    "big": (0.95, 0.73, 900.0),
    "terse": (0.60, 0.55, 300.0),
    "cot": (0.85, 0.70, 1500.0),
}
# The pairs that differ significantly, per metric: (a, b) -> the better one.
BETTER = {
    "pass_rate": {
        ("mini", "big"): "big",
        ("mini", "terse"): "mini",
        ("big", "terse"): "big",
        ("big", "cot"): "big",
        ("terse", "cot"): "cot",
    },
    "rouge_l": {("mini", "terse"): "mini", ("big", "terse"): "big", ("terse", "cot"): "cot"},
    "latency_ms": {
        ("mini", "big"): "mini",
        ("mini", "cot"): "mini",
        ("big", "terse"): "terse",
        ("terse", "cot"): "terse",
        ("big", "cot"): "big",
    },
}
COST = {"mini": 0.001, "big": 0.004, "terse": 0.0008, "cot": 0.006}
P50 = {"mini": 400.0, "big": 900.0, "terse": 300.0, "cot": 1500.0}
PARETO = {"mini": True, "big": True, "terse": True, "cot": False}
METRICS = ("pass_rate", "rouge_l", "latency_ms")


def make_set(
    names: dict[str, str] | None = None,
    *,
    quality: str = "rouge_l",
    reference: str | None = None,
    cost: dict[str, float] | None = None,
) -> VariantSet:
    """Four variants on three metrics, all pairs (or each against ``reference``); ``names``
    renames variants (hostile or long names) everywhere."""
    rn = names or {}

    def n(v: str) -> str:
        return rn.get(v, v)

    cost = COST if cost is None else cost
    variants = list(MEANS)
    estimates, pairs = [], []
    for k, m in enumerate(METRICS):
        half = 40.0 if m == "latency_ms" else 0.1
        for v in variants:
            e = MEANS[v][k]
            estimates.append(
                VariantEstimate(
                    variant=n(v), metric=m, estimate=e, ci_low=e - half, ci_high=e + half, n=50
                )
            )
        for a, b in itertools.combinations(variants, 2):
            if reference and reference not in (a, b):
                continue
            better = BETTER[m].get((a, b))
            diff = MEANS[b][k] - MEANS[a][k]
            pairs.append(
                VariantPair(
                    metric=m,
                    a=n(a),
                    b=n(b),
                    n=50,
                    mean_a=MEANS[a][k],
                    mean_b=MEANS[b][k],
                    diff=diff,
                    ci_low=diff - half / 2,
                    ci_high=diff + half / 2,
                    p_value=0.002 if better else 0.3,
                    p_adjusted=0.01 if better else 0.6,
                    test="permutation",
                    better=n(better) if better else None,
                    lower_is_better=m == "latency_ms",
                )
            )
    verdicts = [
        VariantVerdict(metric="pass_rate", best=n("big"), message="big beats every other"),
        VariantVerdict(metric="rouge_l", candidates=[n("big"), n("mini"), n("cot")]),
        VariantVerdict(metric="latency_ms", best=n("terse")),
    ]
    usage = [
        VariantUsage(
            variant=n(v),
            cases=6,
            errored=1 if v == "cot" else 0,
            cost_usd=cost[v],
            prompt_tokens=1000 * (k + 1),
            completion_tokens=200 * (k + 1),
            total_tokens=1200 * (k + 1),
            latency_p50_ms=P50[v],
            latency_p95_ms=P50[v] * 2,
            quality=MEANS[v][METRICS.index(quality)],
            pareto=PARETO[v],
        )
        for k, v in enumerate(variants)
    ]
    return VariantSet(
        suite=SUITE,
        variants=[n(v) for v in variants],
        reference=n(reference) if reference else None,
        quality_metric=quality,
        estimates=estimates,
        pairs=pairs,
        verdicts=verdicts,
        usage=usage,
        notes=["cot errored on 1 of 6 cases"],
    )


# Outcome per variant and case: c2 and c4 differ between the variants.
OUTCOMES = {
    "mini": [True, True, True, True, True, True],
    "big": [True, True, True, True, True, True],
    "terse": [True, False, True, True, True, True],
    "cot": [True, True, True, None, True, True],
}


def make_run(vs: VariantSet | None = None, *, output: str = "{v} says {i}") -> RunResults:
    vs = vs or make_set()
    suites, cases = [], []
    for v, raw in zip(vs.variants, MEANS, strict=True):
        name = f"{SUITE}[{v}]"
        suites.append(SuiteInfo(name=name, n_cases=6, variant=v, variant_of=SUITE))
        for i, ok in enumerate(OUTCOMES[raw], start=1):
            cases.append(
                CaseResult(
                    suite=name,
                    case_id=f"c{i}",
                    variant=v,
                    input=f"text {i}",
                    expected=f"summary {i}",
                    output=None if ok is None else output.format(v=v, i=i),
                    error="TargetError: timed out" if ok is None else None,
                    passed=bool(ok),
                    scores={"rouge_l": MetricScore(score=0.7, passed=bool(ok))}
                    if ok is not None
                    else {},
                    latency_ms=P50[raw],
                    usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
                    cost_usd=COST[raw] / 6,
                )
            )
    return RunResults(suites=suites, cases=cases, variant_sets=[vs])


# ---------------------------------------------------------------------------- trade-offs


def test_tradeoffs_read_the_pairs_from_the_cheaper_side() -> None:
    found = {(t.cheap, t.dear): t for t in tradeoffs(make_set())}
    # mini vs big on rouge_l: no significant difference, mini 4x cheaper and faster.
    t = found[("mini", "big")]
    assert t.verdict == "as good" and t.ratio == pytest.approx(4.0)
    # The pair is big - mini = +0.02 [-0.03, +0.07]; from mini's side it is -0.02 [-0.07, +0.03].
    assert t.diff == pytest.approx(-0.02)
    assert (t.ci_low, t.ci_high) == (pytest.approx(-0.07), pytest.approx(0.03))
    assert tradeoff_text(t) == (
        "mini is as good as big on rouge_l (no significant difference: Δ -0.020 "
        "[-0.070, +0.030]) and 4.0x cheaper, 2.2x faster at p50"
    )
    # terse is cheaper than mini but significantly worse: a trade-off, stated from mini's side.
    worse = found[("terse", "mini")]
    assert worse.verdict == "worse"
    assert tradeoff_text(worse).startswith(
        "mini is better than terse on rouge_l (Δ +0.160 [+0.110, +0.210], adjusted p 0.010) "
        "but costs 1.2x as much"
    )
    # cot costs more than big and is not better: big is as good and 1.5x cheaper.
    assert found[("big", "cot")].verdict == "as good"
    # Dominating trade-offs first.
    kinds = [t.verdict for t in tradeoffs(make_set())]
    assert kinds == sorted(kinds, key=lambda k: k == "worse")


def test_no_cost_claim_without_costs_or_a_tested_pair() -> None:
    assert tradeoffs(make_set(cost=dict.fromkeys(COST, 0.0))) == []
    # Costs within 1.2x of each other are not called cheaper.
    assert tradeoffs(make_set(cost={"mini": 1.0, "big": 1.1, "terse": 0.95, "cot": 1.05})) == []
    # With a reference, only pairs against it were tested: terse vs mini is never claimed.
    pairs = {(t.cheap, t.dear) for t in tradeoffs(make_set(reference="big"))}
    assert pairs and all("big" in p for p in pairs)


# ---------------------------------------------------------------------------- terminal


def _terminal(vs: VariantSet, width: int = 100) -> list[str]:
    return [line for line, _ in variant_terminal(vs, width=width)]


def test_terminal_table_marks_winners_and_fits_100_columns() -> None:
    lines = _terminal(make_set())
    text = "\n".join(lines)
    assert all(len(line) <= 100 for line in lines), text
    assert lines[0].startswith("variants of summaries: 4 variants, all pairs, holm across 18")
    head = next(line for line in lines if line.lstrip().startswith("metric"))
    assert head.split() == ["metric", "mini", "big", "terse", "cot"]
    row = next(line for line in lines if line.lstrip().startswith("pass_rate "))
    # big is best on pass_rate (marked *); the others carry their estimate and interval.
    assert "0.950 [.850,1.050]*" in row and "0.800 [.700,.900] " in row
    rouge = next(line for line in lines if line.lstrip().startswith("rouge_l "))
    assert "0.730 [.630,.830]~" in rouge and "0.550 [.450,.650] " in rouge + " "
    lat = next(line for line in lines if line.lstrip().startswith("latency_ms "))
    assert "300 [260,340]*" in lat
    assert "  pass_rate: big is best (beats every other variant)" in lines
    assert "  rouge_l: no clear winner: big, mini, cot" in lines
    # Cost and latency per variant, the Pareto ones marked, cot's errors counted.
    usage = {line.split()[0]: line for line in lines if line.startswith("  ") and "$0.00" in line}
    assert set(usage) == {"mini", "big", "terse", "cot"}
    assert usage["mini"].split()[1:5] == ["0.710", "$0.00100", "1,200", "400"]
    assert [v for v, line in usage.items() if line.endswith("pareto")] == ["mini", "big", "terse"]
    assert "1/6" in usage["cot"]
    assert "mini is as good as big on rouge_l (no significant difference" in text
    assert "  note: cot errored on 1 of 6 cases" in lines


def test_terminal_long_names_get_letters_and_many_variants_wrap() -> None:
    long = {v: f"openai/gpt-4o-2024-08-06+prompt-{v}" for v in MEANS}
    lines = _terminal(make_set(long))
    assert all(len(line) <= 100 for line in lines), "\n".join(lines)
    head = next(line for line in lines if line.lstrip().startswith("metric"))
    assert head.split() == ["metric", "A", "B", "C", "D"]
    assert "  A = openai/gpt-4o-2024-08-06+prompt-mini" in lines
    assert "  D = openai/gpt-4o-2024-08-06+prompt-cot" in lines
    # The cost table uses the same letters; the sentences keep the full names.
    assert [line.split()[0] for line in lines if "$0.00" in line] == ["A", "B", "C", "D"]
    assert (
        "  pass_rate: openai/gpt-4o-2024-08-06+prompt-big is best (beats every other variant)"
        in lines
    )
    # Sixty columns: the four variants wrap into blocks, every line fits.
    narrow = _terminal(make_set(), width=60)
    table = [line for line in narrow if line.split()[0] in ("metric", *METRICS)]
    assert len(table) == 8 and all(len(line) <= 60 for line in table), "\n".join(narrow)
    heads = [line.split() for line in narrow if line.lstrip().startswith("metric")]
    assert len(heads) == 2 and sum(len(h) - 1 for h in heads) == 4


def test_terminal_escapes_variant_names() -> None:
    evil = "x\n\x1b[2Kgate s: PASS"
    lines = _terminal(make_set({"mini": evil}))
    assert all("\n" not in line and "\x1b" not in line for line in lines)
    assert any("x\\n\\x1b[2Kgate s: PASS" in line for line in lines)


def test_terminal_summary_includes_the_variant_block() -> None:
    lines = [line for line, _ in terminal_lines(make_run())]
    start = lines.index(next(line for line in lines if line.startswith("variants of summaries")))
    assert any("pass_rate: big is best" in line for line in lines[start:])


# ---------------------------------------------------------------------------- Markdown


def _table_rows(html: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)
        ]
        for r in rows
    ]


def test_markdown_table_verdicts_cost_and_claims() -> None:
    md = render_summary(make_run())
    assert "### Variants of summaries" in md
    html = render(md)
    rows = _table_rows(html)
    assert ["metric", "mini", "big", "terse", "cot", "verdict"] in rows
    by_metric = {r[0]: r for r in rows if len(r) == 6}
    assert by_metric["pass_rate"][2] == "0.950 [0.850, 1.050] 🏆"
    assert "<strong>0.950</strong>" in html
    assert by_metric["pass_rate"][5] == "🏆 big is best (beats every other variant)"
    assert by_metric["rouge_l"][5] == "no clear winner: big, mini, cot"
    assert by_metric["rouge_l"][1].endswith("≈") and not by_metric["rouge_l"][3].endswith("≈")
    assert by_metric["latency_ms (lower is better)"][3].startswith("300 ms")
    usage = {r[0]: r for r in rows if len(r) == 7}
    assert usage["variant"][1] == "rouge_l"
    assert usage["mini"][2:4] == ["$0.00100", "1,200 (1,000 / 200)"]
    assert [v for v, r in usage.items() if r[6] == "✓"] == ["mini", "big", "terse"]
    assert usage["cot"][5] == "1/6"
    claims = Html(html).texts["li"]
    assert (
        "mini is as good as big on rouge_l (no significant difference: Δ -0.020 "
        "[-0.070, +0.030]) and 4.0x cheaper, 2.2x faster at p50"
    ) in claims
    # The paired tests, collapsed: one row per pair and metric.
    pair_rows = [r for r in rows if len(r) == 10 and r[0] != "metric"]
    assert len(pair_rows) == 18
    assert pair_rows[0][:5] == ["pass_rate", "mini", "big", "0.800", "0.950"]
    assert pair_rows[0][7:9] == ["0.010", "big"]
    assert "⚠️ cot errored on 1 of 6 cases" in md


def test_markdown_with_hostile_names_keeps_only_its_own_markup() -> None:
    evil = {
        "mini": "<img src=x onerror=alert(1)>|",
        "big": "[l](http://evil.example) `x`",
        "terse": "## head\n| a |",
        "cot": "**b** @octocat",
    }
    vs = make_set(evil)
    vs.suite = "<script>alert(1)</script> # x"
    vs.notes = ["</details><b>note</b>"]
    md = render_summary(RunResults(variant_sets=[vs]))
    html = render(md)
    page = assert_only_own_markup(html)
    # Every table row has as many cells as its header: no name added or removed a cell.
    for table in re.findall(r"<table>.*?</table>", html, re.S):
        widths = {len(r) for r in _table_rows(table)}
        assert len(widths) == 1, table
    head = next(r for r in _table_rows(html) if r and r[0] == "metric")
    assert head[1:5] == [
        "&lt;img src=x onerror=alert(1)&gt;|",
        "[l](http://evil.example) `x`",
        "## head | a |",
        "**b** @octocat",
    ]
    assert not page.texts.get("a")


def test_markdown_amounts_cannot_open_math() -> None:
    vs = VariantSet(
        suite="s",
        variants=["a", "b"],
        estimates=[
            VariantEstimate(
                variant=v, metric="cost_usd", estimate=e, ci_low=e / 2, ci_high=e * 2, n=9
            )
            for v, e in (("a", 0.002), ("b", 0.004))
        ],
    )
    md = "\n".join(variant_markdown(vs))
    assert "| cost_usd (lower is better) | \\$0.00200 \\[\\$0.00100, \\$0.00400\\] |" in md
    html = render(md)
    assert "$0.00200 [$0.00100, $0.00400]" in html and "math" not in html


# ---------------------------------------------------------------------------- HTML


def test_html_view_heat_whiskers_matrix_and_scatter() -> None:
    view = variant_sets_view(make_run())[0]
    rows = {r["metric"]: r for r in view["rows"]}
    big = rows["pass_rate"]["cells"][1]
    assert big["mark"] == "best" and big["heat"] == 5  # 0.95 on [0, 1]
    assert rows["pass_rate"]["cells"][2]["heat"] == 3  # terse 0.60
    # Latency: lower is better, shaded by place between the extremes.
    lat = [c["heat"] for c in rows["latency_ms"]["cells"]]
    assert lat[2] == 5 and lat[3] == 0
    assert [c["mark"] for c in rows["rouge_l"]["cells"]] == ["tied", "tied", None, "tied"]
    # Whiskers share one scale per row: terse's interval starts left of big's.
    bars = [c["bar"] for c in rows["pass_rate"]["cells"]]
    assert bars[2]["x1"] == 3.0 and bars[1]["x2"] == 87.0 and bars[2]["x1"] < bars[1]["x1"]
    matrix = next(m for m in view["matrices"] if m["metric"] == "pass_rate")
    cells = {(r["variant"], i): c for r in matrix["rows"] for i, c in enumerate(r["cells"])}
    assert cells[("big", 0)]["kind"] == "win" and cells[("big", 0)]["diff"] == pytest.approx(0.15)
    assert cells[("mini", 1)]["kind"] == "loss" and cells[("mini", 1)]["diff"] == pytest.approx(
        -0.15
    )
    assert cells[("mini", 3)]["kind"] == "tie" and cells[("mini", 0)]["kind"] == "self"
    assert view["n_disagree"] == 2 and [d["id"] for d in view["disagree"]] == ["c2", "c4"]
    assert view["disagree"][1]["statuses"][3] == ("cot", "errored")


def test_ties_labels_and_small_latencies_read_cleanly() -> None:
    vs = make_set(cost=dict.fromkeys(COST, 0.0))
    for p in vs.pairs:
        if p.metric == "pass_rate" and (p.a, p.b) == ("mini", "big"):
            p.diff, p.better = 0.0, None
    matrix = next(m for m in variant_sets_view(make_run(vs))[0]["matrices"])
    tie = matrix["rows"][0]["cells"][1]  # mini against big: -(0.0) is shown as +0.000
    assert tie["kind"] == "tie" and str(tie["diff"]) == "0.0"
    # Two variants at one point: the second label steps below instead of overprinting.
    for u in vs.usage:
        u.latency_p50_ms, u.quality = 0.82, 1.0
    chart = pareto_chart(vs)
    assert chart is not None
    assert len({d["ly"] for d in chart["dots"]}) == 4
    assert fmt_ms(0.82) == "0.82 ms" and fmt_ms(1500.0) == "1,500 ms" and fmt_ms(None) == "–"
    assert "0.82 ms" in "\n".join(_terminal(vs))


def test_pairs_against_a_reference_leave_the_rest_of_the_matrix_empty() -> None:
    vs = make_set(reference="mini")
    # big and cot were never compared with each other: the verdict says so.
    assert verdict_text(vs, "rouge_l") == (
        "no clear winner: big, mini, cot (only pairs with the reference mini were tested)"
    )
    assert verdict_text(make_set(), "rouge_l") == "no clear winner: big, mini, cot"
    view = variant_sets_view(make_run(vs))[0]
    matrix = view["matrices"][0]
    kinds = {(r["variant"], i): c["kind"] for r in matrix["rows"] for i, c in enumerate(r["cells"])}
    assert kinds[("big", 2)] == "none" and kinds[("big", 0)] == "win"


def test_pareto_chart_front_axes_and_fallbacks() -> None:
    chart = pareto_chart(make_set())
    assert chart is not None and chart["by_cost"] and not chart["log"]  # 0.0008..0.006: 7.5x
    dots = {d["variant"]: d for d in chart["dots"]}
    assert [d["pareto"] for d in dots.values()] == [True, True, True, False]
    # Cheaper is left, better is up (SVG y grows downwards).
    assert dots["terse"]["x"] < dots["mini"]["x"] < dots["big"]["x"] < dots["cot"]["x"]
    assert dots["big"]["y"] < dots["mini"]["y"] < dots["terse"]["y"]
    t, m, b = dots["terse"], dots["mini"], dots["big"]
    assert chart["front"] == (
        f"{t['x']},{t['y']} {m['x']},{t['y']} {m['x']},{m['y']} {b['x']},{m['y']} {b['x']},{b['y']}"
    )
    assert dots["mini"]["whisker"]["y1"] > dots["mini"]["y"] > dots["mini"]["whisker"]["y2"]
    wide = pareto_chart(make_set(cost={"mini": 0.001, "big": 0.05, "terse": 0.0008, "cot": 0.06}))
    assert wide is not None and wide["log"] and "log scale" in wide["x_label"]
    free = pareto_chart(make_set(cost=dict.fromkeys(COST, 0.0)))
    assert free is not None and not free["by_cost"] and free["front"] == ""
    assert free["x_label"].startswith("latency p50")
    one = make_set()
    one.usage = one.usage[:1]
    assert pareto_chart(one) is None


def test_report_renders_the_variant_section() -> None:
    html = render_report(make_run())
    assert 'id="variant-sets"' in html and 'href="#variant-sets"' in html
    section = html[html.index('id="variant-sets"') : html.index('id="distributions"')]
    parsed = _parse(section)
    cells = [a for t, a in parsed.tags if t == "td" and "vcell" in (a.get("class") or "")]
    assert len(cells) == 12
    assert sum("best" in (a["class"] or "").split() for a in cells) == 2
    assert "heat-5" in (cells[1]["class"] or "")
    assert '<span class="badge good">best</span>' in section
    assert section.count('<svg class="pareto"') == 1
    scatter = section[
        section.index('<svg class="pareto"') : section.index(
            "</svg>", section.index('<svg class="pareto"')
        )
    ]
    assert scatter.count("<circle") == 4 and '<polyline class="front"' in scatter
    assert "mini: 0.710 at $0.00100, p50 400 ms · Pareto-optimal" in scatter
    # Axis ticks at the data's extremes: the cheapest and dearest variant, worst and best quality.
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', scatter)
    assert ticks == ["$0.000800", "$0.00600", "cost, USD", "0.730", "0.550"]
    assert 'class="win" title="big − mini: +0.15' in section
    assert "▲ +0.150" in section and "p 0.010" in section
    assert "mini is as good as big on rouge_l" in section
    assert section.count('class="vcmp-link"') == 2
    assert "18 paired comparisons" in section
    data = _embedded(html)
    group = data["variantGroups"][0]
    assert group["g"] == SUITE and group["v"] == list(MEANS)
    assert [data["suites"][i] for i in group["s"]] == [f"{SUITE}[{v}]" for v in MEANS]


def test_report_without_variants_has_no_section() -> None:
    run = make_run()
    run.variant_sets = []
    html = render_report(run)
    assert 'id="variant-sets"' not in html and 'href="#variant-sets"' not in html


def test_report_variant_section_escapes_hostile_names() -> None:
    evil = {
        "mini": '"><img src=x onerror=alert(1)>',
        "big": "</script><script>window.__pwned=1</script>",
        "terse": "<b>t</b>",
        "cot": "c&d",
    }
    vs = make_set(evil)
    vs.notes = ["<script>alert(2)</script>"]
    vs.win_rates = [VariantWinRate(a=evil["mini"], b=evil["big"], wins_a=3, wins_b=1, ties=1)]
    html = render_report(make_run(vs, output="<img src=y onerror=alert(3)> {i}"))
    parsed = _parse(html)
    assert [t for t, _ in parsed.tags if t == "script"] == ["script", "script"]
    assert not [t for t, _ in parsed.tags if t in ("img", "b")]
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    data = _embedded(html)
    assert data["variantGroups"][0]["v"][1] == evil["big"]


def test_report_bounds_the_pairs_it_lists() -> None:
    names = [f"v{k:02d}" for k in range(26)]  # 325 pairs
    pairs = [
        VariantPair(
            metric="pass_rate",
            a=a,
            b=b,
            n=5,
            mean_a=0.5,
            mean_b=0.5,
            diff=0.0,
            ci_low=-0.1,
            ci_high=0.1,
            p_value=1.0,
            p_adjusted=1.0,
            test="mcnemar",
        )
        for a, b in itertools.combinations(names, 2)
    ]
    vs = VariantSet(suite="s", variants=names, pairs=pairs)
    html = render_report(RunResults(variant_sets=[vs]))
    vpairs = html[html.index('<details class="vpairs">') : html.index("</details>")]
    assert vpairs.count("<tr>") == PAIRS_SHOWN + 1
    assert f"The first {PAIRS_SHOWN} of 325" in vpairs


def test_ranking_and_win_rates_render() -> None:
    vs = make_set()
    vs.win_rates = [
        VariantWinRate(
            a="mini",
            b="big",
            wins_a=12,
            wins_b=5,
            ties=3,
            win_rate_a=0.675,
            ci_low=0.46,
            ci_high=0.84,
        )
    ]
    vs.ranking = [
        VariantRank(variant="big", rank=2, strength=-0.2, ci_low=-0.9, ci_high=0.4),
        VariantRank(variant="mini", rank=1, strength=0.2, ci_low=-0.4, ci_high=0.9),
    ]
    html = render_report(make_run(vs))
    assert "Pairwise judge" in html and "[0.460, 0.840]" in html
    ranks = re.findall(r'<td class="num">(\d)</td><td><code>(\w+)</code></td>', html)
    assert ranks == [("1", "mini"), ("2", "big")]
    md = render_summary(make_run(vs))
    assert "| 1 | `mini` | +0.200 [-0.400, +0.900] |" in md
    assert "| `mini` | `big` | 12 | 3 | 5 | 0.675 [0.460, 0.840] |" in md
    text = "\n".join(_terminal(vs))
    assert "judge ranking (Bradley-Terry): 1. mini +0.20 [-0.40, +0.90], 2. big -0.20" in text


# ---------------------------------------------------------------------------- notebook


def test_notebook_variants_dataframe(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    path = write_results(tmp_path / "run.json", make_run(make_set(reference="mini")))
    run = load_run(path)
    df = run.variants
    assert isinstance(df, pd.DataFrame) and len(df) == 12
    assert {
        "suite",
        "variant",
        "metric",
        "estimate",
        "ci_low",
        "ci_high",
        "n",
        "best",
        "cost_usd",
        "total_tokens",
        "latency_p50_ms",
        "latency_p95_ms",
        "pareto",
    } <= set(df.columns)
    best = df[df["best"]]
    assert sorted(zip(best["metric"], best["variant"], strict=True)) == [
        ("latency_ms", "terse"),
        ("pass_rate", "big"),
    ]
    big = df[(df["variant"] == "big") & (df["metric"] == "pass_rate")].iloc[0]
    assert big["estimate"] == 0.95 and big["ci_low"] == pytest.approx(0.85) and big["n"] == 50
    assert big["cost_usd"] == 0.004 and big["latency_p95_ms"] == 1800.0 and bool(big["pareto"])
    assert df[df["tied_top"]]["variant"].tolist() == ["mini", "big", "cot"]
    assert df[df["reference"]]["variant"].unique().tolist() == ["mini"]
    pairs = run.variant_pairs
    assert len(pairs) == 9 and set(pairs["a"]) == {"mini"}
    assert json.loads(pairs.to_json(orient="records"))[0]["better"] == "big"


def test_notebook_variants_empty_without_variant_sets(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    run = load_run(write_results(tmp_path / "r.json", RunResults()))
    assert len(run.variants) == 0


# ---------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def chromium() -> Any:
    from test_report_browser import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("Debian's chromium is not installed and could not be installed")
    b = Chromium(binary)
    try:
        yield b
    finally:
        b.close()


def _cards(page: Any, root: str) -> list[list[str]]:
    value = page.eval(
        f"Array.from(document.querySelectorAll({json.dumps(root + ' .vcmp-card')})).map(c => "
        "[c.getAttribute('data-variant'), c.querySelector('pre.vout:not(.st-errored)') ? "
        "c.querySelector('pre.vout:not(.st-errored)').textContent : '', c.innerText])"
    )
    assert isinstance(value, list)
    return value


def test_browser_compares_variants_side_by_side(chromium: Any, tmp_path: Path) -> None:
    page = chromium
    hook = page.send(
        "Page.addScriptToEvaluateOnNewDocument",
        source="window.__alerts = 0; window.alert = function () { window.__alerts += 1; };",
    )
    try:
        run = make_run(output="<img src=x onerror=alert(1)> {v} says {i}")
        page.open(write_report(tmp_path / "variants.html", run))
        assert page.errors() == []
        # The panel opens on the first case whose outcome differs: c2 (terse failed it).
        assert (
            page.eval("document.querySelector('.vcmp-pick').selectedOptions[0].textContent") == "c2"
        )
        cards = _cards(page, ".vcmp-out")
        assert [c[0] for c in cards] == list(MEANS)
        assert [c[1] for c in cards] == [f"<img src=x onerror=alert(1)> {v} says 2" for v in MEANS]
        assert "failed" in cards[2][2] and "passed" in cards[0][2]
        page.click(".vcmp-link[data-case='c4']")
        page.wait_until(
            "document.querySelector('.vcmp-pick').selectedOptions[0].textContent === 'c4'"
        )
        cards = _cards(page, ".vcmp-out")
        assert "errored" in cards[3][2] and "TargetError: timed out" in cards[3][2]
        # A variant case's own view carries the comparison too, itself highlighted.
        page.click("#case-rows tr.case-row[data-i='1']")
        page.wait_until("document.querySelector('#case-rows tr.detail .vcmp-card')")
        detail = _cards(page, "#case-rows tr.detail")
        assert [c[0] for c in detail] == list(MEANS)
        current = page.eval(
            "document.querySelector('#case-rows tr.detail .vcmp-card.current').getAttribute('data-variant')"
        )
        assert current == run.cases[1].variant
        assert page.eval("document.querySelectorAll('#variant-sets svg.pareto circle').length") == 4
        page.eval("new Promise(r => setTimeout(r, 200))")
        assert page.eval("window.__alerts") == 0
        assert page.eval("document.querySelectorAll('img').length") == 0
        assert page.errors() == []
    finally:
        page.send("Page.removeScriptToEvaluateOnNewDocument", identifier=hook["identifier"])


# ---------------------------------------------------------------------------- end to end

E2E_SUITE = """
suite: s
target: python:app:echo
prompt: "A: {{ input }}"
metrics: [{contains: {value: "A:"}}]
variants:
  - {name: a}
  - {name: b, prompt: "B: {{ input }}"}
  - {name: again, prompt: "A: again {{ input }}"}
cases:
"""


def test_a_variants_run_shows_the_comparison_everywhere(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.text\n")
    pytester.syspathinsert()
    cases = "".join(f"  - {{id: c{i:02d}, input: x{i}}}\n" for i in range(20))
    pytester.makefile(".eval.yaml", v=E2E_SUITE + cases)
    result = pytester.runpytest("-p", "no:cacheprovider")
    out = result.stdout.str()
    assert "variants of s: 3 variants, all pairs, holm across" in out
    # b fails every case, a and again pass every one: no variant beats both others.
    result.stdout.fnmatch_lines(["  pass_rate: no clear winner: a, again", "  variant * errored"])
    reports = pytester.path / "reports"
    md = (reports / "mleval-summary.md").read_text(encoding="utf-8")
    assert "### Variants of s" in md
    assert "| pass_rate | **1.000**" not in md  # no best without a significant win over all
    assert (
        "| pass_rate | 1.000 [0.839, 1.000] ≈ | 0.000 [0.000, 0.161] | 1.000 [0.839, 1.000] ≈ "
        "| no clear winner: `a`, `again` |"
    ) in md
    html = (reports / "mleval-report.html").read_text(encoding="utf-8")
    assert 'id="variant-sets"' in html and "Outcome differs between variants</strong> (20)" in html
    run = load_run(reports / "mleval-results.json")
    df = run.variants
    assert set(df["variant"]) == {"a", "b", "again"} and not df["best"].any()
    rates = df[df["metric"] == "pass_rate"].set_index("variant")["estimate"].to_dict()
    assert rates == {"a": 1.0, "b": 0.0, "again": 1.0}
    pairs = run.variant_pairs
    ab = pairs[(pairs["metric"] == "pass_rate") & (pairs["b"] == "b")].iloc[0]
    assert ab["better"] == "a" and ab["p_adjusted"] < 0.05
