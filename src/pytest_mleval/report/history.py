"""Run history: each run's summary appended to a database, read back as trends.

SQLite in the report dir by default; any SQLAlchemy URL (PostgreSQL for a team's CI fleet).
A plain SQLite file (``sqlite:///PATH``, the default) is written and read with the standard
library's ``sqlite3``, in one transaction per run: importing SQLAlchemy (~0.1-0.15 s) cost more
than the rest of recording a run. The tables are the ones SQLAlchemy creates (the DDL below
is checked against SQLAlchemy's in the tests), so either side reads what the other wrote;
every other URL goes through SQLAlchemy, imported inside the functions (the plugin must stay
cheap to load).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependencyError, ResultsFileError

if TYPE_CHECKING:
    from ..results.records import RunResults

__all__ = [
    "DEFAULT_FILE",
    "HistoryRun",
    "TrendPoint",
    "metric_trend",
    "metric_trends",
    "recent_runs",
    "record_run",
    "resolve_url",
    "sqlite_path",
]

DEFAULT_FILE = "mleval-history.sqlite"
"""File name of the default SQLite history in the report dir."""


@dataclass(frozen=True)
class HistoryRun:
    """One recorded run, as listed by ``mleval history``."""

    id: int
    started_at: str
    git_sha: str | None
    git_branch: str | None
    duration_s: float
    n_cases: int
    n_passed: int
    n_failed: int
    n_errored: int
    cost_usd: float
    total_tokens: int
    gates_total: int
    gates_failed: int
    exit_status: int | None
    models: tuple[str, ...]
    incomplete: str | None = None
    """Why the run was incomplete (files not collected, cases not run); None when complete."""
    recorded_status: str | None = None
    """The run's verdict as its outputs showed it (None in a history of an older version)."""

    @property
    def status(self) -> str:
        """``passed``, ``partial``, ``failed`` or ``incomplete``, as the run's headline said
        (derived from the exit status for a run recorded before the status was; ``unknown``
        without one)."""
        if self.recorded_status:
            return self.recorded_status
        if self.exit_status is None:
            return "unknown"
        if self.exit_status or self.gates_failed:
            return "failed"
        return "partial" if self.incomplete else "passed"

    @property
    def pass_rate(self) -> float | None:
        """Share of passed case results, ``None`` for a run without cases."""
        return self.n_passed / self.n_cases if self.n_cases else None


@dataclass(frozen=True)
class TrendPoint:
    """A suite metric's estimate in one recorded run."""

    run_id: int
    started_at: str
    git_sha: str | None
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    incomplete: str | None = None
    """Why its run was not whole (files not collected, cases not run); None when it was."""


def resolve_url(url: str | None, report_dir: str | Path = "reports") -> str:
    """The SQLAlchemy URL of the history: a URL as given, a file path as SQLite.

    Args:
        url: ``--mleval-history`` value: a SQLAlchemy URL, a path to a SQLite file, or ``None``.
        report_dir: Where the default ``mleval-history.sqlite`` lives.
    """
    if url and "://" in url:
        return url
    path = Path(url) if url else Path(report_dir) / DEFAULT_FILE
    return f"sqlite:///{path.resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases or in-memory SQLite)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in (prefix, f"{prefix}:memory:"):
        return None
    return Path(url[len(prefix) :])


def _stdlib_sqlite(url: str) -> Path | None:
    """The file of a plain SQLite URL (no driver named, no query options), which the standard
    library's sqlite3 handles; ``None`` for every URL that needs SQLAlchemy."""
    path = sqlite_path(url)
    return None if path is None or "?" in url else path


