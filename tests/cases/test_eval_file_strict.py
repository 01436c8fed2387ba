"""Strict, early eval-file checks: text as written, typed metric options, labels, datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import Suite, load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(body)
    return p


def load(tmp_path: Path, body: str, name: str = "t.eval.yaml") -> Suite:
    return load_suite(write(tmp_path, name, body), known_metric=unknown_metric_problem)


# --------------------------------------------------------------------------- YAML text


@pytest.mark.parametrize(
    "written",
    [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "0123",
        "1:30",
        "1e3",
        "true",
        "False",
        "0x1F",
        "1_000",
        "12.50",
    ],
)
def test_text_fields_keep_the_scalar_as_written(tmp_path: Path, written: str) -> None:
    suite = load(
        tmp_path,
        f"""
cases:
  - id: {written}
    input: {written}
    expected: {written}
    context: [{written}]
    vars: {{v: {written}}}
    tags: [{written}]
    cluster: {written}
""",
    )
    case = suite.cases[0]
    assert case.id == written
    assert case.input == written
    assert case.expected == written
    assert case.context == [written]
    assert case.vars == {"v": written}
    assert case.tags == [written]
    assert case.cluster == written


@pytest.mark.parametrize("written", ["~", "null", ""])
def test_only_null_stays_empty(tmp_path: Path, written: str) -> None:
    suite = load(tmp_path, f"cases:\n  - id: a\n    input: x\n    expected: {written}\n")
    assert suite.cases[0].expected is None


def test_quoted_and_block_text_unchanged(tmp_path: Path) -> None:
    body = "cases:\n  - id: a\n    input: 'yes'\n    expected: |\n      on\n      0123\n"
    case = load(tmp_path, body).cases[0]
    assert (case.input, case.expected) == ("yes", "on\n0123\n")


def test_structured_input_keeps_yaml12_types(tmp_path: Path) -> None:
    body = "cases:\n  - id: a\n    input: {n: 3, ok: true, word: yes, t: 1:30}\n"
    case = load(tmp_path, body).cases[0]
    assert case.input == {"n": 3, "ok": True, "word": "yes", "t": "1:30"}


def test_text_metric_options_keep_the_text(tmp_path: Path) -> None:
    body = """
metrics:
  - contains: {value: yes}
  - icontains: {values: [on, 0123]}
  - not_contains: 1:30
cases:
  - id: a
    input: x
    metrics:
      - exact: {value: 1e3}
"""
    suite = load(tmp_path, body)
    by_name = {m.name: m.params for m in suite.metrics_for(suite.cases[0])}
    assert by_name["contains"] == {"value": "yes"}
    assert by_name["icontains"] == {"values": ["on", "0123"]}
    assert by_name["not_contains"] == {"value": "1:30"}
    assert by_name["exact"] == {"value": "1e3"}


def test_numeric_options_stay_numbers(tmp_path: Path) -> None:
    body = """
metrics:
  - rouge_l: {threshold: 1e-1, weight: 2}
  - hit_rate: {k: 3}
  - json_valid: {extract: true}
  - latency_ms: {max: 1500}
gates:
  - {metric: rouge_l, min: 0.6, on: ci_low}
