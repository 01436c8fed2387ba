"""A secret in what a user's target raises never reaches an output.

Before: a target whose HTTP client raised with its key in the message (``?key=...``, an
``sk-...`` key, the value of an environment variable named ``*_TOKEN``) had that text in the
terminal's failure report and short summary, the results JSON, the Markdown summary (the
pull-request comment) and the HTML report. Inference errors were scrubbed already; a target's
own exception, a skip reason and a metric's error were not.
"""

from __future__ import annotations

import pytest

TOKEN = "tok_9f8e7d6c5b4a3210"
KEY = "sk-proj-abcdefghijklmnop"

APP = f"""
import os

def leak(case):
    raise RuntimeError(
        "upstream said 401 for https://api.example.com/v1?key="
        + os.environ["MY_SERVICE_TOKEN"] + " using {KEY}"
    )

def skip(case):
    import pytest
    pytest.skip("no quota left for " + os.environ["MY_SERVICE_TOKEN"])
"""

CONFTEST = f"""
from pytest_mleval import metric

@metric("leaky")
def leaky(sample):
    raise ValueError("scorer could not call its API with {KEY}")
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_target_error_with_a_secret_is_scrubbed_everywhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", TOKEN)
    pytester.makepyfile(app=APP + "\ndef echo(case):\n    return case.input\n")
    pytester.makeconftest(CONFTEST)
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        a="suite: a\ntarget: python:app:leak\nmetrics: [exact]\n"
        "cases:\n  - {id: c, input: x, expected: y}\n",
        b="suite: b\ntarget: python:app:skip\nmetrics: [exact]\n"
        "cases:\n  - {id: c, input: x, expected: y}\n",
        c="suite: c\ntarget: python:app:echo\nmetrics: [leaky]\n"
        "cases:\n  - {id: c, input: x, expected: y}\n",
    )
    result = pytester.runpytest("-rA", *workers)
    text = result.stdout.str() + result.stderr.str()
    assert "upstream said 401" in text  # the failure is shown, without its secret
    reports = pytester.path / "reports"
    written = {
        p.name: p.read_text() for p in reports.iterdir() if p.suffix in (".json", ".md", ".html")
    }
    assert "upstream said 401" in written["mleval-results.json"]
    assert "scorer could not call its API" in written["mleval-results.json"]
    assert "no quota left for" in written["mleval-results.json"]
    for where, body in {"terminal": text, **written}.items():
        assert TOKEN not in body, where
        assert KEY not in body, where


def _outputs(pytester: pytest.Pytester, result: pytest.RunResult) -> dict[str, str]:
    reports = pytester.path / "reports"
    written = {
        p.name: p.read_text() for p in reports.iterdir() if p.suffix in (".json", ".md", ".html")
    }
    return {"terminal": result.stdout.str() + result.stderr.str(), **written}


GOOD = "suite: g\ntarget: python:app:echo\nmetrics: [exact]\ncases:\n  - {id: c, input: x, expected: x}\n"


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_collection_error_with_a_secret_is_scrubbed_everywhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    # Before, a test module (or an eval file's value) that failed to collect with a key in its
    # message had the key in pytest's ERRORS section, the "not collected:" line, the results'
    # collection_errors, the Markdown and the HTML; a case's error was scrubbed already.
    monkeypatch.setenv("MY_SERVICE_TOKEN", TOKEN)
    pytester.makepyfile(
        app="def echo(case):\n    return case.input\n",
        test_client=(
            "import os\n"
            f'raise RuntimeError("cannot start the client with " + os.environ["MY_SERVICE_TOKEN"] + " or {KEY}")\n'
        ),
    )
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        good=GOOD,
        bad=f"suite: b\ntarget: python:app:echo\nmetrics:\n  - exact: {{threshold: {KEY}}}\n"
        "cases:\n  - {id: c, input: x, expected: x}\n",
    )
    result = pytester.runpytest("--continue-on-collection-errors", *workers)
    # Each xdist worker collects (and reports) the broken module.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes()["passed"] == 1
    outputs = _outputs(pytester, result)
    assert "cannot start the client with" in outputs["mleval-results.json"]
    assert "threshold" in outputs["mleval-summary.md"]
    for where, body in outputs.items():
        assert TOKEN not in body, where
        assert KEY not in body, where


def test_a_warning_with_a_secret_is_scrubbed_in_the_warnings_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, pytest's "warnings summary" showed a target's warning with the key in it.
    monkeypatch.setenv("MY_SERVICE_TOKEN", TOKEN)
    pytester.makepyfile(
        app=(
            "import os, warnings\n"
            "def echo(case):\n"
            '    warnings.warn("retrying with " + os.environ["MY_SERVICE_TOKEN"])\n'
            "    return case.input\n"
        )
    )
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", good=GOOD)
    result = pytester.runpytest()
    text = result.stdout.str()
    assert "retrying with ***" in text
    assert TOKEN not in text
