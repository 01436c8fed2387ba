"""``--mleval-redact`` (issue 21, item 4): detected PII is masked in everything the run writes
(results, Markdown, HTML, history, terminal, captured output, log records); metrics still
score the raw output; the model-call cache keeps no copy of the request beside the answer."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.conversation.trajectory import Trajectory
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults
from pytest_mleval.results.redaction import redact_case, redact_run
from pytest_mleval.session.redaction import RedactFilter, RedactionPlugin

EMAIL = "jane.doe@example.com"
CARD = "4242 4242 4242 4242"
IBAN = "DE89 3704 0044 0532 0130 00"
KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t"
RAW = (EMAIL, CARD, IBAN, KEY)
# Pieces of each value, so that a value escaped for Markdown or HTML (the summary writes the
# e-mail's "@" as "@&#8203;") or written without its spaces still counts as leaked.
FRAGMENTS = {
    "email": ("jane.doe",),
    "card": ("4242 4242", "42424242"),
    "iban": ("3704 0044", "37040044"),
    "api_key": ("Ab3dEf6hIj9kLm2nOp5qRs8t",),
}
RAW_FORMS = tuple(f for forms in FRAGMENTS.values() for f in forms)

APP = f"""
import logging

EMAIL = {EMAIL!r}
CARD = {CARD!r}
IBAN = {IBAN!r}
KEY = {KEY!r}


def answer(case):
    return f"Write to {{EMAIL}}; card {{CARD}}, IBAN {{IBAN}}, key {{KEY}}."


def boom(case):
    print("customer", EMAIL, "card", CARD)
    logging.getLogger("app").warning("lookup for %s failed", EMAIL)
    raise RuntimeError(f"account {{IBAN}} of {{EMAIL}} is locked (key {{KEY}})")
"""

SUITE = f"""
suite: support
target: python:app:answer
prompt: "Customer {{{{ input }}}} asks about the refund"
cases:
  - id: card-ok
    input: {EMAIL}
    metrics:
      - contains: {{value: "{CARD}"}}
      - contains: {{value: "{IBAN}", name: has_iban}}
  - id: wants-other
    input: {EMAIL}
    expected: "Write to {EMAIL} only"
    metrics:
      - exact
"""

ERRORS = """
suite: broken
target: python:app:boom
prompt: "{{ input }}"
metrics: [exact]
cases:
  - {id: raises, input: hello, expected: hi}
"""

PLAIN = f"""
import logging

def test_logs_a_record():
    logging.getLogger("pytest_mleval.inference").warning("retrying for %s", {EMAIL!r})
"""


# The plugin's hooks hand plugins the published records: what they write is redacted too.
CONFTEST = """
import json

def pytest_mleval_case_result(result, config):
    with open("hooks.txt", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(["case", result.output, result.error, result.input]) + "\\n")

def pytest_mleval_run_results(run, config):
    with open("hooks.txt", "a", encoding="utf-8") as fh:
        fh.write(run.model_dump_json() + "\\n")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(app=APP, test_plain=PLAIN)
    pytester.makefile(".eval.yaml", support=SUITE, broken=ERRORS)
    pytester.syspathinsert()
    return pytester


