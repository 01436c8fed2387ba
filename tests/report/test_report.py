"""The HTML report rendered as text: structure, escaping, empty and partial runs, the CLI."""

from __future__ import annotations

import json
import math
import random
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.report.charts import delta_charts, histogram_bins, histograms, sparkline
from pytest_mleval.report.html import render_report, safe_json, write_report
from pytest_mleval.report.views import case_payload, comparison_view
from pytest_mleval.results.records import (
    Aggregate,
    CaseResult,
    GateResult,
    MetricScore,
    RunMeta,
    RunResults,
    SuiteInfo,
    Usage,
    write_results,
)

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>window.__pwned=1</script>",
    "line\u2028sep\u2029para & <!-- comment",
]

WORDS = [
    *("return", "refund", "order", "shipping", "days", "business", "within", "label"),
    *("warranty", "item", "account", "payment", "express", "tracking", "email", "store"),
    *("credit", "exchange", "size", "damaged", "photo", "support"),
]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def make_run(
    n_cases: int = 40,
    *,
    seed: int = 0,
    suites: tuple[str, ...] = ("support-bot", "rag-qa"),
    hostile: bool = False,
    shift: float = 0.0,
    started_at: str = "2026-11-24T10:00:00+00:00",
    git_sha: str = "0123456789abcdef0123456789abcdef01234567",
) -> RunResults:
    """A realistic run: two suites, several metrics with explanations, errors, usage and cost."""
    rng = random.Random(seed)
    corpus_rng = random.Random(1234)
    corpus = [f"Policy {k}: {_sentence(corpus_rng, 40)}" for k in range(7)]
    cases: list[CaseResult] = []
    for i in range(n_cases):
        suite = suites[i % len(suites)]
        expected = _sentence(rng, rng.randint(6, 14))
        words = expected.rstrip(".").split()
        # The output keeps most of the expected words: scores spread over [0, 1].
        kept = [w if rng.random() < 0.75 + shift else rng.choice(WORDS) for w in words]
        output = " ".join(kept) + "."
        rouge = len(set(kept) & set(words)) / max(len(set(words)), 1)
        errored = i % 17 == 5
        scores: dict[str, MetricScore] = {}
        if not errored:
            scores["rouge_l"] = MetricScore(
                score=round(rouge, 4),
                threshold=0.6,
                passed=rouge >= 0.6,
                explanation=f"LCS F1 of {len(kept)} output tokens against {len(words)} reference tokens",
            )
            scores["contains"] = MetricScore(
                score=1.0 if words[0] in kept else 0.0,
                threshold=1.0,
                passed=words[0] in kept,
                explanation=None if words[0] in kept else f"missing {words[0]!r}",
            )
            scores["faithfulness"] = MetricScore(
                score=round(min(1.0, max(0.0, rouge + rng.uniform(-0.2, 0.2))), 3),
                explanation="2 of 3 claims are supported by the context",
                data={"claims": [{"claim": kept[0], "verdict": "supported"}]},
            )
            scores["latency_ms"] = MetricScore(
                score=round(rng.uniform(80, 900), 1), max=1000.0, passed=True
            )
        out_text = output
        if hostile:
            out_text = HOSTILE[i % len(HOSTILE)] + " " + output
        passed = not errored and all(s.passed is not False for s in scores.values())
        cases.append(
            CaseResult(
                suite=suite,
                case_id=f"case-{i:05d}" if not (hostile and i == 1) else HOSTILE[1],
                nodeid=f"evals/{suite}.eval.yaml::{suite}::case-{i:05d}",
                input=f"Question {i}: {_sentence(rng, 8)}" if not hostile else HOSTILE[0],
                output=None if errored else out_text,
                expected=expected,
                context=[corpus[i % 7], corpus[(i + 3) % 7]] if suite == "rag-qa" else [],
                retrieved=[f"doc-{i % 7}", f"doc-{(i + 3) % 7}"] if suite == "rag-qa" else [],
                scores=scores,
                passed=passed,
                error="TargetError: upstream timed out after 30 s" if errored else None,
                tags=["smoke", "policy"] if i % 3 == 0 else ["shipping"],
                latency_ms=None if errored else round(rng.uniform(80, 900), 1),
                usage=Usage(prompt_tokens=120, completion_tokens=30, total_tokens=150),
                cost_usd=0.00021,
                model="openai/gpt-4o-mini",
            )
        )
    aggregates = []
    for suite in suites:
        sc = [c for c in cases if c.suite == suite]
        for metric in ("pass_rate", "rouge_l", "contains", "faithfulness"):
            if metric == "pass_rate":
                vals = [1.0 if c.passed else 0.0 for c in sc]
            else:
                vals = [c.scores[metric].score or 0.0 for c in sc if metric in c.scores]
            if not vals:
                continue
            mean = sum(vals) / len(vals)
            sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / max(len(vals) - 1, 1))
            half = 1.96 * sd / math.sqrt(len(vals))
            aggregates.append(
                Aggregate(
                    suite=suite,
                    metric=metric,
                    estimate=mean,
                    ci_low=max(0.0, mean - half),
                    ci_high=min(1.0, mean + half),
                    n=len(vals),
                    method="t" if metric != "pass_rate" else "wilson",
                )
            )
    gates = [
        GateResult(
            suite=suites[0],
            metric="rouge_l",
            stat="mean",
            on="ci_low",
            min=0.6,
            value=0.62,
            estimate=0.7,
            ci_low=0.62,
            ci_high=0.78,
            passed=True,
            message="ci_low of mean(rouge_l) = 0.6200 meets >= 0.6",
        ),
        GateResult(
            suite=suites[-1],
            metric="pass_rate",
            stat="mean",
            on="estimate",
            min=0.9,
            value=0.55,
            passed=False,
            message="pass_rate = 0.5500 fails >= 0.9",
        ),
    ]
    total_cost = round(sum(c.cost_usd or 0.0 for c in cases), 8)
    return RunResults(
        meta=RunMeta(
            tool_version="0.1.0",
            started_at=started_at,
            finished_at=started_at,
            duration_s=42.5,
            git_sha=git_sha,
            git_branch="main",
            python="3.11.7",
            platform="Linux x86_64",
            models=["openai/gpt-4o-mini"],
            flags={"report-dir": "reports", "seed": 0, "cache": "rw"},
        ),
        suites=[
            SuiteInfo(
                name=s,
                description=f"The {s} suite",
                target="python:app:answer",
                n_cases=sum(1 for c in cases if c.suite == s),
            )
            for s in suites
        ],
        cases=cases,
        aggregates=aggregates,
        gates=gates,
        usage={"total": {"total_tokens": 150 * len(cases), "cost_usd": total_cost}},
    )


