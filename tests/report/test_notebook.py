"""Notebook viewing: load_run, its tables, its HTML repr and compare."""

from __future__ import annotations

import importlib.util
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_report import HOSTILE, make_run

from pytest_mleval.errors import ResultsFileError
from pytest_mleval.report.notebook import Comparison, Run, load_run
from pytest_mleval.results.records import RunResults, write_results


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Path]:
    base = write_results(tmp_path / "base.json", make_run(40))
    cand = write_results(tmp_path / "cand.json", make_run(40, seed=3, shift=0.2))
    return base, cand


def test_cases_and_aggregates_are_dataframes(stored: tuple[Path, Path]) -> None:
    pd = pytest.importorskip("pandas")
    run = load_run(stored[1])
    cases = run.cases
    assert isinstance(cases, pd.DataFrame)
    assert len(cases) == 40
    assert {"suite", "case_id", "status", "output", "score.rouge_l", "latency_ms"} <= set(
        cases.columns
    )
    assert (cases["status"] == "errored").sum() == sum(1 for c in run.results.cases if c.error)
    first = run.results.cases[0]
    assert cases.loc[0, "score.rouge_l"] == first.scores["rouge_l"].score
    aggs = run.aggregates
    assert isinstance(aggs, pd.DataFrame)
    assert list(aggs.columns[:4]) == ["suite", "metric", "estimate", "ci_low"]
    assert len(aggs) == len(run.results.aggregates)
    assert len(run.gates) == 2


