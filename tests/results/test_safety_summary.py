"""Safety probes in the results: outcomes, Wilson rates, paired McNemar comparisons, Holm,
on hand-built CaseResult records in the probe contract's shape (against statsmodels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from pytest_mleval.results.records import (
    CaseResult,
    MetricScore,
    RunResults,
    SuiteInfo,
    VariantSet,
    load_results,
    write_results,
)
from pytest_mleval.results.safety import (
    case_outcomes,
    family_rates,
    probe_outcome,
    safety_summary,
    successful_attacks,
)

METRIC = {
    "injection": "canary_absent",
    "system_leak": "canary_absent",
    "pii_leak": "pii",
    "hallucination": "admits_unknown",
}


def probe(
    case_id: str,
    outcome: str,
    *,
    family: str = "injection",
    technique: str = "roleplay",
    suite: str = "bot",
    variant: str | None = None,
    repeat: int = 0,
) -> CaseResult:
    """A probe result: ``outcome`` is ``success``, ``defended``, ``error`` (the case errored),
    ``skipped`` (the decisive metric skipped) or ``missing`` (no decisive score)."""
    metric = METRIC[family]
    scores = {"exact": MetricScore(score=1.0, threshold=1.0, passed=True)}
    if outcome in ("success", "defended"):
        ok = outcome == "defended"
        scores[metric] = MetricScore(score=float(ok), threshold=1.0, passed=ok)
    elif outcome == "skipped":
        scores[metric] = MetricScore(skipped="no canary")
    return CaseResult(
        suite=suite,
        variant=variant,
        case_id=case_id,
        repeat=repeat,
        input=f"attack {case_id}",
        output=f"answer {case_id}",
        scores=scores,
        passed=outcome == "defended",
        error="RuntimeError: down" if outcome == "error" else None,
        tags=["safety", family, technique],
        metadata={
            "probe": {
                "family": family,
                "technique": technique,
                "metric": metric,
                "seed": 0,
                "template": 0,
            }
        },
    )


def plain(case_id: str, suite: str = "bot") -> CaseResult:
    return CaseResult(suite=suite, case_id=case_id, passed=False, scores={})


def outcomes_run(spec: dict[str, str], **kw: str) -> list[CaseResult]:
    return [probe(cid, out, **kw) for cid, out in spec.items()]


# --------------------------------------------------------------------------- outcomes


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("success", "success"),
        ("defended", "defended"),
        ("error", "error"),
        ("skipped", "error"),
        ("missing", "error"),
    ],
)
def test_outcome_of_one_result(outcome: str, expected: str) -> None:
    assert probe_outcome(probe("a", outcome)) == expected


def test_a_case_that_is_not_a_probe_has_no_outcome() -> None:
    assert probe_outcome(plain("a")) is None
    weird = plain("b").model_copy(update={"metadata": {"probe": "injection"}})
    assert probe_outcome(weird) is None


def test_an_informational_decisive_score_is_not_a_verdict() -> None:
    case = probe("a", "defended")
    case.scores["canary_absent"] = MetricScore(score=1.0, passed=None)
    assert probe_outcome(case) == "error"


def test_repeats_count_once_and_any_breach_is_a_success() -> None:
    cases = [
        probe("a", "defended", repeat=0),
        probe("a", "success", repeat=1),
        probe("b", "defended", repeat=0),
        probe("b", "defended", repeat=1),
        probe("c", "error", repeat=0),
        probe("c", "defended", repeat=1),
        probe("d", "error", repeat=0),
        probe("d", "skipped", repeat=1),
    ]
    got = {k: o for k, (_, _, o) in case_outcomes(cases).items()}
    assert got == {"a": "success", "b": "defended", "c": "defended", "d": "error"}


# --------------------------------------------------------------------------- rates


def test_rates_per_family_with_wilson_intervals_as_statsmodels() -> None:
    cases = [
        *[probe(f"inj-{i:03d}", "success" if i < 3 else "defended") for i in range(40)],
        *[probe(f"inj-e{i}", "error") for i in range(2)],
        *[
            probe(f"leak-{i:03d}", "success" if i < 5 else "defended", family="system_leak")
            for i in range(12)
        ],
        probe("leak-x", "skipped", family="system_leak"),
        plain("ordinary"),
    ]
    rows = {r.family: r for r in family_rates("bot", cases)}
    assert list(rows) == ["injection", "system_leak", "all"]
    inj = rows["injection"]
    assert (inj.n, inj.successes, inj.errors) == (40, 3, 2)
    assert inj.rate == pytest.approx(0.075)
    lo, hi = proportion_confint(3, 40, alpha=0.05, method="wilson")
    assert (inj.ci_low, inj.ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    # The figures of the terminal line's example.
    assert (round(inj.ci_low, 3), round(inj.ci_high, 3)) == (0.026, 0.199)
    assert inj.success_ids == ["inj-000", "inj-001", "inj-002"]
    assert inj.techniques == {"roleplay": [3, 40]}
    leak = rows["system_leak"]
    assert (leak.n, leak.successes, leak.errors) == (12, 5, 1)
    pooled = rows["all"]
    assert (pooled.n, pooled.successes, pooled.errors) == (52, 8, 3)
    lo, hi = proportion_confint(8, 52, alpha=0.05, method="wilson")
    assert pooled.ci_low == pytest.approx(lo, abs=1e-12)
    assert pooled.ci_high == pytest.approx(hi, abs=1e-12)
    assert pooled.techniques == {}


@pytest.mark.parametrize(("k", "n"), [(0, 5), (5, 5), (1, 1), (7, 31), (0, 200)])
def test_wilson_parity_at_the_edges(k: int, n: int) -> None:
    cases = [probe(f"c{i}", "success" if i < k else "defended") for i in range(n)]
    (row,) = family_rates("bot", cases, confidence=0.9)
    lo, hi = proportion_confint(k, n, alpha=0.1, method="wilson")
    assert row.ci_low == pytest.approx(lo, abs=1e-12)
    assert row.ci_high == pytest.approx(hi, abs=1e-12)
    assert row.confidence == 0.9


def test_every_probe_errored_gives_n_zero_not_a_safe_suite() -> None:
    (row,) = family_rates("bot", [probe("a", "error"), probe("b", "missing")])
    assert (row.n, row.successes, row.errors, row.rate) == (0, 0, 2, 0.0)
    assert "no data" in row.method


def test_no_probe_case_means_no_safety_summary() -> None:
    assert safety_summary(RunResults(cases=[plain("a"), plain("b")])) is None


# --------------------------------------------------------------------------- comparisons


def test_mcnemar_textbook_example() -> None:
    # b=1 newly broken, c=9 newly defended: p = 2 * P(X <= 1 | 10, 1/2) = 22/1024.
    base = {f"c{i}": "success" for i in range(9)} | {"c9": "defended", "c10": "defended"}
    cand = {f"c{i}": "defended" for i in range(9)} | {"c9": "success", "c10": "defended"}
    summary = safety_summary(
        RunResults(cases=outcomes_run(cand)), baseline=RunResults(cases=outcomes_run(base))
    )
    assert summary is not None
    (row,) = summary.comparisons
    assert (row.against, row.suite, row.reference_suite) == ("baseline", "bot", "bot")
    assert (row.n, row.b, row.c) == (11, 1, 9)
    assert row.p_value == pytest.approx(22 / 1024, abs=1e-15)
    assert row.p_value == pytest.approx(mcnemar([[1, 1], [9, 0]], exact=True).pvalue, abs=1e-12)
    assert row.rate_reference == pytest.approx(9 / 11)
    assert row.rate_candidate == pytest.approx(1 / 11)
    assert row.diff == pytest.approx(-8 / 11)
    assert row.verdict == "safer"


@pytest.mark.parametrize("seed", range(5))
def test_mcnemar_parity_with_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    base = {f"c{i}": "success" if rng.random() < 0.4 else "defended" for i in range(n)}
    cand = {f"c{i}": "success" if rng.random() < 0.25 else "defended" for i in range(n)}
    summary = safety_summary(
        RunResults(cases=outcomes_run(cand)), baseline=RunResults(cases=outcomes_run(base))
    )
    assert summary is not None
    (row,) = summary.comparisons
    table = [[0, 0], [0, 0]]
    for k in base:
        table[base[k] == "success"][cand[k] == "success"] += 1
    assert (row.b, row.c) == (table[0][1], table[1][0])
    assert row.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, abs=1e-12)


def test_only_matched_scored_pairs_count_and_the_rest_is_noted() -> None:
    base = outcomes_run({"a": "success", "b": "success", "c": "defended", "gone": "success"})
    cand = outcomes_run({"a": "defended", "b": "error", "c": "success", "new": "success"})
    summary = safety_summary(RunResults(cases=cand), baseline=RunResults(cases=base))
    assert summary is not None
    (row,) = summary.comparisons
    assert (row.n, row.b, row.c, row.unmatched) == (2, 1, 1, 3)
    assert row.p_value == 1.0 and row.verdict == "no significant change"
    assert any("3 probe case(s) not paired" in note for note in summary.notes)


def test_a_less_safe_candidate_and_holm_across_families() -> None:
    base = [
        *outcomes_run({f"i{i}": "defended" for i in range(12)}),
        *outcomes_run({f"s{i}": "defended" for i in range(6)}, family="system_leak"),
    ]
    cand = [
        *outcomes_run({f"i{i}": "success" for i in range(12)}),
        *outcomes_run(
            {f"s{i}": "success" if i < 4 else "defended" for i in range(6)}, family="system_leak"
        ),
    ]
    summary = safety_summary(RunResults(cases=cand), baseline=RunResults(cases=base))
    assert summary is not None
    rows = {r.family: r for r in summary.comparisons}
    assert list(rows) == ["injection", "system_leak", "all"]
    raw = [rows["injection"].p_value, rows["system_leak"].p_value]
    assert raw == pytest.approx([2 / 4096, 2 / 16])
    holm = multipletests(raw, method="holm")[1]
    assert [rows["injection"].p_adjusted, rows["system_leak"].p_adjusted] == pytest.approx(holm)
    assert rows["injection"].verdict == "less safe"
    assert rows["system_leak"].verdict == "no significant change"
    # The pooled row is the one overall test: its own p-value.
    pooled = rows["all"]
    assert (pooled.n, pooled.b, pooled.c) == (18, 16, 0)
    assert pooled.p_adjusted == pooled.p_value == pytest.approx(2 / 2**16)


def test_variants_are_compared_with_the_reference_variant_holm_across_variants() -> None:
    suites = [
        SuiteInfo(name=f"bot[{v}]", variant=v, variant_of="bot") for v in ("old", "new", "wild")
    ]
    ids = [f"c{i}" for i in range(10)]
    cases = [
        *[probe(k, "success", suite="bot[old]", variant="old") for k in ids],
        *[probe(k, "defended", suite="bot[new]", variant="new") for k in ids],
        *[
            probe(k, "success" if i < 9 else "defended", suite="bot[wild]", variant="wild")
            for i, k in enumerate(ids)
        ],
    ]
    run = RunResults(
        suites=suites,
        cases=cases,
        variant_sets=[VariantSet(suite="bot", variants=["old", "new", "wild"], reference="old")],
    )
    summary = safety_summary(run)
    assert summary is not None
    assert [(f.suite, f.variant, f.successes, f.n) for f in summary.families] == [
        ("bot[old]", "old", 10, 10),
        ("bot[new]", "new", 0, 10),
        ("bot[wild]", "wild", 9, 10),
    ]
    rows = {r.suite: r for r in summary.comparisons}
    assert set(rows) == {"bot[new]", "bot[wild]"}
    assert all(r.against == "variant" and r.reference_suite == "bot[old]" for r in rows.values())
    assert (rows["bot[new]"].b, rows["bot[new]"].c) == (0, 10)
    assert (rows["bot[wild]"].b, rows["bot[wild]"].c) == (0, 1)
    holm = multipletests([rows["bot[new]"].p_value, rows["bot[wild]"].p_value], method="holm")[1]
    assert [rows["bot[new]"].p_adjusted, rows["bot[wild]"].p_adjusted] == pytest.approx(holm)
    assert rows["bot[new]"].verdict == "safer"
    assert rows["bot[wild]"].verdict == "no significant change"


def test_without_a_declared_reference_the_first_variant_is_it() -> None:
    suites = [SuiteInfo(name=f"bot[{v}]", variant=v, variant_of="bot") for v in ("a", "b")]
    cases = [
        probe("x", "success", suite="bot[a]", variant="a"),
        probe("x", "defended", suite="bot[b]", variant="b"),
    ]
    summary = safety_summary(RunResults(suites=suites, cases=cases))
    assert summary is not None
    (row,) = summary.comparisons
    assert (row.suite, row.reference_suite, row.c) == ("bot[b]", "bot[a]", 1)


def test_successful_attacks_list_the_breached_results_only() -> None:
    cases = [probe("a", "success"), probe("b", "defended"), probe("c", "error"), plain("d")]
    attacks = successful_attacks(RunResults(cases=cases))
    assert [(a.case_id, a.family, a.technique, a.output) for a in attacks] == [
        ("a", "injection", "roleplay", "answer a")
    ]


def test_the_summary_round_trips_through_the_results_file(tmp_path: Path) -> None:
    run = RunResults(cases=[probe("a", "success"), probe("b", "defended")])
    run.safety = safety_summary(run)
    path = write_results(tmp_path / "r.json", run)
    again = load_results(path)
    assert again.safety == run.safety
    assert again.safety is not None and again.safety.families[0].successes == 1


# --------------------------------------------------------------------------- gates


def test_a_canary_absent_gate_ignores_cases_without_the_metric() -> None:
    from pytest_mleval.cases.schema import GateSpec
    from pytest_mleval.results.aggregate import aggregate_suite, evaluate_gates

    cases = [
        *[probe(f"i{i}", "success" if i < 1 else "defended") for i in range(50)],
        probe("skip", "skipped"),  # no canary: skipped, neither 0 nor 1
        *[probe(f"p{i}", "success", family="pii_leak") for i in range(5)],  # no canary_absent
        plain("ordinary"),
    ]
    aggs = aggregate_suite("bot", cases)
    gates = [
        GateSpec(metric="canary_absent", min=0.98, on="ci_low"),
        GateSpec(metric="canary_absent", min=0.98),
    ]
    low, est = evaluate_gates("bot", gates, cases, aggs)
    lo, _ = proportion_confint(49, 50, alpha=0.05, method="wilson")
    assert est.estimate == pytest.approx(49 / 50) and est.passed
    assert low.value == pytest.approx(lo, abs=1e-12) and not low.passed
    (agg,) = [a for a in aggs if a.metric == "canary_absent"]
    assert agg.n == 50 and agg.note is not None and "1 case(s) without a score" in agg.note
