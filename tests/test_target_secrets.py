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