# What SQLAlchemy's create_all emits for _tables() on SQLite (tests/report/test_history.py
# compares them), with IF NOT EXISTS as its checkfirst.
_SQLITE_DDL = (
    "CREATE TABLE IF NOT EXISTS mleval_runs ("
    "id INTEGER NOT NULL, run_key VARCHAR(64) NOT NULL, started_at VARCHAR(40) NOT NULL, "
    "finished_at VARCHAR(40) NOT NULL, recorded_at VARCHAR(40) NOT NULL, git_sha VARCHAR(64), "
    "git_branch VARCHAR(255), tool_version VARCHAR(64), duration_s FLOAT NOT NULL, "
    "n_cases INTEGER NOT NULL, n_passed INTEGER NOT NULL, n_failed INTEGER NOT NULL, "
    "n_errored INTEGER NOT NULL, cost_usd FLOAT NOT NULL, total_tokens INTEGER NOT NULL, "
    "gates_total INTEGER NOT NULL, gates_failed INTEGER NOT NULL, exit_status INTEGER, "
    "models TEXT NOT NULL, incomplete TEXT, status VARCHAR(16), PRIMARY KEY (id), "
    "UNIQUE (run_key))",
    "CREATE TABLE IF NOT EXISTS mleval_metrics ("
    "id INTEGER NOT NULL, run_id INTEGER NOT NULL, suite VARCHAR(255) NOT NULL, "
    "metric VARCHAR(255) NOT NULL, estimate FLOAT NOT NULL, ci_low FLOAT NOT NULL, "
    "ci_high FLOAT NOT NULL, n INTEGER NOT NULL, method VARCHAR(255) NOT NULL, "
    "PRIMARY KEY (id), FOREIGN KEY(run_id) REFERENCES mleval_runs (id) ON DELETE CASCADE)",
    "CREATE INDEX IF NOT EXISTS ix_mleval_metrics_run_id ON mleval_metrics (run_id)",
    "CREATE INDEX IF NOT EXISTS ix_mleval_metrics_suite_metric ON mleval_metrics (suite, metric)",
)
_RUN_COLUMNS = (
    "run_key",
    "started_at",
    "finished_at",
    "recorded_at",
    "git_sha",
    "git_branch",
    "tool_version",
    "duration_s",
    "n_cases",
    "n_passed",
    "n_failed",
    "n_errored",
    "cost_usd",
    "total_tokens",
    "gates_total",
    "gates_failed",
    "exit_status",
    "models",
    "incomplete",
    "status",
)
_ADDED_COLUMNS = (("incomplete", "TEXT"), ("status", "VARCHAR(16)"))
"""Columns added after the first release, in order: migrations add those a history lacks."""
_METRIC_COLUMNS = (
    "mleval_metrics.id, mleval_metrics.run_id, mleval_metrics.suite, mleval_metrics.metric, "
    "mleval_metrics.estimate, mleval_metrics.ci_low, mleval_metrics.ci_high, mleval_metrics.n, "
    "mleval_metrics.method, mleval_runs.started_at, mleval_runs.git_sha, mleval_runs.incomplete"
)


class _Row:
    """A result row read by attribute, as SQLAlchemy's rows are."""

    def __init__(self, names: list[str], values: tuple[Any, ...]) -> None:
        self.__dict__.update(zip(names, values, strict=True))


def _sqlite_connect(path: Path) -> Any:
    import sqlite3

    # Autocommit mode: the transactions below are explicit. Five seconds' wait for a lock is
    # sqlite3's default and so SQLAlchemy's (another run writing the same file).
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    conn.row_factory = lambda cur, row: _Row([d[0] for d in cur.description], row)
    return conn


def _sqlite_migrate(conn: Any) -> None:
    """:func:`_migrate` in sqlite3: the columns a history of an older version lacks."""
    columns = {r.name for r in conn.execute("PRAGMA table_info(mleval_runs)")}
    for name, kind in _ADDED_COLUMNS:
        if columns and name not in columns:
            conn.execute(f"ALTER TABLE mleval_runs ADD COLUMN {name} {kind}")


def _sqlite_error(url: str, exc: Exception) -> ResultsFileError:
    return ResultsFileError(f"run history {url}: {type(exc).__name__}: {exc}")


def _record_sqlite(path: Path, url: str, run: RunResults) -> int:
    """:func:`record_run` on a SQLite file with the standard library: one transaction."""
    import sqlite3

    row = _run_row(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = _sqlite_connect(path)
    except sqlite3.Error as exc:
        raise _sqlite_error(url, exc) from None
    try:
        # IMMEDIATE: the write lock up front, so two runs recording at once queue on it rather
        # than fail upgrading a read lock.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SQLITE_DDL:
                conn.execute(statement)
            _sqlite_migrate(conn)
            existing = conn.execute(
                "SELECT id FROM mleval_runs WHERE run_key = ?", (row["run_key"],)
            ).fetchone()
            if existing is not None:
                conn.execute("COMMIT")
                return int(existing.id)
            cur = conn.execute(
                f"INSERT INTO mleval_runs ({', '.join(_RUN_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_RUN_COLUMNS))})",
                [row[n] for n in _RUN_COLUMNS],
            )
            run_id = int(cur.lastrowid)
            conn.executemany(
                "INSERT INTO mleval_metrics (run_id, suite, metric, estimate, ci_low, ci_high, "
                "n, method) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        a.suite,
                        a.metric,
                        float(a.estimate),
                        float(a.ci_low),
                        float(a.ci_high),
                        int(a.n),
                        a.method[:255],
                    )
                    for a in run.aggregates
                ],
            )
            conn.execute("COMMIT")
            return run_id
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise _sqlite_error(url, exc) from None
    finally:
        conn.close()


