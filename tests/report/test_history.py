"""Run history through SQLAlchemy: SQLite by default, and a real PostgreSQL server."""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_report import make_run

from pytest_mleval.cli.runs import add_report_commands
from pytest_mleval.errors import ConfigError, ResultsFileError
from pytest_mleval.report.history import (
    metric_trend,
    metric_trends,
    recent_runs,
    record_run,
    resolve_url,
    sqlite_path,
)
from pytest_mleval.report.html import write_report
from pytest_mleval.results.records import RunResults

ROOT = Path(__file__).resolve().parents[2]


def _runs(n: int) -> list[RunResults]:
    """``n`` runs on successive days whose rouge_l improves (shift grows)."""
    return [
        make_run(
            30,
            seed=i,
            shift=0.04 * i,
            started_at=f"2026-11-{10 + i:02d}T09:00:00+00:00",
            git_sha=f"{i:040x}",
        )
        for i in range(n)
    ]


def _check_history(url: str) -> None:
    runs = _runs(4)
    ids = [record_run(url, r) for r in runs]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert record_run(url, runs[1]) == ids[1]  # the same run again is not a new row

    listed = recent_runs(url, limit=3)
    assert [r.id for r in listed] == [ids[3], ids[2], ids[1]]
    newest = listed[0]
    run = runs[3]
    assert newest.git_sha == run.meta.git_sha
    assert newest.n_cases == len(run.cases)
    assert newest.n_passed == sum(c.passed for c in run.cases)
    assert newest.n_errored == sum(1 for c in run.cases if c.error)
    assert newest.n_failed == newest.n_cases - newest.n_passed - newest.n_errored
    assert newest.gates_total == 2 and newest.gates_failed == 1
    assert newest.cost_usd == pytest.approx(sum(c.cost_usd or 0 for c in run.cases))
    assert newest.models == ("openai/gpt-4o-mini",)

    trend = metric_trend(url, "support-bot", "rouge_l", limit=10)
    want = [
        next(a for a in r.aggregates if a.suite == "support-bot" and a.metric == "rouge_l")
        for r in runs
    ]
    assert [p.estimate for p in trend] == pytest.approx([a.estimate for a in want])
    assert [p.ci_low for p in trend] == pytest.approx([a.ci_low for a in want])
    assert [p.started_at for p in trend] == sorted(p.started_at for p in trend)
    assert [p.run_id for p in metric_trend(url, "support-bot", "rouge_l", limit=2)] == ids[2:]
    assert metric_trend(url, "support-bot", "no-such-metric") == []

    trends = metric_trends(url, limit=2)
    assert ("rag-qa", "pass_rate") in trends
    assert [p.run_id for p in trends[("support-bot", "rouge_l")]] == ids[2:]


def test_sqlite_history(tmp_path: Path) -> None:
    url = resolve_url(None, tmp_path / "reports")
    assert url == f"sqlite:///{(tmp_path / 'reports' / 'mleval-history.sqlite').resolve()}"
    _check_history(url)
    # Read back with the standard library's sqlite3: what SQLAlchemy wrote is plain SQL data.
    path = sqlite_path(url)
    assert path is not None
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT r.git_sha, m.estimate FROM mleval_metrics m JOIN mleval_runs r ON r.id = m.run_id "
            "WHERE m.suite = 'rag-qa' AND m.metric = 'faithfulness' ORDER BY r.started_at"
        ).fetchall()
    assert [sha for sha, _ in rows] == [f"{i:040x}" for i in range(4)]


def test_reading_a_missing_history_creates_nothing(tmp_path: Path) -> None:
    url = resolve_url(str(tmp_path / "none.sqlite"))
    assert recent_runs(url) == []
    assert metric_trends(url) == {}
    assert not (tmp_path / "none.sqlite").exists()


