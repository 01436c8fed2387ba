"""The variants of a suite compared: pairs, multiplicity, verdicts, usage and notes, against
scipy/statsmodels on fixed data, and end to end through pytest (also under xdist)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from pytest_mleval.results.aggregate import aggregate_suite
from pytest_mleval.results.records import (
    PASS_RATE,
    CaseResult,
    MetricScore,
    RunResults,
    SuiteInfo,
    Usage,
    VariantSet,
)
from pytest_mleval.results.variants import (
    VariantPlan,
    build_variant_sets,
    min_paired_cases,
)

# --------------------------------------------------------------------------- hand-built runs


def result(
    variant: str,
    case_id: str,
    *,
    passed: bool | None = None,
    scores: dict[str, float] | None = None,
    repeat: int = 0,
    error: str | None = None,
    latency_ms: float | None = None,
    cost_usd: float | None = None,
    tokens: int = 0,
    suite: str = "s",
    labels: dict[str, str] | None = None,
) -> CaseResult:
    """One result of ``suite[variant]``; ``passed`` defaults to every score >= 0.5."""
    scores = scores or {}
    ms = {
        k: MetricScore(score=v, threshold=0.5, passed=v >= 0.5, metric=(labels or {}).get(k, None))
        for k, v in scores.items()
    }
    if passed is None:
        passed = error is None and all(v >= 0.5 for v in scores.values())
    return CaseResult(
        suite=f"{suite}[{variant}]",
        variant=variant,
        case_id=case_id,
        repeat=repeat,
        scores=ms,
        passed=passed,
        error=error,
        latency_ms=latency_ms,
        cost_usd=cost_usd,
        usage=Usage(prompt_tokens=tokens, completion_tokens=tokens, total_tokens=2 * tokens),
    )


def make_run(cases: Sequence[CaseResult], *, base: str = "s") -> RunResults:
    """A run as ``assemble_run`` leaves it before the variant sets: suites and aggregates."""
    by: dict[str, list[CaseResult]] = {}
    for c in cases:
        by.setdefault(c.suite, []).append(c)
    run = RunResults(cases=list(cases))
    for name, group in by.items():
        run.suites.append(
            SuiteInfo(name=name, variant=group[0].variant, variant_of=base, n_cases=len(group))
        )
        run.aggregates.extend(aggregate_suite(name, group))
    return run


def one_set(run: RunResults, **plan: Any) -> VariantSet:
    plans = {"s": VariantPlan(suite="s", **plan)} if plan else None
    (vs,) = build_variant_sets(run, plans)
    return vs


def pass_fail(variant: str, passes: Sequence[bool]) -> list[CaseResult]:
    return [
        result(variant, f"c{i:02d}", scores={"m": 1.0 if p else 0.0}) for i, p in enumerate(passes)
    ]


def verdict(vs: VariantSet, metric: str = PASS_RATE) -> Any:
    return next(v for v in vs.verdicts if v.metric == metric)


def pair(vs: VariantSet, a: str, b: str, metric: str = PASS_RATE) -> Any:
    return next(p for p in vs.pairs if (p.a, p.b, p.metric) == (a, b, metric))


N = 40

# --------------------------------------------------------------------------- verdicts


def test_best_only_when_one_variant_beats_every_other() -> None:
    cases = [
        *pass_fail("good", [True] * N),
        *pass_fail("mid", [i % 2 == 0 for i in range(N)]),
        *pass_fail("bad", [i % 10 == 0 for i in range(N)]),
    ]
    vs = one_set(make_run(cases))
    assert vs.variants == ["good", "mid", "bad"]
    # All pairs, `a` before `b` in the file's order, for both metrics (pass_rate and m).
    assert [(p.metric, p.a, p.b) for p in vs.pairs] == [
        (m, a, b)
        for m in (PASS_RATE, "m")
        for a, b in (("good", "mid"), ("good", "bad"), ("mid", "bad"))
    ]
    assert all(p.test.startswith("exact McNemar") for p in vs.pairs)
    v = verdict(vs)
    assert v.best == "good" and v.candidates == ["good"]
    assert "good is best" in v.message
    assert pair(vs, "good", "mid").better == "good"
    assert pair(vs, "good", "mid").diff == pytest.approx(-0.5)
    assert pair(vs, "mid", "bad").better == "mid"


def test_no_clear_winner_lists_the_variants_not_worse_than_the_top() -> None:
    # "twin" flips cases of "good" both ways: the pair is not separable; "bad" is worse than both.
    good = [i % 4 != 0 for i in range(N)]
    twin = [not g if i % 8 in (0, 1) else g for i, g in enumerate(good)]
    cases = [
        *pass_fail("good", good),
        *pass_fail("twin", twin),
        *pass_fail("bad", [i % 10 == 0 for i in range(N)]),
    ]
    vs = one_set(make_run(cases))
    v = verdict(vs)
    assert v.best is None
    assert v.candidates == ["good", "twin"]
    assert v.message.startswith(f"{PASS_RATE}: no clear winner")
    assert pair(vs, "good", "twin").better is None
    assert pair(vs, "good", "bad").better == "good"


def test_with_a_reference_and_two_variants_the_better_one_is_best() -> None:
    cases = [*pass_fail("ref", [i % 2 == 0 for i in range(N)]), *pass_fail("new", [True] * N)]
    vs = one_set(make_run(cases), variants=("ref", "new"), reference="ref")
    assert vs.reference == "ref"
    assert [(p.a, p.b) for p in vs.pairs] == [("ref", "new"), ("ref", "new")]
    assert verdict(vs).best == "new"


def test_with_a_reference_and_more_variants_only_the_reference_can_be_best() -> None:
    half = [i % 2 == 0 for i in range(N)]
    cases = [
        *pass_fail("ref", half),
        *pass_fail("x", [True] * N),
        *pass_fail("y", [i % 2 == 0 or i % 3 == 0 for i in range(N)]),
    ]
    vs = one_set(make_run(cases), variants=("ref", "x", "y"), reference="ref")
    assert {(p.a, p.b) for p in vs.pairs} == {("ref", "x"), ("ref", "y")}
    assert pair(vs, "ref", "x").better == "x"
    v = verdict(vs)
    # x beats the reference, but x against y was never tested: no "best".
    assert v.best is None
    assert v.candidates == ["x", "y"]
    assert "only pairs with the reference ref were tested" in v.message

    cases = [
        *pass_fail("ref", [True] * N),
        *pass_fail("x", half),
        *pass_fail("y", [i % 10 == 0 for i in range(N)]),
    ]
    vs = one_set(make_run(cases), variants=("ref", "x", "y"), reference="ref")
    assert verdict(vs).best == "ref"


def test_raw_measures_lower_is_better() -> None:
    rng = np.random.default_rng(0)
    fast = rng.uniform(100, 200, N)
    cases = [
        *[
            result("slow", f"c{i}", scores={"latency_ms": float(v + 50)}, passed=True)
            for i, v in enumerate(fast)
        ],
        *[
            result("fast", f"c{i}", scores={"latency_ms": float(v)}, passed=True)
            for i, v in enumerate(fast)
        ],
    ]
    vs = one_set(make_run(cases))
    p = pair(vs, "slow", "fast", "latency_ms")
    assert p.lower_is_better
    assert p.diff == pytest.approx(-50.0)
    assert p.test.startswith("sign-flip permutation")
    assert p.better == "fast"
    v = verdict(vs, "latency_ms")
    assert v.best == "fast" and "significantly lower" in v.message


def test_a_labelled_raw_measure_and_zero_costs_are_not_pass_fail() -> None:
    # A labelled latency is still a raw measure; every cost 0 is not a 0/1 score (no McNemar).
    cases = [
        result(
            v,
            f"c{i}",
            scores={"speed": 10.0 * (i + 1), "cost_usd": 0.0},
            passed=True,
            labels={"speed": "latency_ms"},
        )
        for v in ("a", "b")
        for i in range(8)
    ]
    vs = one_set(make_run(cases))
    assert pair(vs, "a", "b", "speed").lower_is_better
    cost = pair(vs, "a", "b", "cost_usd")
    assert cost.lower_is_better and not cost.test.startswith("exact McNemar")
    assert cost.better is None


def test_an_all_errored_variant_is_noted_once_and_left_out() -> None:
    cases = [
        *pass_fail("a", [True] * N),
        *pass_fail("b", [i % 2 == 0 for i in range(N)]),
        *[
            result("down", f"c{i:02d}", error=f"RuntimeError: service down ({i})\ntraceback")
            for i in range(N)
        ],
    ]
    vs = one_set(make_run(cases), variants=("a", "down", "b"))
    assert vs.variants == ["a", "down", "b"]
    notes = [n for n in vs.notes if "down" in n]
    assert notes == [
        f"variant down: every case errored ({N} result(s); first: RuntimeError: service down "
        "(0)); left out of the comparisons"
    ]
    assert all("down" not in (p.a, p.b) for p in vs.pairs)
    assert all("down" not in v.candidates for v in vs.verdicts)
    assert verdict(vs).best == "a"
    usage = {u.variant: u for u in vs.usage}
    assert usage["down"].errored == N and not usage["down"].pareto
    # Its estimate is still shown (a pass rate of 0), beside the note.
    assert any(e.variant == "down" and e.metric == PASS_RATE for e in vs.estimates)


def test_a_single_variant_gets_estimates_usage_and_a_note() -> None:
    vs = one_set(make_run(pass_fail("only", [True, False, True])))
    assert vs.variants == ["only"]
    assert not vs.pairs and not vs.verdicts
    assert {e.metric for e in vs.estimates} == {PASS_RATE, "m"}
    assert [u.variant for u in vs.usage] == ["only"]
    assert vs.notes == ["only variant only ran: nothing to compare it with"]


def test_variants_keep_the_files_order_and_a_missing_reference_falls_back() -> None:
    cases = [*pass_fail("a", [True] * 8), *pass_fail("b", [True] * 8), *pass_fail("c", [True] * 8)]
    vs = one_set(make_run(cases), variants=("c", "gone", "a", "b"), reference="gone")
    assert vs.variants == ["c", "a", "b"]
    assert vs.reference is None
    assert "reference gone did not run: all pairs compared instead" in vs.notes
    assert [(p.a, p.b) for p in vs.pairs if p.metric == PASS_RATE] == [
        ("c", "a"),
        ("c", "b"),
        ("a", "b"),
    ]


def test_too_few_matched_and_unmatched_cases_are_noted() -> None:
    assert min_paired_cases(0.05) == 6 and min_paired_cases(0.25) == 4
    # 2 ** (1 - n) is the smallest p of both tests: 6 cases reach 0.03125, 5 only 0.0625.
    cases = [*pass_fail("a", [True] * 5), *pass_fail("b", [False] * 5)]
    vs = one_set(make_run(cases))
    assert pair(vs, "a", "b").p_value == pytest.approx(0.0625)
    assert any("too few matched cases" in n and "a vs b (5)" in n for n in vs.notes)
    cases = [*pass_fail("a", [True] * 8), *pass_fail("b", [False] * 6)]
    vs = one_set(make_run(cases))
    assert pair(vs, "a", "b").n == 6
    assert not any("too few" in n for n in vs.notes)
    assert "a vs b: 2 case(s) ran in only one of them, left out of their pairs" in vs.notes


def test_an_aggregate_without_per_case_scores_gets_an_estimate_but_no_verdict() -> None:
    from pytest_mleval.results.records import Aggregate

    run = make_run([*pass_fail("a", [True] * 8), *pass_fail("b", [False] * 8)])
    for v, x in (("a", 0.9), ("b", 0.2)):
        run.aggregates.append(
            Aggregate(
                suite=f"s[{v}]",
                metric="m:derived",
                estimate=x,
                ci_low=0,
                ci_high=1,
                n=8,
                method="m",
            )
        )
    vs = one_set(run)
    assert {e.variant for e in vs.estimates if e.metric == "m:derived"} == {"a", "b"}
    assert not any(p.metric == "m:derived" for p in vs.pairs)
    assert [v.metric for v in vs.verdicts] == [PASS_RATE, "m"]


def test_usage_and_the_pareto_front() -> None:
    def costed(variant: str, passes: int, cost: float) -> list[CaseResult]:
        return [
            result(
                variant,
                f"c{i}",
                scores={"m": 1.0 if i < passes else 0.0},
                cost_usd=cost,
                latency_ms=float(10 * (i + 1)),
                tokens=3,
            )
            for i in range(10)
        ]

    cases = [*costed("big", 9, 1.0), *costed("small", 9, 0.25), *costed("tiny", 5, 0.01)]
    vs = one_set(make_run(cases))
    usage = {u.variant: u for u in vs.usage}
    assert usage["big"].cost_usd == pytest.approx(10.0)
    assert usage["small"].total_tokens == 60 and usage["small"].prompt_tokens == 30
    assert usage["big"].latency_p50_ms == pytest.approx(np.percentile(np.arange(1, 11) * 10, 50))
    assert usage["big"].latency_p95_ms == pytest.approx(np.percentile(np.arange(1, 11) * 10, 95))
    assert usage["small"].quality == pytest.approx(0.9) and usage["tiny"].quality == 0.5
    # small is as good as big and cheaper; tiny is cheapest.
    assert {v: u.pareto for v, u in usage.items()} == {"big": False, "small": True, "tiny": True}
    vs = one_set(make_run(cases), quality_metric="m")
    assert vs.quality_metric == "m" and {u.variant for u in vs.usage if u.pareto} == {
        "small",
        "tiny",
    }


def test_a_variant_whose_cost_is_unknown_is_on_no_pareto_front() -> None:
    # A self-hosted model has no price, so its cases cost "$0": it looked cheapest, took the
    # Pareto badge and pushed the priced variant off the front, a claim on no data.
    def costed(variant: str, cost: float, unknown: bool) -> list[CaseResult]:
        out = []
        for i in range(10):
            c = result(variant, f"c{i}", scores={"m": 1.0 if i < 9 else 0.0}, cost_usd=cost)
            if unknown:
                c.metadata["cost_unknown"] = "model 'openai/local' is not in litellm's cost map"
            out.append(c)
        return out

    cases = [*costed("hosted", 0.25, False), *costed("local", 0.0, True)]
    vs = one_set(make_run(cases))
    usage = {u.variant: u for u in vs.usage}
    assert (usage["local"].cost_unknown, usage["hosted"].cost_unknown) == (10, 0)
    assert {v: u.pareto for v, u in usage.items()} == {"hosted": True, "local": False}
    # People read "unknown", never "$0", for its cost.
    from pytest_mleval.report.html import render_report
    from pytest_mleval.report.variants import variant_markdown, variant_terminal

    terminal = [line for line, _ in variant_terminal(vs)]
    (local_row,) = [line for line in terminal if line.strip().startswith("local ")]
    assert "unknown" in local_row and "$0" not in local_row
    (md_row,) = [line for line in variant_markdown(vs) if line.startswith("| `local` |")]
    assert "| unknown |" in md_row
    run = make_run(cases)
    run.variant_sets = [vs]
    assert '<td class="num">unknown</td>' in render_report(run)


def test_the_result_does_not_depend_on_the_order_results_arrive_in() -> None:
    rng = np.random.default_rng(3)
    cases = [
        result(v, f"c{i:03d}", scores={"m": float(rng.uniform())}, passed=bool(rng.random() < 0.7))
        for v in ("a", "b", "c")
        for i in range(60)
    ]
    forward = one_set(make_run(cases), variants=("a", "b", "c"))
    backward = one_set(make_run(cases[::-1]), variants=("a", "b", "c"))
    assert any("Monte Carlo" in p.test for p in forward.pairs)  # 60 distinct differences
    fw, bw = forward.model_dump(), backward.model_dump()
    for d in (fw, bw):
        d["estimates"] = sorted(d["estimates"], key=lambda e: (e["metric"], e["variant"]))
        for e in d["estimates"]:  # the aggregates' float sums depend on the order
            e["estimate"] = round(e["estimate"], 12)
            e["ci_low"], e["ci_high"] = round(e["ci_low"], 12), round(e["ci_high"], 12)
        for u in d["usage"]:
            u["quality"] = round(u["quality"], 12)
    assert fw == bw


# --------------------------------------------------------------------------- parity


def test_pairs_match_scipy_permutation_ttest_and_binomtest() -> None:
    from scipy import stats as sps

    rng = np.random.default_rng(11)
    n = 12  # 4,096 sign patterns: exact in both
    a = rng.uniform(0.2, 0.8, n)
    b = np.clip(a + rng.normal(0.08, 0.1, n), 0, 1)
    # Two repeats per case, averaged per case before pairing.
    cases = [
        result("a", f"c{i:02d}", scores={"m": float(a[i] + d)}, repeat=r)
        for i in range(n)
        for r, d in enumerate((-0.05, 0.05))
    ] + [result("b", f"c{i:02d}", scores={"m": float(b[i])}) for i in range(n)]
    vs = one_set(make_run(cases))
    p = pair(vs, "a", "b", "m")
    assert p.mean_a == pytest.approx(a.mean()) and p.diff == pytest.approx((b - a).mean())
    ref = sps.permutation_test(
        (b, a),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="two-sided",
    )
    assert p.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = sps.ttest_rel(b, a).confidence_interval(0.95)
    assert (p.ci_low, p.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)

    # 0/1 scores: exact McNemar is scipy's exact binomial test on the discordant cases.
    pa = rng.random(50) < 0.6
    pb = np.where(rng.random(50) < 0.3, ~pa, pa)
    vs = one_set(make_run([*pass_fail("a", list(pa)), *pass_fail("b", list(pb))]))
    p = pair(vs, "a", "b")
    up, down = int((pb & ~pa).sum()), int((pa & ~pb).sum())
    assert p.test.startswith("exact McNemar")
    assert p.p_value == pytest.approx(sps.binomtest(min(up, down), up + down).pvalue, rel=1e-9)
    from statsmodels.stats.contingency_tables import mcnemar

    table = [[int((pa & pb).sum()), down], [up, int((~pa & ~pb).sum())]]
    assert p.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)


def test_estimates_are_the_aggregates_wilson_and_t() -> None:
    from scipy import stats as sps
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(5)
    scores = rng.uniform(0.1, 0.9, 30)
    cases = [result("a", f"c{i}", scores={"m": float(s)}) for i, s in enumerate(scores)]
    cases += [result("b", f"c{i}", scores={"m": float(s) / 2}) for i, s in enumerate(scores)]
    vs = one_set(make_run(cases))
    est = {(e.variant, e.metric): e for e in vs.estimates}
    k = int((scores >= 0.5).sum())
    lo, hi = proportion_confint(k, 30, alpha=0.05, method="wilson")
    e = est[("a", PASS_RATE)]
    assert e.estimate == pytest.approx(k / 30) and (e.ci_low, e.ci_high) == pytest.approx((lo, hi))
    lo, hi = sps.t.interval(0.95, 29, loc=scores.mean(), scale=sps.sem(scores))
    e = est[("a", "m")]
    assert e.n == 30 and (e.ci_low, e.ci_high) == pytest.approx((lo, hi), rel=1e-9)


@pytest.mark.parametrize(("multiplicity", "method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjustment_across_all_pairs_and_metrics_matches_statsmodels(
    multiplicity: str, method: str
) -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(7)
    n = 40
    truth = rng.uniform(0.3, 0.7, n)
    shifts = {"a": 0.0, "b": 0.03, "c": 0.06, "d": 0.1}
    cases = [
        result(
            v,
            f"c{i:02d}",
            scores={
                m: float(np.clip(truth[i] + k * shift + rng.normal(0, 0.08), 0, 1))
                for m, k in (("m1", 1.0), ("m2", 0.5), ("m3", 0.0))
            },
        )
        for v, shift in shifts.items()
        for i in range(n)
    ]
    vs = one_set(make_run(cases), variants=tuple(shifts), multiplicity=multiplicity)
    assert vs.multiplicity == multiplicity
    # 6 pairs x 4 metrics (pass_rate, m1, m2, m3), all adjusted together.
    assert len(vs.pairs) == 24
    raw = [p.p_value for p in vs.pairs]
    reject, adjusted, _, _ = multipletests(raw, alpha=0.05, method=method)
    assert [p.p_adjusted for p in vs.pairs] == pytest.approx(list(adjusted), rel=1e-12)
    assert [p.better is not None for p in vs.pairs] == list(reject)
    assert 0 < sum(reject) < len(reject)  # the data leave both kinds of pair
    for p in vs.pairs:
        if p.better is not None:
            assert p.better == (p.b if p.diff > 0 else p.a)


def test_bh_declares_what_holm_does_not_on_the_same_pairs() -> None:
    rng = np.random.default_rng(7)
    n = 40
    truth = rng.uniform(0.3, 0.7, n)
    cases = [
        result(
            v,
            f"c{i:02d}",
            scores={
                m: float(np.clip(truth[i] + s * k + rng.normal(0, 0.08), 0, 1))
                for m, k in (("m1", 1.0), ("m2", 0.5), ("m3", 0.0))
            },
        )
        for v, s in (("a", 0.0), ("b", 0.03), ("c", 0.06), ("d", 0.1))
        for i in range(n)
    ]
    holm = one_set(make_run(cases), variants=("a", "b", "c", "d"))
    bh = one_set(make_run(cases), variants=("a", "b", "c", "d"), multiplicity="bh")
    assert [p.p_value for p in holm.pairs] == [p.p_value for p in bh.pairs]
    assert sum(p.better is not None for p in bh.pairs) > sum(
        p.better is not None for p in holm.pairs
    )


# --------------------------------------------------------------------------- end to end

APP = """
def upper(case):
    return case.text.upper()