cases: [{id: a, input: x}]
"""
    suite = load(tmp_path, body)
    m = {x.name: x for x in suite.spec.metrics}
    assert m["rouge_l"].threshold == 0.1 and m["rouge_l"].weight == 2
    assert m["hit_rate"].params == {"k": 3}
    assert m["json_valid"].params == {"extract": True}
    assert m["latency_ms"].max == 1500
    gate = suite.spec.gates[0]
    assert (gate.metric, gate.min, gate.on) == ("rouge_l", 0.6, "ci_low")


def test_on_is_a_key_everywhere(tmp_path: Path) -> None:
    # `on:` as a vars key is the text "on", not the boolean true.
    body = "cases:\n  - id: a\n    input: x\n    vars: {on: monday, yes: 1}\n"
    case = load(tmp_path, body).cases[0]
    assert case.vars == {"on": "monday", "yes": "1"}


def test_dataset_yaml_rows_keep_text(tmp_path: Path) -> None:
    write(tmp_path, "rows.yaml", "- {id: r1, input: on, expected: 0123}\n")
    suite = load(tmp_path, "dataset: rows.yaml\n")
    case = suite.cases[0]
    assert (case.input, case.expected) == ("on", "0123")


def test_yes_answer_passes_end_to_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        answers="target: python:app:echo\nmetrics: [exact]\ncases:\n"
        "  - {id: y, input: yes, expected: yes}\n"
        "  - {id: oct, input: 0123, expected: 0123}\n"
        "  - {id: time, input: 1:30, expected: 1:30}\n",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    data = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    assert sorted(c["expected"] for c in data["cases"]) == ["0123", "1:30", "yes"]


def test_project_support_file_reads_its_gate(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    suite = load_suite(root / "evals" / "support.eval.yaml")
    assert any(g.on == "ci_low" for g in suite.spec.gates)


def test_recursive_alias_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="invalid YAML"):
        load(tmp_path, "cases: &a [*a]\n")


# --------------------------------------------------------------------------- metric options


APP = "def echo(case):\n    return case.input\n"
GOOD = "target: python:app:echo\nmetrics: [exact]\ncases: [{id: ok, input: a, expected: a}]\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", good=GOOD)
    return pytester


def test_unknown_option_is_one_collection_error(project: pytest.Pytester) -> None:
    project.makefile(
        ".eval.yaml",
        typo="target: python:app:echo\ncases:\n"
        + "".join(
            f"  - id: c{i}\n    input: x\n    metrics:\n      - contains: {{valu: x}}\n"
            for i in range(3)
        ),
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*typo.eval.yaml:6: case 'c0', field 'metrics.contains.valu': unknown option 'valu' of "
            "metric 'contains'; valid options: value, values, mode, name, threshold, max, weight*"
        ]
    )
    assert "TypeError" not in result.stdout.str()


def test_misspelled_regex_option_in_suite_defaults(project: pytest.Pytester) -> None:
    project.makefile(
        ".eval.yaml",
        rx="target: python:app:echo\nmetrics:\n  - regex:\n      patern: '\\d+'\ncases: [{id: a, input: x}]\n",
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*rx.eval.yaml:4: field 'metrics.regex.patern': unknown option 'patern' of metric 'regex'; valid options: pattern, value, flags, fullmatch*"
        ]
    )


@pytest.mark.parametrize(
    ("entry", "field", "says"),
    [
        ("hit_rate: {k: many}", "metrics.hit_rate.k", "must be a whole number"),
        ("hit_rate: {k: 0}", "metrics.hit_rate.k", "greater than or equal to 1"),
        ("contains: {mode: some}", "metrics.contains.mode", "'all' or 'any'"),
        ("regex: {pattern: a, flags: q}", "metrics.regex.flags", "should match pattern"),
        ("rouge_l: {score: f1}", "metrics.rouge_l.score", "'fmeasure', 'precision' or 'recall'"),
        ("json_valid: {extract: maybe}", "metrics.json_valid.extract", "valid boolean"),
        ("judge: {scale: [5, 1]}", "metrics.judge", "scale must rise"),
        ("judge: {rubric: a, criteria: b}", "metrics.judge", "not both"),
        ("latency_ms: {limit: 5}", "metrics.latency_ms.limit", "unknown option 'limit'"),
        ("contains: {value: ''}", "metrics.contains.value", "nothing to look for"),
        ("contains: {values: []}", "metrics.contains.values", "nothing to look for"),
        ("icontains: {values: [a, '']}", "metrics.icontains.values", "nothing to look for"),
        ("not_contains: {value: ''}", "metrics.not_contains.value", "nothing to look for"),
    ],
)
def test_mistyped_options_name_metric_and_option(
    tmp_path: Path, entry: str, field: str, says: str
) -> None:
    body = f"cases:\n  - id: a\n    input: x\n    metrics:\n      - {entry}\n"
    with pytest.raises(EvalFileError) as exc:
        load(tmp_path, body)
    err = exc.value
    assert (err.case_id, err.field, err.line) == ("a", field, 5)
    assert says in err.message
    assert "valid options:" in err.message


def test_options_valid_for_every_builtin(tmp_path: Path) -> None:
    body = """
