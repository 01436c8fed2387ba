"""``mleval history`` says each run's verdict, as the run's own outputs said it.

Before, the listing had counts and gates but no verdict: a run that failed on its cases
without a gate, one that failed on a regression and one that passed all read alike, and a
``-k`` run that passed on part of its suites was marked "INCOMPLETE" like a run that could not
collect a file. Now each row starts with the run's status (passed, partial, failed,
incomplete), recorded with the run; a history written before has it derived from the exit
status. ``--metric`` marks the points of runs that were not whole.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import pytest

from pytest_mleval.cli.runs import add_report_commands
from pytest_mleval.report.history import recent_runs, record_run, resolve_url
from pytest_mleval.results.records import (
    Aggregate,
    CaseResult,
    CollectionError,
    RunMeta,
    RunResults,
    SuiteInfo,
)


def _run(day: int, exit_status: int, **kwargs: object) -> RunResults:
    cases = [CaseResult(suite="s", case_id=f"c{i}", passed=i != 9) for i in range(10)]
    meta = RunMeta(started_at=f"2026-11-{day:02d}T09:00:00+00:00", exit_status=exit_status)
    agg = Aggregate(
        suite="s", metric="pass_rate", estimate=0.9, ci_low=0.6, ci_high=0.98, n=10, method="w"
    )
    return RunResults(cases=cases, meta=meta, aggregates=[agg], **kwargs)  # type: ignore[arg-type]


RUNS = [
    _run(1, 0, suites=[SuiteInfo(name="s", n_cases=10)]),
    _run(2, 1),
    _run(3, 0, suites=[SuiteInfo(name="s", n_cases=10, not_run=5)]),
    _run(
        4,
        1,
        collection_errors=[CollectionError(nodeid="b.eval.yaml", file="b.eval.yaml", message="x")],
    ),
]


def _listing(db: Path, capsys: pytest.CaptureFixture[str], *more: str) -> list[str]:
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["history", "--url", str(db), *more])
    assert args.func(args) == 0
    return capsys.readouterr().out.splitlines()


def test_each_run_reads_its_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    for r in RUNS:
        record_run(resolve_url(str(db)), r)
    assert [r.status for r in recent_runs(resolve_url(str(db)))] == [
        "incomplete",
        "partial",
        "failed",
        "passed",
    ]
    # SQLAlchemy's path reads the same column.
    assert [r.status for r in recent_runs(f"sqlite+pysqlite:///{db}")] == [
        r.status for r in recent_runs(resolve_url(str(db)))
    ]
    head, *rows = _listing(db, capsys)
    assert head.split()[:2] == ["run", "status"]
    assert [row.split()[1] for row in rows] == ["incomplete", "partial", "failed", "passed"]
    assert rows[1].endswith("not whole: 5 of 15 cases of suite s not run")
    assert "INCOMPLETE" not in "\n".join(rows)
    trend = _listing(db, capsys, "--metric", "s:pass_rate")
    assert [line.endswith("(not whole)") for line in trend[1:]] == [False, False, True, True]


def test_a_history_of_an_older_version_derives_the_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.sqlite"
    for r in RUNS[:3]:
        record_run(resolve_url(str(db)), r)
    with sqlite3.connect(db) as conn:  # as a version without the column wrote it
        conn.execute("UPDATE mleval_runs SET status = NULL")
    assert [r.status for r in recent_runs(resolve_url(str(db)))] == [
        "partial",
        "failed",
        "passed",
    ]


@pytest.mark.parametrize("driver", ["sqlite", "sqlite+pysqlite"])
def test_a_history_without_the_new_columns_is_migrated(tmp_path: Path, driver: str) -> None:
    from pytest_mleval.report import history

    db = tmp_path / "h.sqlite"
    old = history._SQLITE_DDL[0].replace(", incomplete TEXT, status VARCHAR(16)", "")
    assert " status " not in old and "incomplete" not in old
    with sqlite3.connect(db) as conn:
        conn.execute(old)
        for ddl in history._SQLITE_DDL[1:]:
            conn.execute(ddl)
    url = f"{driver}:///{db}"
    record_run(url, RUNS[2])
    (run,) = recent_runs(url)
    assert run.status == "partial" and run.incomplete