def lower(case):
    return case.text.lower()

def broken(case):
    raise RuntimeError("this variant's service is down")
"""

SUITE = """
suite: shout
target: python:app:upper
prompt: "{{ input }}"
metrics: [{contains: {value: "A"}}]
variants:
  - {name: loud}
  - {name: down, target: "python:app:broken"}
  - {name: quiet, target: "python:app:lower"}
reference: loud
multiplicity: bh
cases:
""" + "".join(f"  - {{id: c{i}, input: apple{i}}}\n" for i in range(8))


def _variant_sets(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    data = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    sets: list[dict[str, Any]] = data["variant_sets"]
    for vs in sets:
        for u in vs["usage"]:  # wall-clock figures differ from run to run
            u.pop("latency_p50_ms")
            u.pop("latency_p95_ms")
    return sets


def test_a_variants_suite_end_to_end_and_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", shout=SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=8, failed=8, errors=8)
    (vs,) = _variant_sets(pytester)
    assert vs["suite"] == "shout"
    assert vs["variants"] == ["loud", "down", "quiet"]
    assert (vs["reference"], vs["multiplicity"], vs["alpha"]) == ("loud", "bh", 0.05)
    assert {(p["a"], p["b"], p["metric"]) for p in vs["pairs"]} == {
        ("loud", "quiet", "pass_rate"),
        ("loud", "quiet", "contains"),
    }
    p = next(p for p in vs["pairs"] if p["metric"] == "pass_rate")
    # 8 discordant cases one way: p = 2 / 2**8, BH over the 2 comparisons keeps it.
    assert p["p_value"] == pytest.approx(2 / 256)
    assert p["p_adjusted"] == pytest.approx(2 / 256)
    assert p["better"] == "loud" and p["diff"] == -1.0
    assert {v["metric"]: v["best"] for v in vs["verdicts"]} == {
        "pass_rate": "loud",
        "contains": "loud",
    }
    down = [n for n in vs["notes"] if n.startswith("variant down")]
    assert len(down) == 1 and "this variant's service is down" in down[0]
    usage = {u["variant"]: u for u in vs["usage"]}
    assert usage["down"]["errored"] == 8 and usage["loud"]["quality"] == 1.0
    assert {v for v, u in usage.items() if u["pareto"]} == {"loud"}

    # The xdist controller collects nothing: it reads the plan (order, reference, bh) back.
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(passed=8, failed=8, errors=8)
    assert _variant_sets(pytester) == [vs]


def test_a_variant_whose_metric_was_skipped_everywhere_is_named_in_a_note() -> None:
    # Before: the pair was dropped without a word, so the metric's verdict just vanished.
    skipped = [
        CaseResult(
            suite="s[b]",
            variant="b",
            case_id=f"c{i:02d}",
            passed=True,
            scores={"m": MetricScore(threshold=0.5, skipped="no judge model configured")},
        )
        for i in range(8)
    ]
    vs = one_set(make_run([*pass_fail("a", [True] * 8), *skipped]), variants=("a", "b"))
    assert not [p for p in vs.pairs if p.metric == "m"]
    assert (
        "a vs b on m: b scored it on none of its cases (skipped: no judge model configured), "
        "not compared"
    ) in vs.notes