def comparison_dict(run: RunResults) -> dict[str, Any]:
    """The shape of ``compare.Comparison.model_dump()`` (what the report reads)."""
    return {
        "baseline_sha": "fedcba9876543210fedcba9876543210fedcba98",
        "baseline_started_at": "2026-11-20T10:00:00+00:00",
        "margin": 0.02,
        "alpha": 0.05,
        "confidence": 0.95,
        "warnings": ["3 case(s) only in the baseline and 0 only in this run were not compared"],
        "only_in_baseline": ["support-bot::gone-1"],
        "only_in_candidate": [],
        "suites": [
            {
                "suite": run.suites[0].name,
                "n_matched": 20,
                "regressed": True,
                "flipped_to_fail": ["case-00002", "case-00004"],
                "flipped_to_pass": ["case-00006"],
                "metrics": [
                    {
                        "metric": "rouge_l",
                        "n": 20,
                        "baseline": 0.8,
                        "candidate": 0.7,
                        "diff": -0.1,
                        "ci_low": -0.15,
                        "ci_high": -0.05,
                        "p_value": 0.0004,
                        "p_adjusted": 0.0012,
                        "test": "permutation",
                        "verdict": "regressed",
                        "regression": True,
                    },
                    {
                        "metric": "pass_rate",
                        "n": 20,
                        "baseline": 0.5,
                        "candidate": 0.55,
                        "diff": 0.05,
                        "ci_low": -0.1,
                        "ci_high": 0.2,
                        "p_value": 0.61,
                        "verdict": "no significant change",
                    },
                ],
            }
        ],
    }