def test_sqlalchemy_path_on_sqlite(tmp_path: Path) -> None:
    # A driver in the URL takes the SQLAlchemy path (a plain sqlite:/// file the stdlib one).
    url = f"sqlite+pysqlite:///{tmp_path / 'h.sqlite'}"
    assert sqlite_path(url) is None
    _check_history(url)


def test_stdlib_sqlite_and_sqlalchemy_read_each_others_history(tmp_path: Path) -> None:
    file = tmp_path / "h.sqlite"
    plain, with_driver = f"sqlite:///{file}", f"sqlite+pysqlite:///{file}"
    runs = _runs(4)
    ids = [record_run(plain, runs[0]), record_run(with_driver, runs[1])]
    ids += [record_run(plain, runs[2]), record_run(with_driver, runs[3])]
    assert ids == [1, 2, 3, 4]
    # The same run again is the same row, whichever side recorded it first.
    assert record_run(with_driver, runs[0]) == 1 and record_run(plain, runs[1]) == 2
    assert recent_runs(plain) == recent_runs(with_driver)
    assert metric_trends(plain) == metric_trends(with_driver)
    assert metric_trends(plain, limit=2) == metric_trends(with_driver, limit=2)
    for suite, metric in [("support-bot", "rouge_l"), ("rag-qa", "pass_rate")]:
        assert metric_trend(plain, suite, metric, 3) == metric_trend(with_driver, suite, metric, 3)
    with sqlite3.connect(file) as conn:
        n_metrics = conn.execute("SELECT count(*) FROM mleval_metrics").fetchone()[0]
    assert n_metrics == sum(len(r.aggregates) for r in runs)


def test_stdlib_sqlite_tables_are_sqlalchemys() -> None:
    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from pytest_mleval.report import history

    meta, _, _ = history._tables(sa)
    want = []
    for table in meta.sorted_tables:
        want.append(str(CreateTable(table).compile(dialect=sqlite.dialect())))
        # A table's indexes are a set: their order changes from process to process.
        indexes = sorted(table.indexes, key=lambda i: str(i.name))
        want += [str(CreateIndex(i).compile(dialect=sqlite.dialect())) for i in indexes]
    # Whitespace aside, with IF NOT EXISTS (SQLAlchemy's checkfirst).
    want = [
        re.sub(r"^CREATE (TABLE|INDEX) ", r"CREATE \1 IF NOT EXISTS ", " ".join(w.split()))
        .replace("( ", "(")
        .replace(" )", ")")
        for w in want
    ]
    ddl = list(history._SQLITE_DDL)
    # The same statements; each table before its indexes (the order they must run in).
    assert sorted(ddl) == sorted(want)
    tables = [d for d in ddl if d.startswith("CREATE TABLE")]
    assert ddl[: len(tables)] == [w for w in want if w.startswith("CREATE TABLE")]


def test_recording_a_run_in_sqlite_imports_no_sqlalchemy(tmp_path: Path) -> None:
    # SQLAlchemy's import (~0.1-0.15 s) was most of the history's share of a run's end.
    code = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_report import make_run