def test_plain_records_without_pandas(
    stored: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "pandas" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    run = load_run(stored[0])
    assert isinstance(run.cases, list) and isinstance(run.cases[0], dict)
    assert run.cases[0]["case_id"] == "case-00000"
    assert isinstance(run.aggregates, list) and run.aggregates[0]["metric"] == "pass_rate"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_repr_html_is_compact_and_escaped(tmp_path: Path) -> None:
    run = make_run(30, hostile=True)
    run.gates[0].message = HOSTILE[0]
    run.aggregates[0].suite = HOSTILE[1]
    r = load_run(write_results(tmp_path / "mleval-results.json", run))
    html = r._repr_html_()
    parser = _Tags()
    parser.feed(html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "mleval-results.json" in html and "0123456789" in html
    assert "30 results" in html
    assert "&lt;script&gt;" in html
    assert len(html) < 20_000  # a compact view, not the full report
    assert Run(RunResults())._repr_html_().count("<table>") == 0


def test_compare_without_stats_is_labelled_untested(
    stored: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "pytest_mleval.stats" else real(name, *a, **k),
    )
    base, cand = (load_run(p) for p in stored)
    comp = cand.compare(base)
    assert isinstance(comp, Comparison)
    assert "not tested" in comp.method
    rows = {(r["suite"], r["metric"]): r for r in comp.rows}
    rouge = rows[("support-bot", "rouge_l")]
    b = {
        c.case_id: c.scores["rouge_l"].score
        for c in base.results.cases
        if c.suite == "support-bot" and "rouge_l" in c.scores
    }
    c = {
        c.case_id: c.scores["rouge_l"].score
        for c in cand.results.cases
        if c.suite == "support-bot" and "rouge_l" in c.scores
    }
    ids = sorted(set(b) & set(c))
    expected = sum((c[i] or 0) - (b[i] or 0) for i in ids) / len(ids)
    assert rouge["diff"] == pytest.approx(expected) and rouge["n"] == len(ids)
    assert rouge["p_value"] is None and rouge["verdict"] == "not tested"
    flips = {(f["suite"], f["case_id"]) for f in comp.flipped}
    bp = {(x.suite, x.case_id): x.passed for x in base.results.cases}
    cp = {(x.suite, x.case_id): x.passed for x in cand.results.cases}
    assert flips == {k for k in bp if bp[k] != cp[k]}
    assert "not tested" in comp._repr_html_()


def test_compare_with_paired_statistics(stored: tuple[Path, Path]) -> None:
    if importlib.util.find_spec("pytest_mleval.stats") is None:
        pytest.skip("pytest_mleval.stats (the paired statistics) is not in this tree yet")
    base, cand = (load_run(p) for p in stored)
    comp = cand.compare(stored[0], seed=1)
    assert "paired" in comp.method and comp.raw is not None
    from pytest_mleval.results.compare import compare_runs

    direct = compare_runs(base.results, cand.results, seed=1)
    want = {(s.suite, m.metric): m for s in direct.suites for m in s.metrics}
    for r in comp.rows:
        m = want[(r["suite"], r["metric"])]
        assert (r["diff"], r["ci_low"], r["ci_high"], r["p_value"]) == (
            m.diff,
            m.ci_low,
            m.ci_high,
            m.p_value,
        )


def test_load_run_errors_and_report(tmp_path: Path, stored: tuple[Path, Path]) -> None:
    with pytest.raises(ResultsFileError):
        load_run(tmp_path / "missing.json")
    run = load_run(stored[1])
    out = run.report(tmp_path / "nb.html", baseline=load_run(stored[0]))
    assert "Per-case change against the baseline" in out.read_text(encoding="utf-8")


def test_import_is_light() -> None:
    # Loading the notebook module must not drag pandas in before a table is asked for.
    import subprocess
    import sys

    code = "import sys, pytest_mleval.report.notebook; print('pandas' in sys.modules, 'sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_streamed_timings_are_columns_of_the_cases_frame(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    run = make_run(4)
    run.cases[0].ttft_ms, run.cases[0].itl_ms, run.cases[0].output_tokens_per_s = 120.0, 8.5, 90.0
    run.cases[0].cached = True
    cases = load_run(write_results(tmp_path / "s.json", run)).cases
    assert {"ttft_ms", "itl_ms", "output_tokens_per_s", "cached"} <= set(cases.columns)
    assert cases.loc[0, "ttft_ms"] == 120.0 and bool(cases.loc[0, "cached"])
    assert cases["ttft_ms"].isna().sum() == 3  # not streamed


def test_the_notebook_view_shows_the_runs_verdict_first(tmp_path: Path) -> None:
    # Before: a run that failed a gate, or could not collect a file, showed its counts and
    # tables with no verdict, and the broken file not at all: "30 results: 30 passed".
    from pytest_mleval.results.records import CollectionError, RunMeta

    broken = CollectionError(
        nodeid="evals/b.eval.yaml",
        file="evals/b.eval.yaml",
        line=3,
        message="evals/b.eval.yaml:3: <b>unknown metric</b>",
    )
    run = RunResults(
        meta=RunMeta(exit_status=1, incomplete=["1 file(s) could not be collected"]),
        collection_errors=[broken],
    )
    r = Run(run)
    assert r.status == (
        "incomplete",
        "incomplete: 1 file(s) could not be collected (exit status 1)",
    )
    html = r._repr_html_()
    assert html.index("incomplete: 1 file(s) could not be collected") < html.index("0 results")
    assert "evals/b.eval.yaml:3" in html and "&lt;b&gt;unknown metric&lt;/b&gt;" in html
    passed = Run(RunResults(meta=RunMeta(exit_status=0)))
    assert passed.status[0] == "passed" and "passed" in passed._repr_html_()


def test_a_notebook_comparison_shows_its_warnings(stored: tuple[Path, Path]) -> None:
    base, cand = (load_run(p) for p in stored)
    base.results.meta.incomplete = ["1 file(s) could not be collected"]
    comp = cand.compare(base)
    assert any(w.startswith("the baseline is not a whole run") for w in comp.warnings)
    assert "the baseline is not a whole run" in comp._repr_html_()


def _shifted(tmp_path: Path, score: float, name: str) -> Path:
    from pytest_mleval.results.records import CaseResult, MetricScore, RunMeta

    cases = [
        CaseResult(suite="s", case_id=f"c{i}", passed=True, scores={"q": MetricScore(score=score)})
        for i in range(20)
    ]
    return write_results(tmp_path / name, RunResults(cases=cases, meta=RunMeta(exit_status=0)))


def test_a_notebook_comparison_leads_with_the_regression_verdict(tmp_path: Path) -> None:
    # Before: rows and their per-metric verdicts only; whether the run regressed, the call
    # `mleval compare` exits 1 on, was left to the reader.
    base, worse = _shifted(tmp_path, 1.0, "b.json"), _shifted(tmp_path, 0.0, "w.json")
    comp = load_run(worse).compare(base)
    assert comp.regressed is True
    assert comp.verdict == "regression in 1 of 1 suite(s)"
    assert comp._repr_html_().index("regression in 1 of 1 suite(s)") < comp._repr_html_().index(
        "<table"
    )
    same = load_run(base).compare(base)
    assert same.regressed is False and same.verdict == "no regression in 1 suite(s)"


def test_a_notebook_report_with_a_baseline_decides_its_regression_gate(tmp_path: Path) -> None:
    # Before: Run.report(path, baseline=...) drew the per-case change under "passed".
    base, worse = _shifted(tmp_path, 1.0, "b.json"), _shifted(tmp_path, 0.0, "w.json")
    run = load_run(worse)
    html = run.report(tmp_path / "r.html", baseline=load_run(base)).read_text(encoding="utf-8")
    assert 'id="verdict">failed: 1 gate(s) failed' in html
    assert run.results.gates == []  # the loaded run itself is left as it was


def test_a_notebook_run_lists_the_gates_not_checked(tmp_path: Path) -> None:
    # Before: its gates table showed the checked gates only; a -k run that left a gated
    # suite out had no row for it (the Markdown and HTML have one).
    from pytest_mleval.results.records import CaseResult, RunMeta, SuiteInfo

    run = RunResults(
        cases=[CaseResult(suite="alpha", case_id="x", passed=True)],
        suites=[
            SuiteInfo(name="alpha", n_cases=1),
            SuiteInfo(name="beta", n_cases=0, not_run=2, unchecked_gates=1),
        ],
        meta=RunMeta(exit_status=0),
    )
    html = Run(run)._repr_html_()
    assert "1 gate(s): no case of the suite was selected" in html
    assert "not checked" in html
