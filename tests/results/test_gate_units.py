"""Gates on raw measures read in their units: dollars with significant digits, milliseconds.

A cost gate once read ``mean(cost_usd) = 0.0001 (estimate 0.0001, 95% CI [0.0000, 0.0001], t)
fails <= 3e-05`` (and its HTML value ``5e-05``) while the metric table beside it showed
``$0.0000500``; a cost regression read ``+2.5e-05`` beside a comparison table in dollars.
"""

from __future__ import annotations

import re

import pytest

from pytest_mleval.cases.schema import GateSpec
from pytest_mleval.results.aggregate import aggregate_suite, evaluate_gates
from pytest_mleval.results.records import CaseResult, GateResult, MetricScore, RunResults

_ZERO = re.compile(r"\$0\.0+(?![0-9])|(?<![$\d.])0\.0000(?![0-9])")
"""A real cost printed as nothing (``$0.0000`` or a bare ``0.0000``)."""


def _cases(metric: str, values: list[float]) -> list[CaseResult]:
    return [
        CaseResult(
            suite="m",
            case_id=f"c-{i}",
            passed=True,
            scores={metric: MetricScore(score=v, passed=True)},
        )
        for i, v in enumerate(values)
    ]


def _gate(metric: str, values: list[float], **spec: object) -> GateResult:
    cases = _cases(metric, values)
    gate = GateSpec.model_validate({"metric": metric, **spec})
    (result,) = evaluate_gates("m", [gate], cases, aggregate_suite("m", cases))
    return result


def test_cost_gate_message_reads_in_dollars() -> None:
    result = _gate("cost_usd", [4e-5, 6e-5] * 10, stat="mean", max=0.00003)
    assert not result.passed
    assert result.message == (
        "mean(cost_usd) = $0.0000500 (estimate $0.0000500, 95% CI [$0.0000452, $0.0000548], t) "
        "fails <= $0.0000300"
    )


def test_tiny_cost_gate_is_never_zero() -> None:
    result = _gate("cost_usd", [1.234e-7] * 20, stat="max", max=0.00003)
    assert result.passed
    assert "max(cost_usd) = $0.000000123" in result.message
    assert not _ZERO.search(result.message)


def test_bound_keeps_the_digits_it_was_written_with() -> None:
    # Three significant digits would print the bound 0.00003125 as $0.0000312.
    result = _gate("cost_usd", [3e-5] * 20, stat="median", max=0.00003125)
    assert result.message.endswith("meets <= $0.00003125")


def test_latency_gate_message_reads_in_ms() -> None:
    result = _gate("latency_ms", [400.0, 420.0] * 10, stat="mean", max=300)
    assert result.message.startswith("mean(latency_ms) = 410 ms (estimate 410 ms, 95% CI [")
    assert result.message.endswith("] ms, t) fails <= 300 ms")


def test_shares_and_scores_stay_plain() -> None:
    # The share of cases whose cost passed is no amount of money.
    share = _gate("cost_usd", [4e-5] * 20, stat="pass_rate", min=0.5)
    assert share.message.startswith("pass_rate(cost_usd) = 1.0000 (estimate 1.0000")
    assert "$" not in share.message and share.message.endswith("meets >= 0.5")
    score = _gate("rouge_l", [0.6, 0.8] * 10, stat="mean", min=0.6, on="ci_low")
    assert score.message.startswith("ci_low of mean(rouge_l) = 0.6")
    assert "$" not in score.message and " ms" not in score.message


def test_cost_regression_gate_reads_in_dollars() -> None:
    from pytest_mleval.results.compare import regression_check

    def run(cost: float, step: int) -> RunResults:
        return RunResults(
            cases=[
                CaseResult(
                    suite="s",
                    case_id=f"c{i}",
                    passed=True,
                    scores={"cost_usd": MetricScore(score=cost + 1e-7 * (i * step % 5))},
                )
                for i in range(20)
            ]
        )

    # A raw measure gates a regression only when named.
    _, gates = regression_check(run(1e-5, 1), run(3.5e-5, 3), metrics=["cost_usd"])
    (gate,) = gates
    assert not gate.passed
    assert re.search(
        r"cost_usd \+\$0\.0000250 \[\+\$0\.0000\d{3}, \+\$0\.0000\d{3}\] p\(adj\)", gate.message
    ), gate.message


def test_html_gates_table_shows_dollars() -> None:
    from pytest_mleval.report.html import render_report

    gates = [
        _gate("cost_usd", [4e-5, 6e-5] * 10, stat="mean", max=0.00003),
        _gate("cost_usd", [1.234e-7] * 20, stat="mean", max=0.00003),
        _gate("latency_ms", [400.0, 420.0] * 10, stat="mean", max=300),
        _gate("cost_usd", [4e-5] * 20, stat="pass_rate", min=0.5),
    ]
    html = render_report(RunResults(gates=gates))
    section = html[html.index('<section id="gates">') :]
    section = section[: section.index("</section>")]
    assert '<td class="num">$0.0000500</td>' in section
    assert '<td class="num">$0.000000123</td>' in section
    assert '<td class="num">410 ms</td>' in section
    assert '<td class="num">1.0000</td>' in section  # a share stays a share
    assert "≤ $0.0000300" in section and "≤ 300 ms" in section and "≥ 0.500" in section
    assert "5e-05" not in section and "e-07" not in section and "3e-05" not in section
    assert not _ZERO.search(section)


@pytest.mark.parametrize("where", ["terminal", "summary"])
def test_cost_gate_in_dollars_in_terminal_and_summary(
    pytester: pytest.Pytester, where: str
) -> None:
    pytester.makepyfile(
        app="def answer(case):\n"
        "    i = int(case.id.split('-')[1])\n"
        "    return {'output': 'yes', 'cost_usd': 4e-5 * (1 + (i % 2) * 0.5)}\n"
    )
    pytester.syspathinsert()
    cases = "".join(f"  - {{id: c-{i}, input: q{i}}}\n" for i in range(20))
    pytester.makefile(
        ".eval.yaml",
        m="suite: m\ntarget: python:app:answer\nmetrics:\n  - cost_usd: {max: 1.0}\n"
        "gates:\n  - {metric: cost_usd, stat: mean, max: 0.00003}\n"
        f"cases:\n{cases}",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    if where == "terminal":
        result.stdout.fnmatch_lines(
            [
                "gate m: FAIL mean(cost_usd) = $0.0000500 (estimate $0.0000500, 95% CI "
                "[$0.0000452, $0.0000548], t) fails <= $0.0000300"
            ]
        )
    else:
        from pytest_mleval.report.escaping import md_text

        summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
        assert md_text("mean(cost_usd) = $0.0000500 (estimate $0.0000500") in summary
        assert md_text("fails <= $0.0000300") in summary
