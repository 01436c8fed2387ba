"""The pairwise judge between a suite's variants (``judge_variants:``): verdicts in both orders
through the engine, win rates with Wilson intervals, a Bradley-Terry ranking past two variants,
what is left unjudged and why, and end to end through pytest with a recorded run replayed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import OpenAITestServer, Rule, loopback_only
from pytest_mleval.judges.variants import (
    VariantJudgeOptions,
    judge_run_variants,
    judge_variant_set,
)
from pytest_mleval.results.records import CaseResult, RunResults, VariantSet
from pytest_mleval.results.variant_judging import PairJudgement, attach_judgements
from pytest_mleval.stats import bradley_terry_fit

import_litellm()  # see tests/inference/test_model_targets.py: loaded before in-process runs


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge")
    with loopback_only() as attempts:
        yield
    assert not attempts


def blocks(messages: list[dict[str, Any]]) -> tuple[str, str]:
    text = messages[-1]["content"]
    a = re.search(r"<<<A-(\w+)\n(.*?)\nA-\1>>>", text, re.S)
    b = re.search(r"<<<B-(\w+)\n(.*?)\nB-\1>>>", text, re.S)
    assert a and b, text
    return a.group(2), b.group(2)


def quality_judge(messages: list[dict[str, Any]]) -> str:
    """Prefers the answer with more '+' marks; equal counts are a tie."""
    a, b = blocks(messages)
    qa, qb = a.count("+"), b.count("+")
    winner = "A" if qa > qb else "B" if qb > qa else "tie"
    return json.dumps({"reasoning": "counted", "winner": winner})


def first_shown_judge(messages: list[dict[str, Any]]) -> str:
    """Pure position bias: always prefers the answer shown first."""
    return json.dumps({"reasoning": "first", "winner": "A"})


def results_of(outputs: dict[str, list[str | None]], suite: str = "s") -> list[CaseResult]:
    """Case results of variant suites ``SUITE[VARIANT]``: one output per case (None: errored)."""
    out = []
    for variant, texts in outputs.items():
        for i, text in enumerate(texts):
            out.append(
                CaseResult(
                    suite=f"{suite}[{variant}]",
                    variant=variant,
                    case_id=f"c{i}",
                    input=f"question {i}",
                    output=text,
                    error=None if text is not None else "RuntimeError: down",
                )
            )
    return out


class Judge:
    """A judge backend on an engine against the test server (real model calls on loopback)."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply

    def __enter__(self) -> Judge:
        from pytest_mleval.inference import InferenceEngine
        from pytest_mleval.inference.targets import EngineJudge

        self.srv = OpenAITestServer(rules=[Rule(reply=self.reply)]).__enter__()
        self.engine = InferenceEngine(api_key="sk-test-judge").__enter__()
        self.backend = EngineJudge(self.engine, "openai/judge", api_base=self.srv.base_url)
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.__exit__(*exc)
        self.srv.__exit__(*exc)


# --------------------------------------------------------------------------- judging


