"""Bounded templates: eval-file templates are untrusted input.

A rendered prompt, system message or var over the size limit, or a render over the time
limit, is an error of that case (refused before it allocates, never a hang); ``include``,
``import`` and ``extends`` are refused with one line naming the file, case and field; and no
huge output reaches the results or the report (it is stored truncated, with its full length
and SHA-256).
"""

from __future__ import annotations

import hashlib
import json

import pytest

from pytest_mleval.errors import TargetError
from pytest_mleval.targets.templates import TemplateLimits, check_template, render_template

APP = """
def echo(case):
    return case.text

def long(case):
    return "x" * 300_000 + " END"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    return pytester


def suite(prompt: str, cases: str = "", target: str = "python:app:echo") -> str:
    # Single-quoted YAML keeps the template's double quotes as they are.
    prompt_yaml = "'" + prompt.replace("'", "''") + "'"
    return (
        f"suite: t\ntarget: {target}\nprompt: {prompt_yaml}\nmetrics: [{{contains: {{value: a}}}}]\n"
        f"cases:\n  - {{id: ok, input: a}}\n{cases}"
    )


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "mleval-results.json").read_text())


def case_of(pytester: pytest.Pytester, case_id: str) -> dict:
    return next(c for c in results(pytester)["cases"] if c["case_id"] == case_id)


def no_traceback(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text and "jinja2/" not in text, text[-3000:]


def test_huge_string_multiplication_is_an_error_of_its_case(project: pytest.Pytester) -> None:
    cases = "  - {id: huge, input: a, vars: {pad: \"{{ 'A' * 1000000000 }}\"}}\n"
    project.makefile(".eval.yaml", t=suite("{{ input }}{{ vars.pad | default('') }}", cases))
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*case t::huge errored: EvalCaseError: t.eval.yaml: case 'huge', field 'vars.pad': "
            "template refused: str * 1000000000 would be 1,000,000,000 characters, over the "
            "limit of 1,000,000 (mleval_max_prompt_chars)*"
        ]
    )
    no_traceback(result)
    huge = case_of(project, "huge")
    assert huge["error"] and huge["output"] is None and not huge["passed"]
    # Nothing huge was written.
    reports = project.path / "reports"
    assert (reports / "mleval-results.json").stat().st_size < 200_000
    assert (reports / "mleval-report.html").stat().st_size < 2_000_000


def test_huge_prompt_is_refused_before_a_model_call(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", t=suite("{{ input }}{{ 'A' * 10**9 }}"))
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*case 'ok', field 'prompt': template refused: *"])
    no_traceback(result)


@pytest.mark.parametrize(
    ("template", "tag"),
    [
        ("{% include 'secrets.txt' %}", "include"),
        ("{% import 'macros.j2' as m %}{{ input }}", "import"),
        ("{% from 'macros.j2' import m %}{{ input }}", "from ... import"),
        ("{% extends 'base.j2' %}", "extends"),
    ],
)
def test_include_import_extends_are_refused_in_one_line(
    project: pytest.Pytester, template: str, tag: str
) -> None:
    (project.path / "secrets.txt").write_text("TOP SECRET")
    # In a case var: an error of that case, naming file, case and field; other cases run.
    var = template.replace('"', '\\"')
    cases = f'  - {{id: inc, input: a, vars: {{v: "{var}"}}}}\n'
    project.makefile(".eval.yaml", t=suite("{{ input }}", cases))
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*case t::inc errored: EvalCaseError: t.eval.yaml: case 'inc', field 'v*"
            f"template refused by the sandbox: `{{% {tag} %}}` (line 1) is not allowed*"
        ]
    )
    no_traceback(result)
    assert "TOP SECRET" not in result.stdout.str()
    # In the suite's prompt: one error for the file, naming it and the field.
    project.makefile(".eval.yaml", t=suite(template))
    result = project.runpytest()
    result.stdout.fnmatch_lines(
        [f"*t.eval.yaml: field 'prompt': template refused by the sandbox: `{{% {tag} %}}`*"]
    )
    no_traceback(result)


def test_huge_range_is_an_error_of_its_case(project: pytest.Pytester) -> None:
    cases = '  - {id: big, input: a, vars: {n: "{{ range(10**8) | list | length }}"}}\n'
    project.makefile(".eval.yaml", t=suite("{{ input }} {{ vars.n | default('') }}", cases))
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*case 'big', field 'vars.n': template refused: range() of 100,000,000 items is "
            "refused (the most is 100,000)*"
        ]
    )
    no_traceback(result)


def test_render_over_the_time_limit_is_an_error_of_its_case(project: pytest.Pytester) -> None:
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    cases = f'  - {{id: slow, input: a, vars: {{v: "{loops}"}}}}\n'
    project.makefile(".eval.yaml", t=suite("{{ input }}", cases))
    result = project.runpytest("--mleval-render-timeout", "0.2")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*case 'slow', field 'v*': template refused: rendering took longer than 0.2 s*"]
    )
    no_traceback(result)


def test_size_limit_is_an_option_with_an_ini_twin(project: pytest.Pytester) -> None:
    cases = (
        "  - {id: short, input: a, vars: {w: 30}}\n"  # 31 characters: within 40
        "  - {id: long, input: a, vars: {w: 60}}\n"  # 61 characters: over 40
    )
    project.makefile(
        ".eval.yaml", t=suite("{{ input }}{{ '-' * (vars.w | default(0) | int) }}", cases)
    )
    result = project.runpytest("--mleval-max-prompt-chars", "40")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*case 'long', field 'prompt': *over the limit of 40*"])
    project.makeini("[pytest]\nmleval_max_prompt_chars = 40\n")
    project.runpytest().assert_outcomes(passed=2, errors=1)
    project.makeini("[pytest]\nmleval_max_prompt_chars = 100\n")
    project.runpytest().assert_outcomes(passed=3)


def test_long_output_is_stored_truncated_with_its_length_and_hash(
    project: pytest.Pytester,
) -> None:
    body = (
        "suite: t\ntarget: python:app:long\n"
        "metrics: [{contains: {value: END}}]\ncases: [{id: big, input: a}]\n"
    )
    project.makefile(".eval.yaml", t=body)
    result = project.runpytest()
    # The metric scored the whole output: its end is past the stored part.
    result.assert_outcomes(passed=1)
    full = "x" * 300_000 + " END"
    case = case_of(project, "big")
    assert case["output_chars"] == len(full)
    assert case["output_sha256"] == hashlib.sha256(full.encode()).hexdigest()
    assert case["output"].startswith("x" * 100_000)
    assert "truncated: 300,004 characters" in case["output"] and len(case["output"]) < 100_200
    report = (project.path / "reports" / "mleval-report.html").stat().st_size
    assert report < 1_000_000
    project.runpytest("--mleval-max-output-chars", "1000").assert_outcomes(passed=1)
    case = case_of(project, "big")
    assert case["output_chars"] == len(full) and len(case["output"]) < 1200


def test_short_output_is_stored_whole(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", t=suite("{{ input }}"))
    project.runpytest().assert_outcomes(passed=1)
    case = case_of(project, "ok")
    assert case["output"] == "a" and case["output_chars"] is None
    assert case["output_sha256"] is None


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'A' * 1000000000 }}",
        "{{ [0] * 1000000000 }}",
        "{{ 10 ** (10 ** 10) }}",
        "{{ 'x' | center(1000000000) }}",
        "{{ 'x'.center(1000000000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 'x' | indent(1000000000) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '%999999999s' % 'x' }}",
        "{{ '%999999999s' | format('x') }}",
        "{{ 'AAAA' | replace('A', 'B' * 1000000) }}",
        "{{ 'AAAA'.replace('A', 'B' * 1000000) }}",
        "{{ (['A' * 1000000] * 1000000) | join('') }}",
        "{{ ''.join(['A' * 1000000] * 1000000) }}",
        "{{ ['A' * 1000000] * 1000000 }}",
        "{% set ns = namespace(a='A') %}{% for i in range(40) %}{% set ns.a = ns.a ~ ns.a %}"
        "{% endfor %}{{ ns.a }}",
        "{% for i in range(1000) %}{{ 'A' * 1000 }}{% endfor %}{{ 'A' * 1000 }}",
        "{{ range(10**8) | list }}",
        "{{ lipsum(100000) }}",
        "{{ [1, 2] | sum(start=[]) }}",
        "{{ [1] | batch(1000000000, 0) | list }}",
    ],
)
def test_sandbox_refuses_huge_results_before_building_them(template: str) -> None:
    with pytest.raises(TargetError, match="template refused") as info:
        render_template(template, {}, TemplateLimits(max_chars=1_000_000, timeout_s=None))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in 'x' * 100000 %}{{ '' }}{% endfor %}{% endfor %}",
    ],
)
def test_sandbox_stops_a_render_at_its_time_limit(template: str) -> None:
    with pytest.raises(TargetError, match=r"rendering took longer than 0\.1 s"):
        render_template(template, {}, TemplateLimits(timeout_s=0.1))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Say: {{ input }}", "Say: hi"),
        (
            "{% for x in items %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% endfor %}",
            "1/3:1 2/3:2 3/3:3 ",
        ),
        ("{{ items | join('-') }} {{ 'a' ~ 'b' ~ 1 }}", "1-2-3 ab1"),
        (
            "{{ '%s-%d' % ('a', 3) }} {{ '{}!'.format(input) }} {{ '%-5s|' % 'ab' }}",
            "a-3 hi! ab   |",
        ),
        ("{{ 'x' * 3 }}{{ [1] * 2 }}{{ 2 ** 10 }}{{ input | center(6) }}", "xxx[1, 1]1024  hi  "),
        ("{% for i in range(3) %}{{ i }}{% else %}none{% endfor %}", "012"),
        ("{{ items | sum }} {{ items | batch(2) | list }}", "6 [[1, 2], [3]]"),
        ("{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(input) }}", "<hi>"),
    ],
)
def test_ordinary_templates_render_as_before(template: str, expected: str) -> None:
    assert render_template(template, {"input": "hi", "items": [1, 2, 3]}) == expected


def test_other_template_errors_are_one_line_target_errors() -> None:
    for template, message in [
        ("{{ 1 / 0 }}", "template error: ZeroDivisionError: division by zero"),
        ("{{ nothing }}", "template error: 'nothing' is undefined"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "recursion too deep"),
        ("{{ 10.0 ** 1000 }}", "template error: OverflowError"),
    ]:
        with pytest.raises(TargetError, match=message):
            render_template(template, {})


def test_check_template_refuses_loader_tags() -> None:
    assert check_template("{{ input }}") is None
    problem = check_template("a\n{% include 'x' %}")
    assert problem is not None and "`{% include %}` (line 2) is not allowed" in problem
    syntax = check_template("{{ input ")
    assert syntax is not None and syntax.startswith("template syntax error")
