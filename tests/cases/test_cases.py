"""Loading eval files and datasets (the core, without pytest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError, TargetError
from pytest_mleval.metrics.registry import unknown_metric_problem
from pytest_mleval.targets.registry import normalize_output
from pytest_mleval.targets.render import eval_cases
from pytest_mleval.targets.templates import render_template


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(body)
    return p


def test_suite_defaults_and_metric_spellings(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "qa.eval.yaml",
        """
metrics:
  - exact
  - rouge_l: {threshold: 0.4, use_stemmer: true}
  - {name: bleu, weight: 2}
  - contains: "30 days"
cases:
  - id: 1
    input: hi
    metrics:
      - rouge_l: {threshold: 0.9}
""",
    )
    suite = load_suite(p, known_metric=unknown_metric_problem)
    assert suite.name == "qa"
    case = suite.cases[0]
    assert case.id == "1"
    merged = {m.name: m for m in suite.metrics_for(case)}
    assert merged["rouge_l"].threshold == 0.9 and merged["rouge_l"].params == {}
    assert merged["bleu"].weight == 2
    assert merged["contains"].params == {"value": "30 days"}
    assert suite.lines["1"] == 8


def test_eval_prefix_stem(tmp_path: Path) -> None:
    assert load_suite(write(tmp_path, "eval_refunds.yaml", "cases: []\n")).name == "refunds"


def test_templates_render_in_sandbox(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "t.eval.yaml",
        """
prompt: "Q: {{ input }} ({{ vars.lang }}) {{ greeting }}"
system: "You speak {{ lang }}."
cases:
  - {id: a, input: "why?", vars: {lang: fr, greeting: "hello {{ input }}"}}
""",
    )
    (ec,) = eval_cases(load_suite(p))
    assert ec.prompt == "Q: why? (fr) hello why?"
    assert ec.system == "You speak fr."
    with pytest.raises(TargetError, match="sandbox"):
        render_template("{{ x.__class__.__mro__ }}", {"x": "s"})
    with pytest.raises(TargetError, match="undefined"):
        render_template("{{ nope }}", {})


def test_normalize_output_shapes() -> None:
    assert normalize_output("x").output == "x"
    out = normalize_output(
        {"output": "y", "retrieved": ["a", 2], "usage": {"prompt_tokens": 3}, "cost_usd": 0.5}
    )
    assert out.retrieved == ["a", "2"] and out.usage == {"prompt_tokens": 3} and out.cost_usd == 0.5

    class Obj:
        output = "z"
        context = "one passage"

    assert normalize_output(Obj()).context == ["one passage"]
    with pytest.raises(TargetError):
        normalize_output({"text": "no output key"})


def test_error_carries_location(tmp_path: Path) -> None:
    p = write(tmp_path, "e.eval.yaml", "cases:\n  - id: a\n    input: x\n    cluster: [1, 2]\n")
    with pytest.raises(EvalFileError) as exc:
        load_suite(p)
    err = exc.value
    assert (err.line, err.case_id, err.field) == (4, "a", "cluster")
    assert str(p) in str(err)


def test_gate_on_key_survives_yaml11(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "g.eval.yaml",
        "gates:\n  - {metric: pass_rate, min: 0.5, on: ci_low}\n  - {metric: x, max: 1, on: ci_high}\n"
        "cases: [{id: a, input: x}]\n",
    )
    gates = load_suite(p).spec.gates
    assert [g.on for g in gates] == ["ci_low", "ci_high"]
