"""A labelled metric on the human scale: the ``METRIC:human`` aggregate (PPI++) beside the
judge's mean, and ``stat: ppi_mean`` gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mleval import stats
from pytest_mleval.cases import load_suite
from pytest_mleval.cases.suite import Suite
from pytest_mleval.results.records import CaseResult, MetricScore, RunMeta, RunResults
from pytest_mleval.results.run import Gathered, RunSettings, assemble_run

N_CASES = 60
LABELLED = 20


def suite_file(
    tmp_path: Path, labels: dict[str, float], extra: str = "", options: str = ""
) -> Suite:
    cases = "\n".join(f"  - {{id: c{i}, input: x}}" for i in range(N_CASES))
    values = ", ".join(f"{k}: {v!r}" for k, v in labels.items())
    path = tmp_path / "s.eval.yaml"
    path.write_text(
        "suite: s\ntarget: python:app:f\nmetrics: [{judge: {criteria: ok}}]\n"
        f"labels: {{metric: judge, {options}values: {{{values}}}}}\n{extra}cases:\n{cases}\n"
    )
    return load_suite(path)


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """People's scores and a judge 0.15 more generous, per case."""
    rng = np.random.default_rng(seed)
    human = rng.uniform(0.1, 0.7, N_CASES).round(3)
    judge = np.clip(human + 0.15 + rng.normal(0, 0.05, N_CASES), 0, 1).round(3)
    return human, judge


def results(judge: np.ndarray, *, suite: str = "s", repeats: int = 1) -> list[CaseResult]:
    return [
        CaseResult(
            suite=suite,
            case_id=f"c{i}",
            repeat=r,
            scores={"judge": MetricScore(score=float(v), threshold=0.5, passed=v >= 0.5)},
            passed=bool(v >= 0.5),
        )
        for i, v in enumerate(judge)
        for r in range(repeats)
    ]


def assemble(suite: Suite, cases: list[CaseResult]) -> RunResults:
    suites = {s.name: s for s in suite.expand()}
    run, _ = assemble_run(Gathered(meta=RunMeta(), cases=cases, suites=suites), RunSettings())
    return run


def aggregates(run: RunResults, suite: str = "s") -> dict[str, Any]:
    return {a.metric: a for a in run.aggregates if a.suite == suite}


def test_the_human_scale_aggregate_is_ppi_plus_plus(tmp_path: Path) -> None:
    human, judge = data()
    labels = {f"c{i}": float(human[i]) for i in range(LABELLED)}
    run = assemble(suite_file(tmp_path, labels), results(judge))
    aggs = aggregates(run)
    raw, got = aggs["judge"], aggs["judge:human"]
    want = stats.ppi_mean_ci(human[:LABELLED], judge[:LABELLED], judge[LABELLED:])
    assert (got.estimate, got.ci_low, got.ci_high) == pytest.approx(
        (want.estimate, want.ci_low, want.ci_high), abs=1e-12
    )
    assert got.n == N_CASES and got.method.startswith("ppi++ (t, lambda=")
    assert f"{LABELLED} labelled, {N_CASES - LABELLED} judged only" in got.method
    alone = stats.classical_mean_ci(human[:LABELLED])
    assert got.note is not None and f"labels alone: {alone.estimate:.4f}" in got.note
    # The judge's mean is 0.15 off the people's; the PPI estimate is not.
    truth = float(human.mean())
    assert raw.estimate - truth > 0.1
    assert got.ci_low <= truth <= got.ci_high
    assert abs(got.estimate - truth) < 0.03
    # The listed order: the human-scale row right after the suite's own aggregates.
    assert [a.metric for a in run.aggregates] == ["pass_rate", "judge", "judge:human"]


