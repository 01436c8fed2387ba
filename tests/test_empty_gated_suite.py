"""A suite with gates but no case is a collection error, not a suite that vanishes.

``cases: []``, an empty JSONL file, a header-only CSV or a ``limit: 0`` left the suite with
no case result, so it had no gate: beside a passing suite the run exited 0 ("Run passed"),
with only a warning that the file had no cases. A ``limit`` must now be at least 1.
"""

from __future__ import annotations

import json
import textwrap

import pytest

OTHER = textwrap.dedent(
    """
    suite: plain
    target: python:app:echo
    metrics: [exact]
    cases:
      - {id: c, input: z, expected: z}
    """
)

GATED = """
suite: gated
target: python:app:echo
metrics: [exact]
gates: [{{metric: pass_rate, min: 0.9}}]
{body}
"""


def _run(pytester: pytest.Pytester, body: str, **files: str) -> pytest.RunResult:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    for name, text in files.items():
        (pytester.path / name).write_text(text)
    pytester.makefile(".eval.yaml", gated=GATED.format(body=body), plain=OTHER)
    return pytester.runpytest()


@pytest.mark.parametrize(
    ("body", "files"),
    [
        ("cases: []", {}),
        ("dataset: rows.jsonl", {"rows.jsonl": ""}),
        ("dataset: rows.csv", {"rows.csv": "id,input,expected\n"}),
    ],
    ids=["no-cases", "empty-jsonl", "header-only-csv"],
)
def test_a_gated_suite_without_cases_fails_the_run(
    pytester: pytest.Pytester, body: str, files: dict[str, str]
) -> None:
    result = _run(pytester, body, **files)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*gated.eval.yaml:4*field 'gates'*has gates but no cases*"])
    results = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    errors = results["collection_errors"]
    assert len(errors) == 1 and "has gates but no cases" in errors[0]["message"]
    assert errors[0]["line"] == 4
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert "Run passed" not in summary


@pytest.mark.parametrize("limit", ["0", "-1", "true", "'2'"])
def test_a_dataset_limit_is_a_whole_number_of_at_least_one(
    pytester: pytest.Pytester, limit: str
) -> None:
    result = _run(
        pytester,
        f"dataset: {{path: rows.jsonl, limit: {limit}}}",
        **{"rows.jsonl": '{"id": "a", "input": "x", "expected": "x"}\n'},
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*gated.eval.yaml:5: field 'dataset.limit': *"])


def test_an_empty_suite_without_gates_still_only_warns(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml", empty="suite: e\ntarget: python:app:echo\ncases: []\n", plain=OTHER
    )
    result = pytester.runpytest()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*empty.eval.yaml has no cases*"])