metrics:
  - exact: {ignore_case: true, case: false}
  - contains: {values: [a, b], mode: any}
  - not_contains: {value: z, ignore_case: yes}
  - regex: {pattern: 'x', flags: im, fullmatch: false}
  - json_schema: {schema: {type: object}, extract: true}
  - levenshtein: {ignore_case: true}
  - rouge_2: {use_stemmer: true, tokenizer: unicode, score: recall}
  - bleu: {smooth_method: floor, smooth_value: 0.2, tokenize: none, lowercase: true}
  - judge: {rubric: Polite?, score_range: [0, 10], samples: 2, model: m}
  - pairwise: {criteria: better?, against: 'model:x'}
  - faithfulness: {reasks: 1}
  - answer_relevance: {questions: 2}
  - semantic_similarity: {value: hi}
  - faithfulness_offline: {support: 0.5}
  - ndcg_at_k: {k: 5}
cases: [{id: a, input: x}]
"""
    spec = load(tmp_path, body).spec
    params = {m.name: m.params for m in spec.metrics}
    assert params["judge"] == {"criteria": "Polite?", "scale": [0, 10], "samples": 2, "model": "m"}
    assert params["json_schema"] == {"schema": {"type": "object"}, "extract": True}
    assert params["not_contains"] == {"value": "z", "ignore_case": True}


def test_custom_metrics_accept_any_or_declare_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app=APP,
        conftest="""
from pytest_mleval import metric
from pytest_mleval.metrics.registry import MetricOptions

class LenOptions(MetricOptions):
    at_most: int = 10

@metric("short", threshold=1.0, options=LenOptions)
def short(sample, at_most=10):
    return float(len(sample.output) <= at_most)

@metric("anything", threshold=1.0)
def anything(sample, **params):
    assert params == {"flag": True, "word": "yes", "n": 3}, params
    return 1.0