def test_repeats_are_averaged_and_unscored_labels_left_out(tmp_path: Path) -> None:
    human, judge = data(1)
    labels = {f"c{i}": float(human[i]) for i in range(LABELLED)}
    cases = results(judge, repeats=2)
    for c in cases:
        if c.case_id in ("c0", "c1") and c.repeat == 1:
            c.scores["judge"] = MetricScore(score=float(judge[int(c.case_id[1:])]) - 0.1)
        if c.case_id == "c2":
            c.scores["judge"] = MetricScore(score=None, error="judge down")
    got = aggregates(assemble(suite_file(tmp_path, labels), cases))["judge:human"]
    f = judge.copy()
    f[:2] -= 0.05  # the mean of the two repeats
    keep = [i for i in range(N_CASES) if i != 2]
    lab = [i for i in keep if i < LABELLED]
    unl = [i for i in keep if i >= LABELLED]
    want = stats.ppi_mean_ci(human[lab], f[lab], f[unl])
    assert got.estimate == pytest.approx(want.estimate, abs=1e-12)
    assert got.n == N_CASES - 1
    assert got.note and "1 labelled case(s) without a judge score" in got.note
    assert "2 repeats averaged per case" in got.note


def test_ppi_mean_gates(tmp_path: Path) -> None:
    human, judge = data(2)
    labels = {f"c{i}": float(human[i]) for i in range(LABELLED)}
    truth = float(human.mean())
    gates = (
        "gates:\n"
        f"  - {{metric: judge, stat: ppi_mean, on: ci_high, max: {truth + 0.1:.3f}}}\n"
        f"  - {{metric: judge, stat: ppi_mean, min: {truth + 0.1:.3f}}}\n"
        f"  - {{metric: judge, min: {truth + 0.1:.3f}}}\n"
    )
    run = assemble(suite_file(tmp_path, labels, gates), results(judge))
    human_scale = aggregates(run)["judge:human"]
    upper, lower, raw = run.gates
    assert upper.passed and upper.value == human_scale.ci_high
    assert upper.message.startswith("ci_high of ppi_mean(judge) = ")
    # The judge's own mean clears a bar the people's does not.
    assert not lower.passed and lower.estimate == human_scale.estimate
    assert raw.passed


def test_a_gate_without_scored_labels_fails(tmp_path: Path) -> None:
    _, judge = data(3)
    suite = suite_file(
        tmp_path,
        {"c0": 0.5, "c1": 0.2},
        "gates:\n  - {metric: judge, stat: ppi_mean, min: 0.0}\n",
    )
    cases = [c for c in results(judge) if c.case_id not in ("c0", "c1")]
    run = assemble(suite, cases)
    assert "judge:human" not in aggregates(run)
    (gate,) = run.gates
    assert not gate.passed and "no human-scale estimate" in gate.message


def test_only_the_labelled_variant_is_put_on_the_human_scale(tmp_path: Path) -> None:
    human, judge = data(4)
    labels = {f"c{i}": float(human[i]) for i in range(LABELLED)}
    extra = (
        "variants: [{name: a}, {name: b, prompt: 'y {{ input }}'}]\n"
        "gates:\n  - {metric: judge, stat: ppi_mean, min: 0.0}\n"
    )
    suite = suite_file(tmp_path, labels, extra, options="variant: b, ")
    cases = results(judge, suite="s[a]") + results(judge, suite="s[b]")
    for c in cases:
        c.variant = c.suite[2]
    run = assemble(suite, cases)
    assert "judge:human" not in aggregates(run, "s[a]")
    assert "judge:human" in aggregates(run, "s[b]")
    gates = {g.suite: g for g in run.gates}
    assert gates["s[b]"].passed and not gates["s[a]"].passed
    assert "no human-scale estimate" in gates["s[a]"].message


def test_clipped_to_the_score_range(tmp_path: Path) -> None:
    # People give nearly every labelled case 1 where the judge gave 0.6 or 0.7: the corrected
    # estimate sits near 1 and its normal interval spills past it.
    judge = np.full(N_CASES, 0.6)
    judge[::2] = 0.7
    labels = {f"c{i}": 1.0 for i in range(LABELLED)}
    labels["c1"] = 0.3
    got = aggregates(assemble(suite_file(tmp_path, labels), results(judge)))["judge:human"]
    want = stats.ppi_mean_ci(
        [labels[f"c{i}"] for i in range(LABELLED)], judge[:LABELLED], judge[LABELLED:]
    )
    assert want.ci_high > 1.0
    assert 0.0 <= got.ci_low <= got.estimate <= got.ci_high == 1.0
    assert got.ci_low == want.ci_low
    assert got.note and "clipped to [0, 1]" in got.note