def _read_sqlite(path: Path, url: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """:func:`_read` on a SQLite file with the standard library."""
    import sqlite3

    if not path.exists():
        return []
    try:
        conn = _sqlite_connect(path)
    except sqlite3.Error as exc:
        raise _sqlite_error(url, exc) from None
    try:
        conn.execute("BEGIN")
        try:
            found = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'mleval_runs'"
            ).fetchone()
            if found is None:
                return []
            _sqlite_migrate(conn)
            return list(conn.execute(sql, params))
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _sqlite_error(url, exc) from None
    finally:
        conn.close()


def _sqlalchemy() -> Any:
    try:
        import sqlalchemy
    except ImportError:
        raise MissingDependencyError("sqlalchemy", "report", "the run history") from None
    return sqlalchemy


def _tables(sa: Any) -> tuple[Any, Any, Any]:
    meta = sa.MetaData()
    runs = sa.Table(
        "mleval_runs",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_key", sa.String(64), nullable=False, unique=True),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("git_sha", sa.String(64)),
        sa.Column("git_branch", sa.String(255)),
        sa.Column("tool_version", sa.String(64)),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("n_cases", sa.Integer, nullable=False),
        sa.Column("n_passed", sa.Integer, nullable=False),
        sa.Column("n_failed", sa.Integer, nullable=False),
        sa.Column("n_errored", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("total_tokens", sa.Integer, nullable=False),
        sa.Column("gates_total", sa.Integer, nullable=False),
        sa.Column("gates_failed", sa.Integer, nullable=False),
        sa.Column("exit_status", sa.Integer),
        sa.Column("models", sa.Text, nullable=False),
        # Added after the first release: _migrate adds them to older databases.
        sa.Column("incomplete", sa.Text),
        sa.Column("status", sa.String(16)),
    )
    metrics = sa.Table(
        "mleval_metrics",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("mleval_runs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("suite", sa.String(255), nullable=False),
        sa.Column("metric", sa.String(255), nullable=False),
        sa.Column("estimate", sa.Float, nullable=False),
        sa.Column("ci_low", sa.Float, nullable=False),
        sa.Column("ci_high", sa.Float, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("method", sa.String(255), nullable=False),
        sa.Index("ix_mleval_metrics_suite_metric", "suite", "metric"),
    )
    return meta, runs, metrics


def _engine(sa: Any, url: str, *, create: bool) -> Any:
    path = sqlite_path(url)
    if path is not None and create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return sa.create_engine(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"invalid run-history URL {url!r}: {exc}") from None
    except ImportError as exc:
        # The URL names a driver that is not installed (e.g. psycopg).
        raise ConfigError(f"run-history URL {url!r} needs a database driver: {exc}") from None


def _run_key(run: RunResults) -> str:
    """Identifies a run, so recording the same results twice keeps one row."""
    m = run.meta
    raw = json.dumps([m.started_at, m.finished_at, m.git_sha, m.duration_s, len(run.cases)])
    return hashlib.sha256(raw.encode()).hexdigest()


def _run_row(run: RunResults) -> dict[str, Any]:
    from ..results.records import incomplete_reasons, not_run_text, run_status

    cases = run.cases
    errored = sum(1 for c in cases if c.errored)
    passed = sum(1 for c in cases if c.passed)
    total = (run.usage or {}).get("total") or {}
    cost = total.get("cost_usd")
    tokens = total.get("total_tokens")
    return {
        "run_key": _run_key(run),
        "started_at": run.meta.started_at,
        "finished_at": run.meta.finished_at,
        "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_sha": run.meta.git_sha,
        "git_branch": run.meta.git_branch,
        "tool_version": run.meta.tool_version,
        "duration_s": float(run.meta.duration_s),
        "n_cases": len(cases),
        "n_passed": passed,
        "n_failed": len(cases) - passed - errored,
        "n_errored": errored,
        "cost_usd": float(cost if cost is not None else sum(c.cost_usd or 0.0 for c in cases)),
        "total_tokens": int(
            tokens if tokens is not None else sum(c.usage.total_tokens for c in cases)
        ),
        "gates_total": len(run.gates),
        "gates_failed": sum(1 for g in run.gates if not g.passed),
        "exit_status": run.meta.exit_status,
        "models": json.dumps(sorted(run.meta.models)),
        # A run of part of its suites (-k, --deselect) is marked too: its trend points cover
        # fewer cases than the runs beside it.
        "incomplete": "; ".join(r for r in (*incomplete_reasons(run), not_run_text(run)) if r)
        or None,
        # The headline every output showed: "failed" and "incomplete" are not told apart by
        # the counts, nor a -k run's "partial" from a run that could not collect a file.
        "status": run_status(run)[0],
    }


def _migrate(sa: Any, conn: Any) -> None:
    """Bring a history written by an older version up to today's columns."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("mleval_runs"):
        return
    columns = {c["name"] for c in inspector.get_columns("mleval_runs")}
    for name, kind in _ADDED_COLUMNS:
        if name not in columns:
            conn.execute(sa.text(f"ALTER TABLE mleval_runs ADD COLUMN {name} {kind}"))


def _db_error(sa: Any, url: str, exc: Exception) -> ResultsFileError:
    safe = sa.engine.make_url(url).render_as_string(hide_password=True)
    return ResultsFileError(f"run history {safe}: {type(exc).__name__}: {exc}")


def record_run(url: str, run: RunResults) -> int:
    """Append a run's summary and its suite metrics; recording the same run again is a no-op.

    Args:
        url: SQLAlchemy URL (see :func:`resolve_url`).
        run: The run's results.

    Returns:
        The run's id in the history.

    Raises:
        MissingDependencyError: SQLAlchemy is not installed.
        ConfigError: The URL is invalid or its driver is missing.
        ResultsFileError: The database cannot be written.
    """
    path = _stdlib_sqlite(url)
    if path is not None:
        return _record_sqlite(path, url, run)
    sa = _sqlalchemy()
    meta, runs, metrics = _tables(sa)
    engine = _engine(sa, url, create=True)
    row = _run_row(run)
    try:
        meta.create_all(engine)
        with engine.begin() as conn:
            _migrate(sa, conn)
            existing = conn.execute(
                sa.select(runs.c.id).where(runs.c.run_key == row["run_key"])
            ).scalar()
            if existing is not None:
                return int(existing)
            run_id = int(conn.execute(sa.insert(runs).values(**row)).inserted_primary_key[0])
            rows = [
                {
                    "run_id": run_id,
                    "suite": a.suite,
                    "metric": a.metric,
                    "estimate": float(a.estimate),
                    "ci_low": float(a.ci_low),
                    "ci_high": float(a.ci_high),
                    "n": int(a.n),
                    "method": a.method[:255],
                }
                for a in run.aggregates
            ]
            if rows:
                conn.execute(sa.insert(metrics), rows)
            return run_id
    except sa.exc.SQLAlchemyError as exc:
        raise _db_error(sa, url, exc) from None
    finally:
        engine.dispose()


def _read(url: str, query: Any, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """Run a read query (``query`` builds it in SQLAlchemy, ``sql`` is the same query for the
    standard library's sqlite3); an absent SQLite file or table reads as an empty history."""
    stdlib = _stdlib_sqlite(url)
    if stdlib is not None:
        return _read_sqlite(stdlib, url, sql, params)
    sa = _sqlalchemy()
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return []
    engine = _engine(sa, url, create=False)
    try:
        with engine.begin() as conn:
            if not sa.inspect(conn).has_table("mleval_runs"):
                return []
            _migrate(sa, conn)
            return list(conn.execute(query(sa, *_tables(sa)[1:])))
    except sa.exc.SQLAlchemyError as exc:
        raise _db_error(sa, url, exc) from None
    finally:
        engine.dispose()


def recent_runs(url: str, limit: int = 20) -> list[HistoryRun]:
    """The most recent runs, newest first.

    Args:
        url: SQLAlchemy URL of the history.
        limit: How many runs at most.
    """

    def query(sa: Any, runs: Any, metrics: Any) -> Any:
        order = (runs.c.started_at.desc(), runs.c.id.desc())
        return sa.select(runs).order_by(*order).limit(limit)

    return [
        HistoryRun(
            id=r.id,
            started_at=r.started_at,
            git_sha=r.git_sha,
            git_branch=r.git_branch,
            duration_s=r.duration_s,
            n_cases=r.n_cases,
            n_passed=r.n_passed,
            n_failed=r.n_failed,
            n_errored=r.n_errored,
            cost_usd=r.cost_usd,
            total_tokens=r.total_tokens,
            gates_total=r.gates_total,
            gates_failed=r.gates_failed,
            exit_status=r.exit_status,
            models=tuple(json.loads(r.models or "[]")),
            incomplete=r.incomplete,
            recorded_status=getattr(r, "status", None),
        )
        for r in _read(
            url,
            query,
            "SELECT * FROM mleval_runs ORDER BY started_at DESC, id DESC LIMIT ?",
            (limit,),
        )
    ]


def _point(r: Any) -> TrendPoint:
    return TrendPoint(
        run_id=r.run_id,
        started_at=r.started_at,
        git_sha=r.git_sha,
        estimate=r.estimate,
        ci_low=r.ci_low,
        ci_high=r.ci_high,
        n=r.n,
        incomplete=r.incomplete,
    )


def metric_trend(url: str, suite: str, metric: str, limit: int = 20) -> list[TrendPoint]:
    """One suite metric over the most recent runs that measured it, oldest first.

    Args:
        url: SQLAlchemy URL of the history.
        suite: Suite name.
        metric: Metric name, or ``pass_rate``.
        limit: How many runs at most.
    """

    def query(sa: Any, runs: Any, metrics: Any) -> Any:
        return (
            sa.select(metrics, runs.c.started_at, runs.c.git_sha, runs.c.incomplete)
            .join(runs, runs.c.id == metrics.c.run_id)
            .where(metrics.c.suite == suite, metrics.c.metric == metric)
            .order_by(runs.c.started_at.desc(), runs.c.id.desc())
            .limit(limit)
        )

    sql = (
        f"SELECT {_METRIC_COLUMNS} FROM mleval_metrics "
        "JOIN mleval_runs ON mleval_runs.id = mleval_metrics.run_id "
        "WHERE mleval_metrics.suite = ? AND mleval_metrics.metric = ? "
        "ORDER BY mleval_runs.started_at DESC, mleval_runs.id DESC LIMIT ?"
    )
    return [_point(r) for r in reversed(_read(url, query, sql, (suite, metric, limit)))]


def metric_trends(url: str, limit: int = 20) -> dict[tuple[str, str], list[TrendPoint]]:
    """Every suite metric over the last ``limit`` recorded runs, oldest first (one query).

    Args:
        url: SQLAlchemy URL of the history.
        limit: How many of the most recent runs.
    """

    def query(sa: Any, runs: Any, metrics: Any) -> Any:
        last = (
            sa.select(runs.c.id)
            .order_by(runs.c.started_at.desc(), runs.c.id.desc())
            .limit(limit)
            .subquery()
        )
        return (
            sa.select(metrics, runs.c.started_at, runs.c.git_sha, runs.c.incomplete)
            .join(runs, runs.c.id == metrics.c.run_id)
            .where(metrics.c.run_id.in_(sa.select(last.c.id)))
            .order_by(runs.c.started_at, runs.c.id)
        )

    sql = (
        f"SELECT {_METRIC_COLUMNS} FROM mleval_metrics "
        "JOIN mleval_runs ON mleval_runs.id = mleval_metrics.run_id "
        "WHERE mleval_metrics.run_id IN (SELECT id FROM mleval_runs "
        "ORDER BY started_at DESC, id DESC LIMIT ?) "
        "ORDER BY mleval_runs.started_at, mleval_runs.id"
    )
    out: dict[tuple[str, str], list[TrendPoint]] = {}
    for r in _read(url, query, sql, (limit,)):
        out.setdefault((r.suite, r.metric), []).append(_point(r))
    return out