""",
    )
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        ok="target: python:app:echo\nmetrics:\n  - short: {at_most: 3}\n"
        "  - anything: {flag: true, word: yes, n: 3}\ncases: [{id: a, input: abc}]\n",
        bad="target: python:app:echo\nmetrics:\n  - short: {at_mots: 3}\ncases: [{id: a, input: abc}]\n",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*bad.eval.yaml:3: field 'metrics.short.at_mots': unknown option 'at_mots'*valid options: at_most, name, threshold*"
        ]
    )


def test_options_given_from_python_are_checked_too() -> None:
    from pytest_mleval.metrics.registry import Sample, score_metric

    bad = score_metric("contains", Sample(output="x"), params={"valu": "x"})
    assert bad.passed is False and bad.error is not None
    assert "unknown option 'valu'" in bad.error and "TypeError" not in bad.error


# --------------------------------------------------------------------------- labels


def test_same_metric_twice_needs_labels(tmp_path: Path) -> None:
    body = "cases:\n  - id: a\n    input: x\n    metrics:\n      - contains: refund\n      - contains: days\n"
    with pytest.raises(EvalFileError) as exc:
        load(tmp_path, body)
    err = exc.value
    assert (err.line, err.case_id, err.field) == (6, "a", "metrics")
    assert "listed twice" in err.message and "name:" in err.message


def test_same_metric_twice_in_suite_defaults(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="'rouge_l' is listed twice"):
        load(tmp_path, "metrics: [rouge_l, bleu, rouge_l]\ncases: [{id: a, input: x}]\n")


def test_case_overriding_a_suite_metric_is_fine(tmp_path: Path) -> None:
    body = "metrics: [contains]\ncases:\n  - id: a\n    input: x\n    metrics: [{contains: {value: y}}]\n"
    suite = load(tmp_path, body)
    merged = suite.metrics_for(suite.cases[0])
    assert [(m.name, m.params) for m in merged] == [("contains", {"value": "y"})]


def test_labelled_metrics_score_separately(project: pytest.Pytester) -> None:
    project.makefile(
        ".eval.yaml",
        lab="target: python:app:echo\ncases:\n  - id: a\n    input: refund in 30 days\n    metrics:\n"
        "      - contains: {name: has-refund, value: refund}\n"
        "      - {metric: contains, name: has-days, value: weeks}\n",
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    data = json.loads((project.path / "reports" / "mleval-results.json").read_text())
    case = next(c for c in data["cases"] if c["case_id"] == "a")
    assert case["scores"]["has-refund"]["score"] == 1.0
    assert case["scores"]["has-days"]["score"] == 0.0


def test_every_builtin_declares_options_matching_its_function() -> None:
    import inspect

    from pytest_mleval.metrics.registry import get_metric, metric_names

    aliases = {"rubric", "score_range"}  # other spellings, moved to criteria / scale
    builtins = [n for n in metric_names() if get_metric(n).builtin]
    assert {"exact", "judge", "semantic_similarity", "hit_rate"} <= set(builtins)
    for name in builtins:
        mdef = get_metric(name)
        model = mdef.options_model()
        assert model is not None, f"{name} has no options model"
        params = {
            p.name
            for p in inspect.signature(mdef.resolve()).parameters.values()
            if p.kind is p.KEYWORD_ONLY
        }
        assert set(model.option_names()) - aliases == params, name


# --------------------------------------------------------------------------- JSON Schema


def _cases_schema(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    from pytest_mleval.cli import main

    assert main(["schema", "cases"]) == 0
    schema: dict[str, object] = json.loads(capsys.readouterr().out)
    return schema


def _as_an_editor_reads(path: Path) -> object:
    # What a YAML 1.2 editor sees: the loader's data with every option by its typed reading.
    from pytest_mleval.cases._yaml import SUITE_SHAPE as _SUITE_SHAPE
    from pytest_mleval.cases._yaml import read_yaml as _read_yaml
    from pytest_mleval.metrics.base import typed_reading as _typed

    data, _ = _read_yaml(path, _SUITE_SHAPE)
    return _typed(data)


def test_schema_validates_every_shipped_eval_file(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema
    import yaml

    from pytest_mleval.retrieval.config import RagConfig

    schema = _cases_schema(capsys)
    validator = jsonschema.Draft202012Validator(schema)
    repo = Path(__file__).resolve().parents[2]
    root = repo / "evals"
    # Every name collection picks up by default, in evals/ and in the examples users copy.
    patterns = ("*.eval.yaml", "*.eval.yml", "eval_*.yaml", "eval_*.yml")
    eval_files = sorted(
        {f for d in (root, repo / "examples") for p in patterns for f in d.rglob(p)}
    )
    assert len([f for f in eval_files if f.is_relative_to(root)]) >= 4
    assert any(f.is_relative_to(repo / "examples" / "agent") for f in eval_files)
    for f in eval_files:
        errors = [e.message for e in validator.iter_errors(_as_an_editor_reads(f))]
        assert errors == [], f
    rag_schema = jsonschema.Draft202012Validator(RagConfig.model_json_schema())
    rag_files = sorted((root / "rag").glob("*.yaml"))
    assert rag_files
    for f in rag_files:
        assert [e.message for e in rag_schema.iter_errors(yaml.safe_load(f.read_text()))] == [], f


@pytest.mark.parametrize(
    "metrics",
    [
        ["rouge_z"],
        [{"contains": {"valu": "x"}}],
        [{"regex": {"patern": "x"}}],
        [{"hit_rate": {"k": "three"}}],
        [{"name": "contains", "valu": "x"}],
        [{"metric": "rouge_l", "name": "r", "score": "f1"}],
    ],
)
def test_schema_rejects_unknown_metrics_and_options(
    capsys: pytest.CaptureFixture[str], metrics: list[object]
) -> None:
    import jsonschema

    schema = _cases_schema(capsys)
    good = {"metrics": ["exact"], "cases": [{"id": "a", "input": "x", "metrics": ["rouge_l"]}]}
    jsonschema.validate(good, schema)
    for bad in (
        {**good, "metrics": metrics},
        {"cases": [{"id": "a", "input": "x", "metrics": metrics}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_schema_lets_an_editor_complete_names_and_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = _cases_schema(capsys)
    defs = schema["$defs"]
    assert isinstance(defs, dict)
    items = defs["MetricList"]["items"]["anyOf"]
    assert "rouge_l" in items[0]["enum"] and "judge" in items[0]["enum"]
    judge = defs["options.judge"]["properties"]
    assert {"rubric", "criteria", "scale", "score_range", "name", "threshold"} <= set(judge)
    assert "integer scale" in defs["options.judge"]["properties"]["scale"]["description"].lower()
    custom = {"metrics": [{"python:app:score": {"anything": 1}}, "python:app:other"]}
    import jsonschema

    jsonschema.validate(custom, schema)


# --------------------------------------------------------------------------- empty files


@pytest.mark.parametrize("body", ["", "# nothing yet\n", "suite: later\ntarget: python:app:echo\n"])
def test_empty_eval_file_warns_naming_the_file(project: pytest.Pytester, body: str) -> None:
    project.makefile(".eval.yaml", empty=body)
    result = project.runpytest("-W", "default")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*EvalFileWarning: eval file empty.eval.yaml has no cases*"])


def test_empty_eval_file_can_be_made_an_error(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", empty="")
    result = project.runpytest("-W", "error::pytest_mleval.collect.EvalFileWarning")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*eval file empty.eval.yaml has no cases*"])


# --------------------------------------------------------------------------- dataset rows


@pytest.mark.parametrize(
    ("csv_text", "line", "says"),
    [
        ('question,answer\nq1,"a1\nq2,a2\nq3,a3\n', 2, "unterminated quote"),
        ("question,answer\nq1,a1\nq2\nq3,a3\n", 3, "1 field(s) where the header has 2"),
        ("question,answer\nq1,a1,extra\n", 2, "3 field(s) where the header has 2"),
    ],
)
def test_malformed_csv_row_is_a_dataset_error(
    tmp_path: Path, csv_text: str, line: int, says: str
) -> None:
    data = write(tmp_path, "rows.csv", csv_text)
    body = "dataset:\n  path: rows.csv\n  mapping: {input: question, expected: answer}\n"
    with pytest.raises(EvalFileError) as exc:
        load(tmp_path, body)
    err = exc.value
    assert (err.path, err.line) == (str(data), line)
    assert says in err.message and "malformed CSV row" in err.message


def test_csv_with_quoted_newlines_and_blank_lines_still_loads(tmp_path: Path) -> None:
    write(tmp_path, "rows.csv", 'question,answer\n"multi\nline",a1\n\nq2,yes\n')
    suite = load(
        tmp_path, "dataset:\n  path: rows.csv\n  mapping: {input: question, expected: answer}\n"
    )
    cases = suite.cases
    assert [(c.input, c.expected) for c in cases] == [("multi\nline", "a1"), ("q2", "yes")]


def test_malformed_jsonl_line_is_a_dataset_error(tmp_path: Path) -> None:
    data = write(tmp_path, "rows.jsonl", '{"input": "a"}\n{"input": "b",\n{"input": "c"}\n')
    with pytest.raises(EvalFileError) as exc:
        load(tmp_path, "dataset: rows.jsonl\n")
    assert (exc.value.path, exc.value.line) == (str(data), 2)
    assert "invalid JSON" in exc.value.message


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("rows.csv", "id,input,expected\r\nq1,a,yes\r\nq2,b,0123\r\n"),
        (
            "rows.jsonl",
            '{"id": "q1", "input": "a", "expected": "yes"}\r\n'
            '{"id": "q2", "input": "b", "expected": "0123"}\r\n',
        ),
        (
            "rows.json",
            '[{"id": "q1", "input": "a", "expected": "yes"},'
            ' {"id": "q2", "input": "b", "expected": "0123"}]',
        ),
        (
            "rows.yaml",
            "- {id: q1, input: a, expected: yes}\n- {id: q2, input: b, expected: 0123}\n",
        ),
    ],
)
def test_dataset_saved_with_a_byte_order_mark_keeps_its_first_column(
    tmp_path: Path, name: str, rows: str
) -> None:
    # Excel and Windows editors save "UTF-8" with a BOM: read raw, the CSV header's first
    # column became "\ufeffid", so every case silently lost its id (and JSONL failed).
    (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + rows.encode())
    suite = load(tmp_path, f"dataset: {name}\n")
    assert [(c.id, c.input, c.expected) for c in suite.cases] == [
        ("q1", "a", "yes"),
        ("q2", "b", "0123"),
    ]


def test_eval_file_and_labels_with_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_bytes(b"\xef\xbb\xbfid,exact\nq1,1\n")
    body = (
        "suite: s\nmetrics: [exact]\n"
        "labels: [{metric: exact, path: labels.csv}]\n"
        "cases: [{id: q1, input: a, expected: yes}]\n"
    )
    (tmp_path / "t.eval.yaml").write_bytes(b"\xef\xbb\xbf" + body.encode())
    suite = load_suite(tmp_path / "t.eval.yaml", known_metric=unknown_metric_problem)
    assert suite.name == "s"
    assert [(c.id, c.expected) for c in suite.cases] == [("q1", "yes")]
    assert [(ls.metric, ls.values) for ls in suite.labels] == [("exact", {"q1": 1.0})]


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.json"])
def test_json_numbers_in_text_fields_keep_the_text_as_written(tmp_path: Path, name: str) -> None:
    # json.loads reads 12.50 as 12.5 and 1e3 as 1000.0, so `exact` compared the output with
    # "1000.0"; a text field keeps what the file says, as in YAML. Other fields keep types.
    rows = [
        '{"id": "a", "input": 1e3, "expected": 12.50, "context": [1.0E2, "x"], "n": 2.50}',
        '{"id": "b", "input": "q", "expected": [0.10, 7], "metadata": {"w": 1e3}}',
    ]
    text = "\n".join(rows) if name.endswith("l") else "[" + ",".join(rows) + "]"
    write(tmp_path, name, text)
    a, b = load(tmp_path, f"dataset: {name}\n").cases
    assert (a.input, a.expected, a.context) == ("1e3", "12.50", ["1.0E2", "x"])
    assert a.vars == {"n": 2.5} and type(a.vars["n"]) is float
    assert b.expected == ["0.10", 7]
    assert b.metadata == {"w": 1000.0} and type(b.metadata["w"]) is float


def test_json_float_expected_passes_end_to_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def answer(case):\n    return '12.50'\n")
    pytester.path.joinpath("rows.jsonl").write_text(
        '{"id": "a", "input": "q", "expected": 12.50}\n'
    )
    pytester.path.joinpath("t.eval.yaml").write_text(
        "suite: s\ntarget: python:app:answer\nmetrics: [exact]\ndataset: rows.jsonl\n"
    )
    pytester.syspathinsert()
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_blank_csv_expected_is_no_expected_not_empty_text(pytester: pytest.Pytester) -> None:
    # A row without an answer yet read as expected == "", so a target that returned "" (it
    # swallowed an exception) passed `exact`. A blank cell is a missing expected, as in YAML.
    pytester.makepyfile(app="def answer(case):\n    return ''\n")
    pytester.path.joinpath("rows.csv").write_text("id,question,answer\na,q1,\nb,q2,yes\n")
    pytester.path.joinpath("t.eval.yaml").write_text(
        "suite: s\ntarget: python:app:answer\nmetrics: [exact]\n"
        "dataset: {path: rows.csv, mapping: {input: question, expected: answer}}\n"
    )
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["case s::a errored", "*exact*error*needs `expected`*"])


def test_bad_dataset_is_one_collection_error_others_run(project: pytest.Pytester) -> None:
    (project.path / "rows.csv").write_text('input,expected\na,a\nb,"b\nc,c\n')
    project.makefile(
        ".eval.yaml", ds="target: python:app:echo\nmetrics: [exact]\ndataset: rows.csv\n"
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*rows.csv:3: malformed CSV row: a quoted field is never closed*"])


# --------------------------------------------------------------------------- reference page


def test_metrics_reference_page_is_generated_and_current() -> None:
    from pytest_mleval.cli.metrics_doc import metrics_markdown
    from pytest_mleval.metrics.registry import get_metric, metric_names

    page = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
    generated = metrics_markdown()
    assert page.read_text(encoding="utf-8") == generated, (
        "docs/metrics.md is out of date: run scripts/gen_metrics_doc.py"
    )
    for name in metric_names():
        if get_metric(name).builtin:
            assert f"### `{name}`" in generated
    assert "| `rubric` |" in generated and "| `score_range` |" in generated
    assert "(answer - low) / (high - low)" in generated


def test_anchors_merge_keys_and_tags_still_work(tmp_path: Path) -> None:
    body = """