from pytest_mleval.report.history import metric_trends, recent_runs, record_run, resolve_url
url = resolve_url(None, {str(tmp_path)!r})
record_run(url, make_run(20))
assert recent_runs(url) and metric_trends(url)
print("sqlalchemy" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unwritable_sqlite_history_is_a_results_file_error(tmp_path: Path) -> None:
    (tmp_path / "h.sqlite").mkdir()  # a directory where the file should be
    url = resolve_url(str(tmp_path / "h.sqlite"))
    with pytest.raises(ResultsFileError, match="run history sqlite:///"):
        record_run(url, make_run(2))
    with pytest.raises(ResultsFileError, match="run history sqlite:///"):
        recent_runs(url)


def test_bad_urls_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid run-history URL"):
        record_run("nosuchdialect://x", make_run(2))
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert sqlite_path("postgresql+psycopg://u@h/db") is None
    assert sqlite_path("sqlite:///:memory:") is None


def test_report_shows_trends_from_history(tmp_path: Path) -> None:
    url = resolve_url(str(tmp_path / "h.sqlite"))
    runs = _runs(5)
    for r in runs:
        record_run(url, r)
    html = write_report(tmp_path / "r.html", runs[-1], history_url=url).read_text(encoding="utf-8")
    assert html.count('<svg class="spark"') == sum(1 for _ in runs[-1].aggregates)
    assert "5 runs" in html


def test_history_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command", required=True))
    db = tmp_path / "h.sqlite"
    args = parser.parse_args(["history", "--url", str(db)])
    assert args.func(args) == 0
    assert "no runs recorded" in capsys.readouterr().out
    for r in _runs(3):
        record_run(resolve_url(str(db)), r)
    args = parser.parse_args(["history", "--url", str(db), "--limit", "2"])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[1].split()[0] == "3" and "2026-11-12" in lines[1]
    args = parser.parse_args(["history", "--url", str(db), "--metric", "support-bot:rouge_l"])
    assert args.func(args) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    args = parser.parse_args(["history", "--url", str(db), "--metric", "rouge_l"])
    with pytest.raises(ConfigError):
        args.func(args)


# ---------------------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "pg_ctl").exists() and Path(d, "initdb").exists():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster in a temp dir, on a free loopback port."""
    bindir = _pg_bindir()
    if bindir is None:
        script = ROOT / "scripts" / "ensure_system_deps.sh"
        subprocess.run(
            ["bash", str(script), "postgresql"], capture_output=True, timeout=900, check=False
        )
        bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "Debian's postgresql is not installed and scripts/ensure_system_deps.sh could not install it"
        )
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="mleval-pg-"))
    if os.geteuid() == 0:
        # initdb refuses to run as root: the cluster belongs to the postgres system user.
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to own the cluster")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C"}

    def pg(*cmd: str) -> None:
        subprocess.run(
            [*as_user, *cmd], check=True, capture_output=True, timeout=120, env=env, cwd=base
        )

    try:
        pg(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "mleval",
            "-E",
            "UTF8",
            "--no-sync",
        )
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            opts,
            "start",
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(
            f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}"
        ) from exc
    try:
        yield f"postgresql+psycopg://mleval@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
            cwd=base,
        )
        shutil.rmtree(base, ignore_errors=True)


def test_postgresql_history(postgres_url: str, tmp_path: Path) -> None:
    _check_history(postgres_url)
    html = write_report(tmp_path / "r.html", _runs(4)[-1], history_url=postgres_url).read_text(
        encoding="utf-8"
    )
    assert '<svg class="spark"' in html and "4 runs" in html


@pytest.mark.parametrize("driver", ["sqlite", "sqlalchemy"])
def test_a_trend_marks_the_points_of_runs_that_were_not_whole(tmp_path: Path, driver: str) -> None:
    # Before: a `-k` run over 2 of 40 cases (or one that could not collect a file) drew its
    # point like any other, and the trend's change was measured from or to it.
    url = resolve_url(str(tmp_path / "h.sqlite"))
    if driver == "sqlalchemy":
        url = url.replace("sqlite:///", "sqlite+pysqlite:///")
    runs = _runs(3)
    runs[1].meta.incomplete = ["1 file(s) could not be collected"]
    runs[2].meta.incomplete = ["1 file(s) could not be collected"]
    for r in runs:
        record_run(url, r)
    points = metric_trend(url, "rag-qa", "faithfulness")
    assert [p.incomplete for p in points] == [None, *["1 file(s) could not be collected"] * 2]
    html = write_report(tmp_path / "r.html", runs[0], history_url=url).read_text(encoding="utf-8")
    assert 'class="partial"' in html
    assert "not a whole run: 1 file(s) could not be collected" in html
    # One whole run: no change to show between whole runs.
    assert "1 whole of 3 runs" in html