class _Collector(HTMLParser):
    """Records elements, the text of every script element, and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _parse(html: str) -> _Collector:
    p = _Collector()
    p.feed(html)
    p.close()
    return p


def _embedded(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="mleval-data">(.*?)</script>', html, re.S)
    assert m is not None
    data: dict[str, Any] = json.loads(m.group(1))
    return data


# ---------------------------------------------------------------------------- safe JSON


def test_safe_json_round_trips_and_cannot_close_a_script() -> None:
    obj = {"a": HOSTILE, "b": "x</SCRIPT >y", "c": 1.5, "d": float("nan"), "<k>": "&"}
    text = safe_json(obj)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    back = json.loads(text)
    assert back["a"] == HOSTILE
    assert back["b"] == "x</SCRIPT >y"
    assert back["d"] is None
    assert back["<k>"] == "&"


# ---------------------------------------------------------------------------- the page


def test_report_has_every_section_and_embeds_the_cases_once() -> None:
    run = make_run(40)
    run.comparison = comparison_dict(run)
    html = render_report(run, baseline=make_run(40, seed=1))
    for anchor in (
        'id="gates"',
        'id="suites"',
        'id="comparison"',
        'id="distributions"',
        'id="cases"',
    ):
        assert anchor in html
    assert "0123456789" in html  # git sha
    assert "openai/gpt-4o-mini" in html
    assert "42.5 s" in html
    assert "pass_rate = 0.5500 fails &gt;= 0.9" in html
    assert "Per-case change against the baseline" in html
    assert "pass → fail" in html and "case-00004" in html
    data = _embedded(html)
    assert len(data["cases"]) == 40
    assert data["suites"] == ["support-bot", "rag-qa"]
    assert set(data["metrics"]) == {"rouge_l", "contains", "faithfulness", "latency_ms"}
    # Cases are in the JSON only, not also rendered server-side.
    outside = re.sub(r'<script type="application/json".*?</script>', "", html, flags=re.S)
    assert "case-00039" not in outside


def test_report_is_self_contained() -> None:
    html = render_report(make_run(10))
    parsed = _parse(html)
    for tag, attrs in parsed.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith("#"), f"<{tag} {name}={value!r}> reaches outside the file"
        assert tag not in ("link", "iframe", "object", "embed", "img")
    assert "default-src 'none'" in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html


def test_hostile_values_are_escaped_everywhere() -> None:
    run = make_run(30, hostile=True)
    run.suites[0].description = HOSTILE[0]
    run.meta.models = [HOSTILE[1]]
    run.meta.flags["x"] = HOSTILE[2]
    run.gates[0].message = HOSTILE[1]
    run.comparison = comparison_dict(run)
    run.comparison["suites"][0]["flipped_to_fail"] = [HOSTILE[1], HOSTILE[2]]
    run.comparison["warnings"] = [HOSTILE[0]]
    html = render_report(run)
    parsed = _parse(html)
    # Exactly the two scripts of the page: the JSON data and the nonce'd code.
    assert [t for t, _ in parsed.tags if t == "script"] == ["script", "script"]
    assert not [t for t, _ in parsed.tags if t == "img"]
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    assert "window.__pwned" not in parsed.scripts[1]
    data = json.loads(parsed.scripts[0])
    outs = [c.get("out", "") for c in data["cases"]]
    assert any(o.startswith(HOSTILE[0]) for o in outs)
    assert any(o.startswith(HOSTILE[2]) for o in outs)
    assert data["cases"][1]["id"] == HOSTILE[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_empty_run_renders() -> None:
    html = render_report(RunResults())
    assert "This run has no cases." in html
    assert "No gates in this run." in html
    assert "no cases" in html
    assert _embedded(html)["cases"] == []


def test_errors_only_run_renders() -> None:
    cases = [
        CaseResult(suite="s", case_id=f"c{i}", error="TargetError: boom", input={"q": i})
        for i in range(3)
    ]
    run = RunResults(cases=cases)
    html = render_report(run)
    data = _embedded(html)
    assert [c["st"] for c in data["cases"]] == [2, 2, 2]
    assert data["cases"][0]["in"] == '{\n  "q": 0\n}'
    assert "No aggregates for this suite (3 errored results)." in html
    assert "failed: 3 case(s) errored" in html


def test_missing_optional_fields_render() -> None:
    case = CaseResult(suite="s", case_id="only-id")
    run = RunResults(cases=[case], meta=RunMeta())
    html = render_report(run)
    rec = _embedded(html)["cases"][0]
    assert rec == {"s": 0, "id": "only-id", "st": 1}
    assert "Commit</dt><dd>–" in html


def test_comparison_reader_is_tolerant() -> None:
    assert comparison_view(None) is None
    assert comparison_view({}) is None
    view = comparison_view(
        {"suites": [{"suite": "s", "metrics": [{"metric": "m", "p_value": 0.2}]}, "junk"]}
    )
    assert view is not None
    m = view["suites"][0]["metrics"][0]
    assert m["p_adjusted"] == 0.2 and m["diff"] is None and m["verdict"] == "not tested"
    html = render_report(
        RunResults(comparison={"suites": [{"suite": "s", "metrics": [{"metric": "m"}]}]})
    )
    assert 'id="comparison"' in html


# ---------------------------------------------------------------------------- charts


def test_histogram_bins_match_numpy() -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(3)
    values = [rng.random() for _ in range(500)] + [0.0, 1.0, 0.5]
    expected, _ = np.histogram(values, bins=10, range=(0.0, 1.0))
    assert histogram_bins(values, 0.0, 1.0, 10) == expected.tolist()
    assert histogram_bins([2.0, 2.0], 2.0, 2.0, 4) == [2, 0, 0, 0]


def test_histograms_with_baseline_outline() -> None:
    run, base = make_run(30), make_run(30, seed=4)
    charts = {(h["suite"], h["metric"]): h for h in histograms(run, base)}
    rouge = charts[("support-bot", "rouge_l")]
    assert rouge["lo"] == 0.0 and rouge["hi"] == 1.0 and len(rouge["bars"]) == 10
    assert rouge["outline"]
    latency = charts[("support-bot", "latency_ms")]
    assert latency["hi"] > 1.0 and len(latency["bars"]) == 12
    tallest = max(b["h"] for b in rouge["bars"])
    assert 0 < tallest <= rouge["h"]


def test_delta_chart_counts_and_direction() -> None:
    base = make_run(20)
    run = base.model_copy(deep=True)
    for i, c in enumerate(run.cases):
        if "rouge_l" in c.scores:
            c.scores["rouge_l"].score = (c.scores["rouge_l"].score or 0) + (0.1 if i % 2 else -0.05)
    charts = {(d["suite"], d["metric"]): d for d in delta_charts(run, base)}
    d = charts[("support-bot", "rouge_l")]
    ids = {c.case_id for c in run.cases if c.suite == "support-bot" and "rouge_l" in c.scores}
    assert d["n"] == len(ids)
    assert d["better"] + d["worse"] == d["n"] and d["same"] == 0
    assert charts[("support-bot", "contains")]["same"] == charts[("support-bot", "contains")]["n"]
    assert [b["tone"] for b in d["bars"]] == sorted(
        (b["tone"] for b in d["bars"]), key=lambda t: t != "worse"
    )


def test_delta_chart_downsamples_large_runs() -> None:
    base = make_run(1000, suites=("s",))
    run = make_run(1000, suites=("s",), seed=9)
    d = next(x for x in delta_charts(run, base) if x["metric"] == "rouge_l")
    assert d["sampled"] and len(d["bars"]) == 400 and d["n"] > 400


def test_sparkline_geometry() -> None:
    from pytest_mleval.report.history import TrendPoint

    pts = [
        TrendPoint(i, f"2026-11-2{i}", None, 0.5 + i / 10, 0.4 + i / 10, 0.6 + i / 10, 30)
        for i in range(4)
    ]
    s = sparkline(pts)
    assert s is not None and s["n"] == 4 and len(s["dots"]) == 4
    ys = [d["y"] for d in s["dots"]]
    assert ys == sorted(ys, reverse=True)  # rising estimates are drawn upwards
    assert s["change"] == pytest.approx(0.3)
    assert sparkline([]) is None
    assert sparkline(pts[:1]) is not None


def test_case_payload_interns_context_and_matches_baseline() -> None:
    run, base = make_run(30), make_run(30, seed=2)
    payload = case_payload(run, base)
    rag = [c for c in payload["cases"] if payload["suites"][c["s"]] == "rag-qa"]
    refs = [k for c in rag for k in c["ctx"]]
    assert len(payload["docs"]) < len(refs)  # shared passages sent once
    first = payload["cases"][0]
    assert "b" in first and "out" in first["b"]
    m = payload["metrics"].index("rouge_l")
    assert first["b"]["sc"][str(m)] == base.cases[0].scores["rouge_l"].score


# ---------------------------------------------------------------------------- files and CLI


def test_write_report_with_unreadable_history_keeps_the_report(tmp_path: Path) -> None:
    out = write_report(tmp_path / "r.html", make_run(5), history_url="nosuchdialect://x")
    html = out.read_text(encoding="utf-8")
    assert "metric trends unavailable" in html


def test_cli_report_renders_a_stored_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from pytest_mleval.cli.runs import add_report_commands

    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command", required=True))
    results = write_results(tmp_path / "mleval-results.json", make_run(12))
    args = parser.parse_args(["report", str(results), "--no-history"])
    assert args.func(args) == 0
    out = tmp_path / "mleval-report.html"
    assert out.exists() and "mleval: wrote" in capsys.readouterr().out
    assert len(_embedded(out.read_text(encoding="utf-8"))["cases"]) == 12
    args = parser.parse_args(
        ["report", str(results), "-o", str(tmp_path / "x" / "y.html"), "--no-history"]
    )
    assert args.func(args) == 0 and (tmp_path / "x" / "y.html").exists()


def test_cli_report_with_baseline(tmp_path: Path) -> None:
    import argparse

    from pytest_mleval.cli.runs import add_report_commands

    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command", required=True))
    results = write_results(tmp_path / "cand.json", make_run(24, shift=0.2))
    base = write_results(tmp_path / "base.json", make_run(24))
    args = parser.parse_args(["report", str(results), "--baseline", str(base), "--no-history"])
    assert args.func(args) == 0
    html = (tmp_path / "cand.html").read_text(encoding="utf-8")
    data = _embedded(html)
    assert data["hasBaseline"] and all("b" in c for c in data["cases"])
    assert "Per-case change against the baseline" in html


def test_cli_report_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    import argparse

    from pytest_mleval.cli.runs import add_report_commands
    from pytest_mleval.errors import ResultsFileError

    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", str(tmp_path / "nope.json")])
    with pytest.raises(ResultsFileError, match="not found"):
        args.func(args)


def test_prepare_report_compiles_the_template_once_ahead_of_the_render(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run compiles the template on a thread while it waits for model calls; the end of
    the run then renders without compiling again."""
    import jinja2

    from pytest_mleval.report import html

    monkeypatch.setattr(html, "_TEMPLATE", [])
    html.prepare_report()
    assert len(html._TEMPLATE) == 1

    def no_compile(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the report's template was compiled again")

    monkeypatch.setattr(jinja2.Environment, "compile", no_compile)
    out = render_report(RunResults())
    assert "This run has no cases." in out