def _written(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (results, summary, HTML, history database...), as bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def _leaks(blobs: dict[str, bytes]) -> list[tuple[str, str]]:
    return [
        (name, raw) for name, blob in blobs.items() for raw in RAW_FORMS if raw.encode() in blob
    ]


def _run(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, str]:
    """A run with a log file and a JUnit XML report (written into the report directory)."""
    log = project.path / "run.log"
    result = project.runpytest(
        "-rA",
        f"--log-file={log}",
        "--log-file-level=DEBUG",
        "--junitxml=reports/junit.xml",
        "-p",
        "no:cacheprovider",
        *args,
    )
    return result, log.read_text(encoding="utf-8")


def _cases(project: pytest.Pytester, report_dir: str = "reports") -> dict[str, Any]:
    data = json.loads((project.path / report_dir / "mleval-results.json").read_text())
    return {c["case_id"]: c for c in data["cases"]}


def test_without_the_flag_the_raw_values_are_written(project: pytest.Pytester) -> None:
    # The control: everything below that checks a value is absent could otherwise pass
    # for a run that never wrote it.
    result, log = _run(project)
    result.assert_outcomes(passed=2, failed=1, errors=1)
    blobs = _written(project.path / "reports")
    for name in ("mleval-results.json", "mleval-report.html", "junit.xml"):
        for kind, forms in FRAGMENTS.items():
            assert any(f.encode() in blobs[name] for f in forms), (name, kind)
    # The summary lists the erroring case's error (the failing one only by its scores).
    summary = blobs["mleval-summary.md"].decode()
    assert "jane.doe" in summary and "3704 0044" in summary
    # An API key in what a target raised is removed with or without the flag (the error's
    # text only: the failing case's output in results and HTML keeps it, as written).
    assert KEY not in summary and "key sk-\\*\\*\\*" in summary
    out = result.stdout.str()
    assert all(raw in out for raw in RAW)
    hooks = (project.path / "hooks.txt").read_text(encoding="utf-8")
    assert EMAIL in hooks and IBAN in hooks
    assert f"retrying for {EMAIL}" in log and f"lookup for {EMAIL}" in log


def test_the_flag_masks_every_output_and_scores_the_raw_output(
    project: pytest.Pytester,
) -> None:
    result, log = _run(project, "--mleval-redact")
    # The contains metrics matched the raw card and IBAN: scoring came before redaction.
    result.assert_outcomes(passed=2, failed=1, errors=1)
    cases = _cases(project)
    ok = cases["card-ok"]
    assert ok["passed"] is True
    assert ok["scores"]["contains"]["score"] == 1.0 and ok["scores"]["has_iban"]["score"] == 1.0
    assert ok["output"] == (
        "Write to [REDACTED:EMAIL]; card [REDACTED:CARD], IBAN [REDACTED:IBAN], "
        "key [REDACTED:API_KEY]."
    )
    assert ok["input"] == "[REDACTED:EMAIL]"
    assert ok["prompt"] == "Customer [REDACTED:EMAIL] asks about the refund"
    assert cases["wants-other"]["expected"] == "Write to [REDACTED:EMAIL] only"
    assert cases["wants-other"]["scores"]["exact"]["score"] == 0.0
    raises = cases["raises"]
    assert raises["error"].startswith("RuntimeError: account [REDACTED:IBAN] of [REDACTED:EMAIL]")
    # Ids, suites, node ids and metric names are kept.
    assert set(cases) == {"card-ok", "wants-other", "raises"}
    assert ok["nodeid"].endswith("support.eval.yaml::support::card-ok")
    assert set(ok["scores"]) == {"contains", "has_iban"}

    blobs = _written(project.path / "reports")
    assert {"mleval-results.json", "mleval-summary.md", "mleval-report.html", "junit.xml"} <= set(
        blobs
    )
    assert _leaks(blobs) == []
    assert b"[REDACTED:EMAIL]" in blobs["mleval-report.html"]
    hooks = (project.path / "hooks.txt").read_text(encoding="utf-8")
    assert "[REDACTED:EMAIL]" in hooks and [raw for raw in RAW_FORMS if raw in hooks] == []

    out = result.stdout.str()
    # The failing case's report (its metric table and diff) and the erroring one's traceback,
    # captured stdout and captured log were all shown, redacted.
    assert "case support::wants-other failed" in out
    assert "Captured stdout call" in out or "Captured stdout setup" in out
    assert "RuntimeError" in out and "[REDACTED:IBAN]" in out
    # The traceback kept its structure: the short summary still shows the exception's message.
    error_line = next(line for line in result.outlines if line.startswith("ERROR broken"))
    assert "- RuntimeError: account [REDACTED:" in error_line
    assert [raw for raw in RAW_FORMS if raw in out] == []
    # The log file: the plugin's own logger and the target's log record.
    assert "retrying for [REDACTED:EMAIL]" in log
    assert [raw for raw in RAW_FORMS if raw in log] == []


def test_the_ini_twin_turns_it_on(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nmleval_redact = true\n")
    # The live log prints each record as it is made, the target's own too.
    result, _ = _run(project, "-o", "log_cli=true", "--log-cli-level=WARNING")
    out = result.stdout.str()
    assert "lookup for [REDACTED:EMAIL] failed" in out
    assert [raw for raw in RAW_FORMS if raw in out] == []
    result.assert_outcomes(passed=2, failed=1, errors=1)
    assert _leaks(_written(project.path / "reports")) == []
    assert _cases(project)["card-ok"]["output"].startswith("Write to [REDACTED:EMAIL];")
    flags = json.loads((project.path / "reports" / "mleval-results.json").read_text())["meta"]
    assert flags["flags"]["redact"] is True


def test_xdist_workers_redact_their_reports(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "xdist", "-n", "2", "-rA", "--mleval-redact")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    assert [raw for raw in RAW_FORMS if raw in result.stdout.str()] == []
    assert _leaks(_written(project.path / "reports")) == []
    assert _cases(project)["card-ok"]["scores"]["contains"]["passed"] is True


def test_a_collection_error_is_redacted(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", bad="suite: bad\ntarget: python:app:x\ncases:\n  - oops\n")
    pytester.makepyfile(test_imp=f"raise ValueError('no customer {EMAIL}')\n")
    results = pytester.path / "reports" / "mleval-results.json"
    raw = pytester.runpytest()
    assert f"ValueError: no customer {EMAIL}" in raw.stdout.str()
    assert EMAIL in results.read_text()
    result = pytester.runpytest("--mleval-redact")
    assert result.ret != 0
    out = result.stdout.str()
    # The traceback keeps its structure (the short summary's message), redacted.
    assert "ERROR test_imp.py - ValueError: no customer [REDACTED:EMAIL]" in out
    assert "bad.eval.yaml" in out and EMAIL not in out
    data = json.loads(results.read_text())
    assert len(data["collection_errors"]) == 2 and EMAIL not in json.dumps(data)


CHECKED = f"""
def test_checked(mleval):
    mleval.check(
        {{"id": "p1", "input": {EMAIL!r}}},
        "reply to {EMAIL} with card {CARD}",
        metrics=[{{"contains": {{"value": "{CARD}"}}}}, {{"not_contains": {{"value": "{CARD}"}}}}],
        suite="api",
    )
"""


@pytest.mark.parametrize("redact", [False, True], ids=["raw", "redacted"])
def test_a_plain_tests_check_is_redacted(pytester: pytest.Pytester, redact: bool) -> None:
    pytester.makepyfile(test_checked=CHECKED)
    result = pytester.runpytest(*(["--mleval-redact"] if redact else []))
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "case api::p1 failed" in out
    (case,) = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())["cases"]
    # The raw output was scored: the card is in it (redacted first, both would flip).
    assert case["scores"]["contains"]["score"] == 1.0
    assert case["scores"]["not_contains"]["score"] == 0.0
    leaked = [raw for raw in (EMAIL, CARD) if raw in out or raw in json.dumps(case)]
    assert leaked == ([] if redact else [EMAIL, CARD])
    if redact:
        assert case["output"] == "reply to [REDACTED:EMAIL] with card [REDACTED:CARD]"


def test_a_raw_baseline_is_shown_redacted(project: pytest.Pytester) -> None:
    # A baseline written without the flag holds the raw outputs; the HTML report shows each
    # case's baseline output beside this run's.
    project.runpytest("--mleval-save-baseline", "base.json", "--mleval-report-dir", "first")
    assert EMAIL in (project.path / "base.json").read_text()
    result = project.runpytest("--mleval-redact", "--mleval-baseline", "base.json")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    blobs = _written(project.path / "reports")
    assert _leaks(blobs) == []
    assert json.loads(blobs["mleval-results.json"])["comparison"] is not None


VARIANTS_APP = f"""
EMAIL = {EMAIL!r}

def plain(case):
    return "ans " + EMAIL + " +"

def better(case):
    return "ans " + EMAIL + " ++"
"""

VARIANTS_SUITE = """
suite: duo
target: python:app:plain
metrics: [{contains: {value: "ans"}}]
judge_variants: {criteria: "More plus signs is better."}
variants:
  - {name: a}
  - {name: b, target: "python:app:better"}
cases:
  - {id: k0, input: x}
  - {id: k1, input: y}
"""


def test_the_variant_judge_reads_the_raw_outputs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from pytest_mleval.inference.testserver import OpenAITestServer, Rule

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-redact")
    shown: list[tuple[str, str]] = []

    def judge(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        a = re.search(r"<<<A-(\w+)\n(.*?)\nA-\1>>>", text, re.S)
        b = re.search(r"<<<B-(\w+)\n(.*?)\nB-\1>>>", text, re.S)
        assert a and b, text
        shown.append((a.group(2), b.group(2)))
        winner = "A" if a.group(2).count("+") > b.group(2).count("+") else "B"
        return json.dumps({"reasoning": "counted", "winner": winner})

    with OpenAITestServer(rules=[Rule(reply=judge)]) as srv:
        pytester.makepyfile(app=VARIANTS_APP)
        pytester.syspathinsert()
        pytester.makeini(
            f"[pytest]\nmleval_api_base = {srv.base_url}\nmleval_judge_model = openai/judge\n"
        )
        pytester.makefile(".eval.yaml", duo=VARIANTS_SUITE)
        result = pytester.runpytest("--mleval-redact", "--mleval-cache", "off")
        result.assert_outcomes(passed=4)
    # The judge (at the end of the run, on the controller) was shown the raw outputs ...
    assert shown and all(EMAIL in a and EMAIL in b for a, b in shown)
    data = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    (vs,) = data["variant_sets"]
    assert [(w["a"], w["b"], w["wins_a"], w["wins_b"]) for w in vs["win_rates"]] == [
        ("a", "b", 0, 2)
    ]
    # ... and what was written is redacted.
    assert {c["output"] for c in data["cases"]} == {
        "ans [REDACTED:EMAIL] +",
        "ans [REDACTED:EMAIL] ++",
    }
    assert _leaks(_written(pytester.path / "reports")) == []


# --------------------------------------------------------------------------- the cache

CACHE_SUITE = """
suite: echo
target: model:openai/test-model
api_base: {base}
prompt: "Customer {email} pays with {card}: {{{{ input }}}}"
metrics:
  - contains: {{value: "{iban}"}}
cases:
  - {{id: c1, input: "IBAN {iban}, key {key}"}}
"""


def test_the_cache_keeps_no_copy_of_the_request(pytester: pytest.Pytester) -> None:
    from pytest_mleval.inference.testserver import OpenAITestServer

    # The test server's default answer echoes the last user message: the answer holds the
    # PII, the only place the cache may (replay needs it).
    with OpenAITestServer() as srv:
        pytester.makefile(
            ".eval.yaml",
            echo=CACHE_SUITE.format(base=srv.base_url, email=EMAIL, card=CARD, iban=IBAN, key=KEY),
        )
        args = ("--mleval-redact", "--mleval-cache-path", "cache.sqlite")
        pytester.runpytest(*args, "--mleval-cache", "rw").assert_outcomes(passed=1)
        assert srv.count == 1
        # Replayed from the cache: the same raw answer scores the same, still redacted.
        replay = pytester.runpytest(*args, "--mleval-cache", "replay")
        replay.assert_outcomes(passed=1)
        assert srv.count == 1
    case = _cases(pytester)["c1"]
    assert case["cached"] is True and case["scores"]["contains"]["score"] == 1.0
    assert _leaks(_written(pytester.path / "reports")) == []

    with sqlite3.connect(pytester.path / "cache.sqlite") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert tables == ["responses"]
        rows = db.execute("SELECT key, model, value, created, size FROM responses").fetchall()
    assert len(rows) == 1
    key, model, value, created, size = rows[0]
    assert len(key) == 64 and model == "openai/test-model"
    record = json.loads(value)
    # The answer itself is kept raw ...
    assert IBAN in record["text"] and KEY in record["text"]
    # ... and nothing else in the row holds any of the request's text.
    rest = {k: v for k, v in record.items() if k != "text"}
    metadata = json.dumps([key, model, created, size, rest])
    assert [raw for raw in RAW_FORMS if raw in metadata] == []
    assert "Customer" not in metadata


# --------------------------------------------------------------------------- units


def test_redact_case_keeps_ids_numbers_and_names() -> None:
    trajectory = Trajectory.model_validate(
        {
            "messages": [{"role": "user", "content": f"mail {EMAIL}"}],
            "turns": [
                {
                    "index": 0,
                    "text": f"card {CARD}",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "name": "lookup",
                            "arguments": {"email": EMAIL},
                            "arguments_raw": json.dumps({"email": EMAIL}),
                            "result": {"iban": IBAN},
                            "error": f"bad key {KEY}",
                        }
                    ],
                }
            ],
        }
    )
    case = CaseResult(
        suite="s",
        case_id="c-7",
        nodeid="x.eval.yaml::s::c-7",
        input={"who": EMAIL, "n": 3},
        output=f"IBAN {IBAN}",
        context=[f"card {CARD}"],
        messages=[{"role": "user", "content": EMAIL}],
        metadata={"note": KEY, "count": 2},
        scores={
            "pii": MetricScore(
                score=0.0, passed=False, explanation=f"found {EMAIL}", data={"raw": [CARD]}
            )
        },
        latency_ms=12.5,
        trajectory=trajectory,
    )
    red = redact_case(case)
    dumped = red.model_dump_json()
    assert [raw for raw in RAW_FORMS if raw in dumped] == []
    assert (red.suite, red.case_id, red.nodeid, red.latency_ms) == ("s", "c-7", case.nodeid, 12.5)
    assert red.input == {"who": "[REDACTED:EMAIL]", "n": 3}
    assert red.metadata == {"note": "[REDACTED:API_KEY]", "count": 2}
    assert red.scores["pii"].score == 0.0 and red.scores["pii"].passed is False
    assert red.scores["pii"].data == {"raw": ["[REDACTED:CARD]"]}
    assert red.trajectory is not None
    call = red.trajectory.turns[0].tool_calls[0]
    assert (call.id, call.name, call.arguments) == (
        "call_1",
        "lookup",
        {"email": "[REDACTED:EMAIL]"},
    )
    assert call.result == {"iban": "[REDACTED:IBAN]"}
    # The raw record is left as it was (the session scores and judges on it).
    assert case.output == f"IBAN {IBAN}"
    run = redact_run(RunResults(cases=[case]))
    assert run.cases[0].output == "IBAN [REDACTED:IBAN]"


def test_the_log_filter_redacts_records_and_tracebacks() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    logger = logging.getLogger("pytest_mleval.inference")
    handler = Keep()
    logger.addHandler(handler)
    plugin = RedactionPlugin()
    try:
        plugin.install()
        try:
            raise ValueError(f"no account {IBAN}")
        except ValueError:
            logger.warning("customer %s", EMAIL, exc_info=True)
        plugin.uninstall()
        logger.warning("customer %s", EMAIL)
    finally:
        plugin.uninstall()
        logger.removeHandler(handler)
    assert records[0].startswith("customer [REDACTED:EMAIL]")
    assert "ValueError: no account [REDACTED:IBAN]" in records[0] and IBAN not in records[0]
    assert records[1] == f"customer {EMAIL}"  # uninstalled: as it was
    assert isinstance(plugin._filter, RedactFilter)
