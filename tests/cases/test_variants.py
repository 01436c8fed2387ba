"""Variants in an eval file: expansion of `variants:` and `matrix:`, and their load errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import Suite, load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem


def _load(tmp_path: Path, body: str) -> Suite:
    path = tmp_path / "v.eval.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return load_suite(path, known_metric=unknown_metric_problem)


BASE = """
suite: sums
target: model:openai/gpt-4o-mini
prompt: "Summarise: {{ input }}"
params: {temperature: 0, max_tokens: 64}
gates:
  - {metric: pass_rate, min: 0.5}
cases: [{id: c, input: x, metrics: [{contains: {value: x}}]}]
"""


def test_named_variants_override_and_merge(tmp_path: Path) -> None:
    suite = _load(
        tmp_path,
        BASE
        + """
variants:
  - {name: mini}
  - {name: big, model: openai/gpt-4o}
  - {name: terse, prompt: "One sentence: {{ input }}", params: {temperature: 0.7}}
  - {name: local, target: "python:app:echo", api_base: "http://127.0.0.1:9/v1"}
""",
    )
    runs = {s.variant: s for s in suite.expand()}
    assert list(runs) == ["mini", "big", "terse", "local"]
    assert runs["mini"].name == "sums[mini]" and runs["mini"].variant_of == "sums"
    assert runs["mini"].spec.target == "model:openai/gpt-4o-mini"
    assert runs["big"].spec.target == "model:openai/gpt-4o"
    assert runs["terse"].spec.prompt == "One sentence: {{ input }}"
    assert runs["terse"].spec.params == {"temperature": 0.7, "max_tokens": 64}
    assert runs["local"].spec.target == "python:app:echo"
    assert runs["local"].spec.api_base == "http://127.0.0.1:9/v1"
    assert all(len(s.spec.gates) == 1 for s in runs.values())
    assert [s.variant for s in suite.expand({"big", "local"})] == ["big", "local"]


def test_a_suite_without_variants_runs_as_itself(tmp_path: Path) -> None:
    suite = _load(tmp_path, BASE)
    assert suite.expand() == [suite] and suite.variant is None


def test_matrix_is_the_product_of_its_axes(tmp_path: Path) -> None:
    suite = _load(
        tmp_path,
        BASE
        + """
matrix:
  model: [openai/gpt-4o-mini, openai/gpt-4o]
  prompt: {plain: "{{ input }}", brief: "Briefly: {{ input }}"}
""",
    )
    runs = suite.expand()
    assert [s.variant for s in runs] == [
        "gpt-4o-mini+plain",
        "gpt-4o-mini+brief",
        "gpt-4o+plain",
        "gpt-4o+brief",
    ]
    assert runs[3].spec.target == "model:openai/gpt-4o"
    assert runs[3].spec.prompt == "Briefly: {{ input }}"


def test_matrix_keeps_full_model_ids_when_short_ones_collide(tmp_path: Path) -> None:
    suite = _load(tmp_path, BASE + "matrix:\n  model: [openai/llama3, ollama/llama3]\n")
    assert [s.variant for s in suite.expand()] == ["openai/llama3", "ollama/llama3"]


def test_reference_only_gates(tmp_path: Path) -> None:
    suite = _load(
        tmp_path,
        BASE
        + """
variants: [{name: a}, {name: b, model: openai/gpt-4o}]
reference: a
variant_gates: reference
""",
    )
    gates = {s.variant: len(s.spec.gates) for s in suite.expand()}
    assert gates == {"a": 1, "b": 0}


@pytest.mark.parametrize(
    ("extra", "line", "problem"),
    [
        (
            "variants:\n  - {name: a}\n  - {name: b}\n  - {name: a, model: openai/gpt-4o}\n",
            11,
            "two variants are named 'a' (first at line 9)",
        ),
        ("matrix:\n  model: []\n", 9, "matrix axis 'model' is empty"),
        ("matrix:\n  colour: [red]\n", 9, "matrix axis 'colour' is not one of"),
        ("variants:\n  - {name: a, temprature: 0.2}\n", 9, "unknown field"),
        ("variants:\n  - {name: 'bad name'}\n", 9, "must be 1-80 letters"),
        ("variants: [{name: a}]\nreference: z\n", 9, "`reference:` 'z' is not a variant"),
        (
            "matrix:\n  params: [1, 2]\n",
            9,
            "variant '1': params: Input should be a valid dictionary",
        ),
        ("matrix:\n  params: [{t: 1}]\n", 9, "needs a name; write the axis as a mapping"),
        ("variants: [{name: a}]\nmatrix: {model: [b]}\n", 9, "not both"),
    ],
)
def test_bad_variants_name_the_file_line_and_variant(
    tmp_path: Path, extra: str, line: int, problem: str | None
) -> None:
    if problem is None:
        _load(tmp_path, BASE + extra)  # scalar params values are names of themselves
        return
    with pytest.raises(EvalFileError) as info:
        _load(tmp_path, BASE + extra)
    text = info.value.describe()
    assert problem in text, text
    assert f"v.eval.yaml:{line}" in text, text


def test_a_model_override_needs_a_model_target(tmp_path: Path) -> None:
    body = BASE.replace("target: model:openai/gpt-4o-mini", "target: python:app:echo")
    with pytest.raises(EvalFileError) as info:
        _load(tmp_path, body + "variants:\n  - {name: a}\n  - {name: b, model: openai/gpt-4o}\n")
    assert "variant 'b' sets `model:`, but its target is 'python:app:echo'" in str(info.value)
    assert info.value.line == 10 and info.value.field == "variants[1].model"