def test_three_variants_judged_in_both_orders_give_win_rates_and_a_ranking() -> None:
    from statsmodels.stats.proportion import proportion_confint

    outputs: dict[str, list[str | None]] = {
        "weak": ["w", "w+", "w", "w+++", "w+", "w"],
        "mid": ["m+", "m+", "m+", "m", "m++", "m+"],
        "strong": ["s++", "s+", "s++", "s++", "s+", "s+++"],
    }
    vs = VariantSet(suite="s", variants=["weak", "mid", "strong"])
    with Judge(quality_judge) as j:
        judgements, notes = judge_variant_set(
            vs, results_of(outputs), VariantJudgeOptions(), j.backend
        )
        assert j.srv.count == 3 * 6 * 2  # three pairs, six cases, both orders
    assert notes == []
    assert len(judgements) == 18
    assert all(len(x.orders) == 2 for x in judgements)
    done = attach_judgements(vs, judgements, confidence=0.95, seed=0)
    rates = {(w.a, w.b): w for w in done.win_rates}
    assert set(rates) == {("weak", "mid"), ("weak", "strong"), ("mid", "strong")}
    wm = rates[("weak", "mid")]
    # weak vs mid, '+' counts 0,1,0,3,1,0 against 1,1,1,0,2,1: a tie (c1), a win (c3)
    assert (wm.wins_a, wm.wins_b, wm.ties) == (1, 4, 1)
    assert wm.win_rate_a == pytest.approx(1.5 / 6)
    lo, hi = proportion_confint(1.5, 6, alpha=0.05, method="wilson")
    assert (wm.ci_low, wm.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    ms = rates[("mid", "strong")]
    assert (ms.wins_a, ms.wins_b, ms.ties) == (1, 4, 1)
    assert [r.variant for r in done.ranking] == ["strong", "mid", "weak"]
    assert [r.rank for r in done.ranking] == [1, 2, 3]
    assert sum(r.strength for r in done.ranking) == pytest.approx(0.0, abs=1e-9)
    for r in done.ranking:
        assert r.ci_low <= r.strength <= r.ci_high
    # The ranking's strengths are the Bradley-Terry fit of the win matrix (ties as halves).
    order = ["weak", "mid", "strong"]
    wins = np.zeros((3, 3))
    for w in done.win_rates:
        i, k = order.index(w.a), order.index(w.b)
        wins[i, k] += w.wins_a + w.ties / 2
        wins[k, i] += w.wins_b + w.ties / 2
    expected = dict(zip(order, bradley_terry_fit(wins), strict=True))
    for r in done.ranking:
        assert r.strength == pytest.approx(expected[r.variant], abs=1e-9)


def test_a_judge_that_prefers_whatever_it_sees_first_gives_only_ties() -> None:
    outputs: dict[str, list[str | None]] = {"a": ["x", "y", "z"], "b": ["x++", "y++", "z++"]}
    vs = VariantSet(suite="s", variants=["a", "b"])
    with Judge(first_shown_judge) as j:
        judgements, _ = judge_variant_set(vs, results_of(outputs), VariantJudgeOptions(), j.backend)
    assert {x.winner for x in judgements} == {"tie"}
    assert {x.orders for x in judgements} == {("A", "A")}
    done = attach_judgements(vs, judgements)
    (rate,) = done.win_rates
    assert (rate.wins_a, rate.wins_b, rate.ties, rate.win_rate_a) == (0, 0, 3, 0.5)
    assert done.ranking == []  # two variants: the win rate says it all


def test_each_variant_against_the_reference_only() -> None:
    outputs: dict[str, list[str | None]] = {
        "base": ["b+", "b+"],
        "x": ["x++", "x++"],
        "y": ["y", "y"],
    }
    vs = VariantSet(suite="s", variants=["base", "x", "y"], reference="base")
    with Judge(quality_judge) as j:
        judgements, _ = judge_variant_set(vs, results_of(outputs), VariantJudgeOptions(), j.backend)
        assert j.srv.count == 2 * 2 * 2
    done = attach_judgements(vs, judgements)
    assert [(w.a, w.b) for w in done.win_rates] == [("base", "x"), ("base", "y")]
    assert [(w.wins_a, w.wins_b) for w in done.win_rates] == [(0, 2), (2, 0)]
    # x never lost and y never won: no maximum-likelihood strengths, said so, still finite.
    assert [r.variant for r in done.ranking] == ["x", "base", "y"]
    assert all(np.isfinite([r.strength, r.ci_low, r.ci_high]).all() for r in done.ranking)
    (note,) = [n for n in done.notes if "Bradley-Terry" in n]
    assert "x never lost" in note and "y never won" in note and "virtual tie" in note


def test_errored_cases_and_unusable_verdicts_are_left_out_never_scored() -> None:
    outputs: dict[str, list[str | None]] = {"a": ["a+", None, "a+"], "b": ["b", "b", "b UNUSABLE"]}

    def judge(messages: list[dict[str, Any]]) -> str:
        a, b = blocks(messages)
        if "UNUSABLE" in a + b:
            return "I cannot decide."
        return quality_judge(messages)

    vs = VariantSet(suite="s", variants=["a", "b"])
    with Judge(judge) as j:
        judgements, notes = judge_variant_set(
            vs, results_of(outputs), VariantJudgeOptions(reasks=0), j.backend
        )
    assert [x.case_id for x in judgements] == ["c0"]
    assert any("1 case(s) of a compared pair not judged" in n for n in notes)
    assert any("1 of 2 judgement(s) failed" in n and "c2 (a vs b)" in n for n in notes)
    (rate,) = attach_judgements(vs, judgements).win_rates
    assert (rate.wins_a, rate.wins_b, rate.ties) == (1, 0, 0)


def test_samples_ask_again_and_are_averaged_per_case() -> None:
    outputs: dict[str, list[str | None]] = {"a": ["a+", "a"], "b": ["b", "b+"]}
    vs = VariantSet(suite="s", variants=["a", "b"])
    with Judge(quality_judge) as j:
        judgements, _ = judge_variant_set(
            vs, results_of(outputs), VariantJudgeOptions(samples=3), j.backend
        )
        # Each sample is a call of its own (sampled, not the one deterministic verdict).
        assert j.srv.count == 2 * 3 * 2
        assert {r.get("temperature") for r in j.srv.requests} == {0.7}
    assert len(judgements) == 6 and {x.sample for x in judgements} == {0, 1, 2}
    (rate,) = attach_judgements(vs, judgements).win_rates
    assert (rate.wins_a, rate.wins_b) == (3, 3)
    assert rate.win_rate_a == 0.5


def test_repeats_are_averaged_so_the_interval_counts_cases() -> None:
    from statsmodels.stats.proportion import proportion_confint

    judgements = [
        PairJudgement("c0", "a", "b", "a", repeat=0),
        PairJudgement("c0", "a", "b", "b", repeat=1),
        PairJudgement("c1", "a", "b", "a", repeat=0),
        PairJudgement("c1", "b", "a", "a", repeat=1),  # either way round: b won
    ]
    vs = VariantSet(suite="s", variants=["a", "b"])
    (rate,) = attach_judgements(vs, judgements).win_rates
    assert (rate.wins_a, rate.wins_b, rate.ties) == (2, 2, 0)
    assert rate.win_rate_a == pytest.approx(0.5)
    lo, hi = proportion_confint(1, 2, alpha=0.05, method="wilson")  # two cases, not four
    assert (rate.ci_low, rate.ci_high) == (pytest.approx(lo), pytest.approx(hi))


def test_a_pair_without_judgements_has_no_win_rate() -> None:
    vs = VariantSet(suite="s", variants=["a", "b", "c"])
    done = attach_judgements(vs, [PairJudgement("c0", "a", "b", "a")])
    assert [(w.a, w.b) for w in done.win_rates] == [("a", "b")]
    assert done.ranking == []


# --------------------------------------------------------------------------- the run's step

SUITE_FILE = """
suite: s
target: python:app:f
prompt: "{{{{ input }}}}"
{extra}
variants:
  - {{name: a}}
  - {{name: b, prompt: "++ {{{{ input }}}}"}}
  - {{name: c, prompt: "+ {{{{ input }}}}"}}
cases:
  - {{id: c0, input: x}}
"""


def run_with_sets(tmp_path: Path, extra: str) -> tuple[RunResults, dict[str, Any]]:
    from pytest_mleval.cases.suite import load_suite

    path = tmp_path / "s.eval.yaml"
    path.write_text(SUITE_FILE.format(extra=extra))
    suites = {s.name: s for s in load_suite(path).expand()}
    outputs: dict[str, list[str | None]] = {"a": ["a", "a+"], "b": ["b++", "b++"], "c": ["c", "c+"]}
    run = RunResults(
        cases=results_of(outputs), variant_sets=[VariantSet(suite="s", variants=["a", "b", "c"])]
    )
    return run, suites


def test_without_a_judge_model_the_step_is_skipped_with_a_note(tmp_path: Path) -> None:
    run, suites = run_with_sets(tmp_path, "judge_variants: {}")
    with Judge(quality_judge) as j:
        errors = judge_run_variants(
            run, suites=suites, factory=lambda m: j.backend, default_model=None
        )
        assert j.srv.count == 0
    assert errors == []
    (vs,) = run.variant_sets
    assert vs.win_rates == [] and vs.ranking == []
    assert any("no judge model configured" in n for n in vs.notes)


def test_the_suites_judge_model_and_options_are_used(tmp_path: Path) -> None:
    run, suites = run_with_sets(
        tmp_path, 'judge_model: openai/suite-judge\njudge_variants: {criteria: "More plus signs."}'
    )
    with Judge(quality_judge) as j:
        asked: list[str] = []

        def factory(model: str) -> Any:
            asked.append(model)
            return j.backend

        judge_run_variants(run, suites=suites, factory=factory, default_model=None)
        assert all(
            "Criteria: More plus signs." in r["messages"][-1]["content"] for r in j.srv.requests
        )
    assert asked == ["openai/suite-judge"]
    (vs,) = run.variant_sets
    assert len(vs.win_rates) == 3
    assert vs.ranking[0].variant == "b"


def test_a_suite_without_judge_variants_is_not_judged(tmp_path: Path) -> None:
    run, suites = run_with_sets(tmp_path, "")
    with Judge(quality_judge) as j:
        judge_run_variants(run, suites=suites, factory=lambda m: j.backend, default_model="m")
        assert j.srv.count == 0
    assert run.variant_sets[0].win_rates == [] and run.variant_sets[0].notes == []


def test_unreadable_judge_variants_options_are_an_error_naming_the_option(tmp_path: Path) -> None:
    run, suites = run_with_sets(tmp_path, "judge_variants: {against: 'python:app:f'}")
    with Judge(quality_judge) as j:
        errors = judge_run_variants(
            run, suites=suites, factory=lambda m: j.backend, default_model="m"
        )
        assert j.srv.count == 0
    (error,) = errors
    assert "suite 's'" in error and "against" in error
    assert run.variant_sets[0].notes == [error]


# --------------------------------------------------------------------------- end to end

# Per variant, the number of '+' in its answer to each case: the judge prefers more.
QUALITY = {"a": [1, 0, 2, 1, 0, 1], "b": [2, 1, 1, 2, 1, 2], "c": [3, 2, 0, 3, 2, 1]}
# Judge prompts: three pairs, six cases, both orders; one prompt that recurs (two equal
# answers to a case, in either order) is one request, the engine's cache answers the rest.
PROMPTS = len(
    {
        (k, *shown)
        for x, y in (("a", "b"), ("a", "c"), ("b", "c"))
        for k in range(6)
        for shown in ((QUALITY[x][k], QUALITY[y][k]), (QUALITY[y][k], QUALITY[x][k]))
    }
)

E2E_APP = f"""
Q = {QUALITY!r}

def answer(variant, case):
    return "ans " + "+" * Q[variant][int(case.input)]

def a(case):
    return answer("a", case)

def b(case):
    return answer("b", case)

def c(case):
    return answer("c", case)
"""

E2E_SUITE = """
suite: trio
target: python:app:a
metrics: [{contains: {value: "ans"}}]
judge_variants: {criteria: "More plus signs is better."}
variants:
  - {name: a}
  - {name: b, target: "python:app:b"}
  - {name: c, target: "python:app:c"}
cases:
""" + "".join(f"  - {{id: k{i}, input: '{i}'}}\n" for i in range(6))


def e2e_project(p: pytest.Pytester, srv: OpenAITestServer, *, judge_model: bool = True) -> None:
    p.makepyfile(app=E2E_APP)
    p.syspathinsert()
    ini = f"[pytest]\nmleval_api_base = {srv.base_url}\nmleval_retry_delay = 0.01\n"
    if judge_model:
        ini += "mleval_judge_model = openai/judge\n"
    p.makeini(ini)
    p.makefile(".eval.yaml", trio=E2E_SUITE)


def variant_set(p: pytest.Pytester) -> dict[str, Any]:
    data = json.loads((p.path / "reports" / "mleval-results.json").read_text())
    (vs,) = data["variant_sets"]
    assert vs["suite"] == "trio"
    return dict(vs)


def check_trio(vs: dict[str, Any]) -> None:
    rates = {(w["a"], w["b"]): (w["wins_a"], w["wins_b"], w["ties"]) for w in vs["win_rates"]}
    # Counted from E2E_APP's table: a vs b, a vs c, b vs c.
    assert rates == {("a", "b"): (1, 5, 0), ("a", "c"): (1, 4, 1), ("b", "c"): (2, 4, 0)}
    ab = next(w for w in vs["win_rates"] if (w["a"], w["b"]) == ("a", "b"))
    assert ab["win_rate_a"] == pytest.approx(1 / 6)
    assert ab["ci_low"] < 1 / 6 < ab["ci_high"]
    assert [(r["variant"], r["rank"]) for r in vs["ranking"]] == [("c", 1), ("b", 2), ("a", 3)]
    for r in vs["ranking"]:
        assert r["ci_low"] <= r["strength"] <= r["ci_high"]


@pytest.mark.parametrize("xdist", [False, True], ids=["one-process", "xdist"])
def test_a_variants_suite_is_judged_end_to_end_and_replays_with_no_request(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    args = ["-n", "2"] if xdist else []
    with OpenAITestServer(rules=[Rule(reply=quality_judge)]) as srv:
        e2e_project(pytester, srv)
        first = pytester.runpytest(*args)
        first.assert_outcomes(passed=18)
        vs = variant_set(pytester)
        check_trio(vs)
        assert srv.count == PROMPTS
        # The judge's calls are in the usage people read (the targets are python: no tokens),
        # answers joining an identical call made before counted as cached, as recorded.
        usage = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())["usage"]
        spent = usage["inference"]["models"]["openai/judge"]["total_tokens"]
        judged, joined = usage["models"]["openai/judge"]["total_tokens"], usage["total"]["cached"]
        assert spent > 0 and judged >= spent and (judged > spent) == (joined > 0)
        assert usage["total"]["total_tokens"] == judged
        first.stdout.fnmatch_lines(
            [f"usage: {judged:,} tokens*", f"  model openai/judge: {judged:,} *"]
        )
        assert all(
            "More plus signs is better." in r["messages"][-1]["content"] for r in srv.requests
        )

        result = pytester.runpytest(*args, "--mleval-cache", "replay")
        result.assert_outcomes(passed=18)
        assert "CacheMissError" not in result.stdout.str()
        assert srv.count == PROMPTS  # the replay made no judge request
        usage = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())["usage"]
        assert usage["total"]["total_tokens"] == judged
        assert usage["total"]["cached"] == PROMPTS + joined
        replayed = variant_set(pytester)
        assert replayed["win_rates"] == vs["win_rates"]
        assert replayed["ranking"] == vs["ranking"]


def test_without_a_judge_model_the_run_notes_it_and_scores_nothing(
    pytester: pytest.Pytester,
) -> None:
    with OpenAITestServer(rules=[Rule(reply=quality_judge)]) as srv:
        e2e_project(pytester, srv, judge_model=False)
        pytester.runpytest().assert_outcomes(passed=18)
        vs = variant_set(pytester)
        assert srv.count == 0
    assert vs["win_rates"] == [] and vs["ranking"] == []
    assert any("no judge model configured" in n for n in vs["notes"])