cases:
  - &base {id: a, input: on, vars: {lang: en}}
  - <<: *base
    id: b
    expected: 0123
    metadata: {blob: !!binary aGVsbG8=, n: 0x10}
"""
    first, second = load(tmp_path, body).cases
    assert (first.input, second.input, second.vars) == ("on", "on", {"lang": "en"})
    assert second.expected == "0123"
    assert second.metadata == {"blob": b"hello", "n": 16}


def test_schema_accepts_unquoted_text_an_editor_reads_as_a_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import jsonschema
    import yaml

    body = (
        "metrics:\n  - contains: {value: 30}\n  - hit_rate: {k: 3}\n"
        "cases:\n  - {id: 1, input: 0123, expected: yes, tags: [2024], cluster: 7}\n"
    )
    schema = _cases_schema(capsys)
    # An editor's YAML reading (numbers and booleans) and collection's (text) both validate.
    jsonschema.validate(yaml.safe_load(body), schema)
    jsonschema.validate(_as_an_editor_reads(write(tmp_path, "n.eval.yaml", body)), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"metrics": [{"hit_rate": {"k": "3"}}]}, schema)


def test_no_yaml_reading_is_left_in_loaded_options(tmp_path: Path) -> None:
    from pytest_mleval.metrics.registry import SourceScalar

    body = "metrics:\n  - icontains: {values: [on, 0123], mode: any}\n  - python:x:y: {n: [1, 2]}\ncases: [{id: a, input: x}]\n"
    spec = load_suite(write(tmp_path, "s.eval.yaml", body)).spec

    def walk(v: object) -> None:
        assert not isinstance(v, SourceScalar), v
        for item in v.values() if isinstance(v, dict) else v if isinstance(v, list) else []:
            walk(item)

    for m in spec.metrics:
        walk(m.params)
    assert spec.metrics[1].params == {"n": [1, 2]}


def test_custom_options_model_that_raises_is_one_collection_error(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(
        """
from pydantic import model_validator
from pytest_mleval import metric
from pytest_mleval.metrics.registry import MetricOptions

class Touchy(MetricOptions):
    level: int = 1

    @model_validator(mode="after")
    def _boom(self):
        raise RuntimeError("touchy options model")

@metric("touchy", options=Touchy)
def touchy(sample, level=1):
    return 1.0
"""
    )
    project.makefile(
        ".eval.yaml",
        t="target: python:app:echo\nmetrics:\n  - touchy: {level: 2}\ncases: [{id: a, input: x}]\n",
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*t.eval.yaml:3: field 'metrics.touchy': options of metric 'touchy' cannot be checked: RuntimeError: touchy options model*"
        ]
    )
