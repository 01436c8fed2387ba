"""Unit and property tests of the deterministic metrics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_mleval.errors import MetricError
from pytest_mleval.metrics.registry import (
    MetricValue,
    Sample,
    case_passed,
    get_metric,
    metric,
    metric_names,
    score_metric,
)


def s(output: str, expected: object = None, **kw: object) -> Sample:
    return Sample(output=output, expected=expected, **kw)  # type: ignore[arg-type]


def score(name: str, sample: Sample, **params: object) -> float:
    result = score_metric(name, sample, params=params)
    assert result.error is None, result.error
    assert result.score is not None
    return result.score


def test_registry_lists_builtins() -> None:
    for name in [
        "exact",
        "contains",
        "icontains",
        "not_contains",
        "regex",
        "json_valid",
        "json_schema",
        "levenshtein",
        "rouge_1",
        "rouge_2",
        "rouge_l",
        "bleu",
        "latency_ms",
        "cost_usd",
    ]:
        assert name in metric_names()
    with pytest.raises(MetricError, match=r"valid metrics: .*rouge_l"):
        get_metric("rouge_x")


@pytest.mark.parametrize(
    ("output", "expected", "params", "want"),
    [
        ("Paris", "Paris", {}, 1.0),
        (" Paris\n", "Paris", {}, 1.0),
        ("paris", "Paris", {}, 0.0),
        ("paris", "Paris", {"case": False}, 1.0),
        ("paris", "Paris", {"ignore_case": True}, 1.0),
        ("Paris!", "Paris", {"punctuation": False}, 1.0),
        ("New   York", "New York", {"whitespace": False}, 1.0),
        ("New York", "New   York", {}, 0.0),
        ("b", ["a", "b"], {}, 1.0),
    ],
)
def test_exact(output: str, expected: object, params: dict, want: float) -> None:
    assert score("exact", s(output, expected), **params) == want


def test_contains_family() -> None:
    out = s("You have 30 days to return it")
    assert score("contains", out, value="30 days") == 1.0
    assert score("contains", out, value="30 Days") == 0.0
    assert score("icontains", out, value="30 DAYS") == 1.0
    assert score("contains", out, values=["30 days", "refund"]) == 0.0
    assert score("contains", out, values=["30 days", "refund"], mode="any") == 1.0
    assert score("not_contains", out, values=["refund", "60 days"]) == 1.0
    assert score("not_contains", out, value="RETURN", ignore_case=True) == 0.0
    assert score("contains", s("x 30 days", expected="30 days")) == 1.0
    res = score_metric("contains", out, params={"value": "nope"})
    assert res.passed is False and "nope" in (res.explanation or "")
    assert score_metric("contains", out, params={"value": "x", "mode": "some"}).error


@pytest.mark.parametrize("name", ["contains", "icontains", "not_contains"])
@pytest.mark.parametrize(
    ("expected", "params"),
    [
        ("", {}),
        ([], {}),
        (None, {"value": ""}),
        (None, {"values": []}),
        (None, {"values": ["30 days", ""], "mode": "any"}),
        (["30 days", ""], {}),
    ],
)
def test_contains_family_with_nothing_to_look_for_is_an_error(
    name: str, expected: object, params: dict[str, object]
) -> None:
    # "" is in every output and [] has nothing missing, so these passed (or, for
    # not_contains, failed) every case whatever the output said.
    if name == "not_contains":
        params = {k: v for k, v in params.items() if k != "mode"}
    res = score_metric(name, s("anything at all", expected=expected), params=params)
    assert res.score is None and res.passed is not True
    assert "empty" in (res.error or "")


def test_regex() -> None:
    assert score("regex", s("Order #12345 shipped"), pattern=r"#\d{5}") == 1.0
    assert score("regex", s("ORDER"), pattern="order", flags="i") == 1.0
    assert score("regex", s("order 1"), pattern=r"order", fullmatch=True) == 0.0
    assert "not a valid regular expression" in (
        score_metric("regex", s("x"), params={"pattern": "("}).error or ""
    )


def test_json_metrics() -> None:
    assert score("json_valid", s('{"a": 1}')) == 1.0
    assert score("json_valid", s("{'a': 1}")) == 0.0
    assert score("json_valid", s('Here:\n```json\n{"a": 1}\n```'), extract=True) == 1.0
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
    assert score("json_schema", s('{"a": 1}'), schema=schema) == 1.0
    bad = score_metric("json_schema", s('{"a": "x"}'), params={"schema": schema})
    assert bad.score == 0.0 and "at a" in (bad.explanation or "")
    assert score("json_schema", s("not json"), schema=schema) == 0.0


def test_levenshtein_matches_definition() -> None:
    assert score("levenshtein", s("kitten", "sitting")) == pytest.approx(1 - 3 / 7)
    assert score("levenshtein", s("", "")) == 1.0


def test_raw_measures_pass_by_max() -> None:
    r = score_metric("latency_ms", s("x", latency_ms=250.0), max_value=200)
    assert r.score == 250.0 and r.passed is False
    r = score_metric("cost_usd", s("x", cost_usd=0.001), max_value=0.01)
    assert r.passed is True
    assert score_metric("latency_ms", s("x")).error


def test_thresholds_and_defaults() -> None:
    assert (
        score_metric("exact", s("a", "b")).passed is False
    )  # binary metrics gate at 1.0 by default
    assert (
        score_metric("levenshtein", s("a", "b")).passed is None
    )  # informational without threshold
    assert score_metric("levenshtein", s("abc", "abd"), threshold=0.5).passed is True


def test_custom_metric_outputs_and_errors() -> None:
    @metric("t_pair")
    def pair(sample: Sample) -> tuple[float, str]:
        return 0.25, "a quarter"

    @metric("t_value")
    def value(sample: Sample) -> MetricValue:
        return MetricValue(0.5, "half", {"k": 1})

    @metric("t_bad")
    def bad(sample: Sample) -> str:
        return "high"

    r = score_metric("t_pair", s("x"), threshold=0.5)
    assert (r.score, r.explanation, r.passed) == (0.25, "a quarter", False)
    assert score_metric("t_value", s("x")).data == {"k": 1}
    assert "must return a number" in (score_metric("t_bad", s("x")).error or "")
    assert (
        "NaN" in (score_metric("python:math:nan", s("x")).error or "")
        or score_metric("python:math:nan", s("x")).error
    )


def test_case_passed_rules() -> None:
    ok = score_metric("exact", s("a", "a"))
    no = score_metric("exact", s("a", "b"))
    info = score_metric("levenshtein", s("a", "b"))
    err = score_metric("regex", s("a"), params={"pattern": "("})
    assert case_passed([ok, info])
    assert not case_passed([ok, no])
    assert not case_passed([ok, err])
    # weighted rule: (1*1 + 0*1) / 2 = 0.5
    assert case_passed([ok, no], pass_score=0.5)
    assert not case_passed([ok, no], pass_score=0.6)


text = st.text(max_size=60)


@given(text, text)
def test_bounded_metrics_in_unit_interval(a: str, b: str) -> None:
    for name in (
        "exact",
        "contains",
        "icontains",
        "not_contains",
        "levenshtein",
        "rouge_1",
        "rouge_2",
        "rouge_l",
        "bleu",
        "json_valid",
    ):
        r = score_metric(name, s(a, b))
        if b == "" and name.endswith("contains"):
            assert "nothing to look for" in (r.error or ""), (name, r.error)
            continue
        assert r.error is None, (name, r.error)
        assert r.score is not None and 0.0 <= r.score <= 1.0


@given(st.text(min_size=1, max_size=60).filter(lambda t: t.strip() != ""))
def test_identical_strings_score_one(a: str) -> None:
    for name in ("exact", "contains", "icontains", "levenshtein"):
        assert score(name, s(a, a)) == 1.0


@given(text, text)
def test_levenshtein_symmetric(a: str, b: str) -> None:
    assert score("levenshtein", s(a, b)) == pytest.approx(score("levenshtein", s(b, a)))
