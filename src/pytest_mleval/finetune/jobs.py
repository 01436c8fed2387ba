"""The fine-tuning job manager: a persistent job store (SQLite), running, cancel, resume, CLI.

Every job is a row with its status (pending, running, completed, failed, cancelled), config,
timestamps, metrics per logging step and evaluation, checkpoints, error and eval gate. The store
is shared between processes: ``mleval jobs cancel`` in one terminal stops a job that another
process trains, at its next step, keeping a checkpoint that ``mleval jobs resume`` continues.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import FinetuneError
from .checks import check_job
from .config import JobConfig, load_job_config
from .evalafter import evaluate_after

__all__ = [
    "CheckpointRow",
    "JobRecord",
    "JobStore",
    "MetricRow",
    "cancel_job",
    "default_store_path",
    "finetune_fixture_factory",
    "resume_job",
    "run_job",
]

Status = Literal["pending", "running", "completed", "failed", "cancelled"]
ENDED = ("completed", "failed", "cancelled")
# How often a training process looks for a cancel request; a step boundary after that notices it.
CANCEL_POLL_S = 0.1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT, method TEXT, status TEXT NOT NULL, config TEXT NOT NULL,
    created_at TEXT, started_at TEXT, finished_at TEXT, updated_at TEXT,
    pid INTEGER, host TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT, model_dir TEXT, adapter_dir TEXT, result TEXT, gate TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    job_id INTEGER NOT NULL, step INTEGER, epoch REAL, kind TEXT, loss REAL, eval_loss REAL,
    learning_rate REAL, tokens_per_s REAL, data TEXT, at TEXT
);
CREATE TABLE IF NOT EXISTS checkpoints (job_id INTEGER NOT NULL, step INTEGER, path TEXT, at TEXT);
CREATE INDEX IF NOT EXISTS metrics_job ON metrics (job_id);
CREATE INDEX IF NOT EXISTS checkpoints_job ON checkpoints (job_id);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MetricRow(_Record):
    """One metric record: a logging step (``train``) or an evaluation (``eval``)."""

    step: int
    """Optimizer step."""
    epoch: float | None = None
    """Fractional epoch."""
    kind: Literal["train", "eval"] = "train"
    """``train`` for a logging step, ``eval`` for a validation pass."""
    loss: float | None = None
    """Mean training loss since the previous record."""
    eval_loss: float | None = None
    """Validation loss."""
    learning_rate: float | None = None
    """Learning rate at this step."""
    tokens_per_s: float | None = None
    """Training tokens (non-padding) per second since the previous record."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Everything else the trainer logged (grad norm, DPO rewards...)."""
    at: str = ""
    """When it was recorded (UTC)."""


class CheckpointRow(_Record):
    """A checkpoint the trainer saved."""

    step: int
    """Step of the checkpoint."""
    path: str
    """Checkpoint directory (resume continues from it)."""
    at: str = ""
    """When it was saved (UTC)."""


class JobRecord(_Record):
    """A job as stored."""

    id: int
    """Job id (``mleval jobs show ID``)."""
    name: str | None = None
    """The job's name."""
    method: str = ""
    """full, lora, qlora, prefix or dpo."""
    status: Status
    """pending, running, completed, failed or cancelled."""
    config: dict[str, Any]
    """The validated job config (paths resolved)."""
    created_at: str | None = None
    """When the job was created."""
    started_at: str | None = None
    """When training (last) started."""
    finished_at: str | None = None
    """When the job ended."""
    updated_at: str | None = None
    """Last status change or heartbeat."""
    pid: int | None = None
    """Process that runs (or ran) the job."""
    host: str | None = None
    """Machine of that process."""
    cancel_requested: bool = False
    """A cancel was requested and not yet honoured."""
    error: str | None = None
    """Why the job failed."""
    model_dir: str | None = None
    """The trained model, loadable as a local model target."""
    adapter_dir: str | None = None
    """The PEFT adapter (PEFT methods)."""
    result: dict[str, Any] | None = None
    """Final trainer metrics and outputs."""
    gate: dict[str, Any] | None = None
    """The ``eval_after`` verdict (:class:`finetune.EvalGate` data)."""
    metrics: list[MetricRow] = Field(default_factory=list)
    """Metric records in order."""
    checkpoints: list[CheckpointRow] = Field(default_factory=list)
    """Checkpoints in order."""

    @property
    def last_checkpoint(self) -> str | None:
        """The newest recorded checkpoint that still exists."""
        for ck in reversed(self.checkpoints):
            if Path(ck.path).is_dir():
                return ck.path
        return None

    @property
    def gate_passed(self) -> bool | None:
        """The eval gate's verdict, or ``None`` without ``eval_after``."""
        return None if self.gate is None else bool(self.gate.get("passed"))


def default_store_path() -> Path:
    """``$MLEVAL_JOBS_DB``, else ``.mleval/jobs.sqlite`` in the working directory."""
    return Path(os.environ.get("MLEVAL_JOBS_DB") or Path(".mleval") / "jobs.sqlite")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStore:
    """The persistent job store: one SQLite file, safe to share between processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        finally:
            db.close()

    def create(self, cfg: JobConfig) -> int:
        """Add a pending job; return its id."""
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO jobs (name, method, status, config, created_at, updated_at) "
                "VALUES (?, ?, 'pending', ?, ?, ?)",
                (cfg.name, cfg.method, cfg.model_dump_json(), _now(), _now()),
            )
            return int(cur.lastrowid or 0)

    def update(self, job_id: int, **fields: Any) -> None:
        """Set columns of a job (dicts are stored as JSON)."""
        fields["updated_at"] = _now()
        cols = ", ".join(f"{k} = ?" for k in fields)
        values = [json.dumps(v) if isinstance(v, dict) else v for v in fields.values()]
        with self._connect() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values, job_id))

    def add_metric(self, job_id: int, row: MetricRow) -> None:
        """Append a metric record."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    row.step,
                    row.epoch,
                    row.kind,
                    row.loss,
                    row.eval_loss,
                    row.learning_rate,
                    row.tokens_per_s,
                    json.dumps(row.data),
                    row.at or _now(),
                ),
            )
            db.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (_now(), job_id))

    def add_checkpoint(self, job_id: int, step: int, path: str) -> None:
        """Record a saved checkpoint."""
        with self._connect() as db:
            db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?)", (job_id, step, path, _now()))

    def cancel_requested(self, job_id: int) -> bool:
        """Whether someone asked this job to stop."""
        with self._connect() as db:
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def get(self, job_id: int) -> JobRecord:
        """One job with its metrics and checkpoints.

        Raises:
            FinetuneError: no such job.
        """
        self.reconcile()
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise FinetuneError(f"no job {job_id} in {self.path}")
            metrics = db.execute(
                "SELECT * FROM metrics WHERE job_id = ? ORDER BY rowid", (job_id,)
            ).fetchall()
            ckpts = db.execute(
                "SELECT * FROM checkpoints WHERE job_id = ? ORDER BY rowid", (job_id,)
            ).fetchall()
        record = self._record(row)
        record.metrics = [
            MetricRow.model_validate({**dict(m), "data": json.loads(m["data"] or "{}")})
            for m in metrics
        ]
        record.checkpoints = [CheckpointRow.model_validate(dict(c)) for c in ckpts]
        return record

    def list(self) -> list[JobRecord]:
        """Every job, newest first (without metric rows)."""
        self.reconcile()
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM jobs ORDER BY id DESC").fetchall()
        return [self._record(r) for r in rows]

    @staticmethod
    def _record(row: sqlite3.Row) -> JobRecord:
        data = dict(row)
        for key in ("config", "result", "gate"):
            data[key] = json.loads(data[key]) if data[key] else None
        data["cancel_requested"] = bool(data["cancel_requested"])
        return JobRecord.model_validate(data)

    def reconcile(self) -> None:
        """Mark running jobs whose process on this machine is gone as failed.

        A process killed outright cannot record its own end; without this its job would show
        as running forever.
        """
        host = socket.gethostname()
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, pid FROM jobs WHERE status = 'running' AND host = ?", (host,)
            ).fetchall()
            for job_id, pid in rows:
                if pid and not _pid_alive(int(pid)):
                    db.execute(
                        "UPDATE jobs SET status = 'failed', error = ?, finished_at = ?, "
                        "updated_at = ? WHERE id = ? AND status = 'running'",
                        (
                            f"the process running the job (pid {pid}) ended without finishing it",
                            _now(),
                            _now(),
                            job_id,
                        ),
                    )


# --------------------------------------------------------------------------- running


def _make_callback(store: JobStore, job_id: int) -> Any:
    """A ``TrainerCallback`` that records metrics and checkpoints and honours cancel requests."""
    from transformers import TrainerCallback

    class JobCallback(TrainerCallback):
        def __init__(self) -> None:
            self.cancelled = False
            self._last_poll = 0.0
            self._mark: tuple[float, int] | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._mark = (time.perf_counter(), int(state.num_input_tokens_seen or 0))

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            now = time.monotonic()
            if now - self._last_poll < CANCEL_POLL_S:
                return
            self._last_poll = now
            if store.cancel_requested(job_id):
                self.cancelled = True
                control.should_save = True
                control.should_training_stop = True

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
        ) -> None:
            logs = dict(logs or {})
            if "loss" not in logs and "eval_loss" not in logs:
                return  # the end-of-training summary is kept in the job's result
            row = MetricRow(
                step=state.global_step,
                epoch=logs.pop("epoch", state.epoch),
                kind="eval" if "eval_loss" in logs else "train",
                loss=logs.pop("loss", None),
                eval_loss=logs.pop("eval_loss", None),
                learning_rate=logs.pop("learning_rate", None),
            )
            if row.kind == "train":
                seen = int(state.num_input_tokens_seen or 0)
                now = time.perf_counter()
                if self._mark is not None and now > self._mark[0]:
                    row.tokens_per_s = (seen - self._mark[1]) / (now - self._mark[0])
                self._mark = (now, seen)
            row.data = {k: v for k, v in logs.items() if isinstance(v, int | float | str)}
            store.add_metric(job_id, row)

        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            store.add_checkpoint(job_id, state.global_step, str(path))

    return JobCallback()


class _Terminated(BaseException):
    """SIGTERM during training: unwinds like Ctrl-C so the job is recorded, not left running."""


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated("terminated by SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_libraries() -> None:
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]


def _train(
    store: JobStore,
    job_id: int,
    cfg: JobConfig,
    progress: bool,
    resume: str | None,
    callbacks: Sequence[Any] = (),
) -> JobRecord:
    from . import train as core

    if not progress:
        _quiet_libraries()
    store.update(
        job_id,
        status="running",
        started_at=_now(),
        finished_at=None,
        pid=os.getpid(),
        host=socket.gethostname(),
        cancel_requested=0,
        error=None,
    )
    callback = _make_callback(store, job_id)
    try:
        with _sigterm_unwinds():
            info = core.run_training(
                cfg.model_dump(mode="json"),
                callbacks=[callback, *callbacks],
                resume_from=resume,
                overrides={"disable_tqdm": not progress},
            )
    except (Exception, KeyboardInterrupt, _Terminated) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        store.update(
            job_id,
            status="cancelled" if interrupted else "failed",
            error=f"{type(exc).__name__}: {exc}",
            finished_at=_now(),
            result={"traceback": traceback.format_exc()[-4000:]},
        )
        if interrupted:
            raise
        raise FinetuneError(f"job {job_id} failed: {type(exc).__name__}: {exc}") from exc
    if info.get("cancelled"):
        store.update(job_id, status="cancelled", cancel_requested=0, finished_at=_now())
        return store.get(job_id)
    store.update(
        job_id,
        model_dir=info["model_dir"],
        adapter_dir=info["adapter_dir"],
        result={k: v for k, v in info.items() if k not in ("model_dir", "adapter_dir")},
    )
    if cfg.eval_after:
        try:
            gate = evaluate_after(cfg, info["model_dir"], Path(cfg.output_dir) / "eval")
        except Exception as exc:
            store.update(job_id, status="failed", error=f"eval_after: {exc}", finished_at=_now())
            raise FinetuneError(f"job {job_id}: eval_after failed: {exc}") from exc
        store.update(job_id, gate=gate.model_dump(mode="json"))
    store.update(job_id, status="completed", finished_at=_now())
    return store.get(job_id)


def run_job(
    config: JobConfig | str | Path | dict[str, Any],
    *,
    store: JobStore | None = None,
    progress: bool = False,
    callbacks: Sequence[Any] = (),
) -> JobRecord:
    """Check and run a fine-tuning job, recording it in the store.

    Args:
        config: A :class:`JobConfig`, a YAML path, or a mapping.
        store: The job store (default: :func:`default_store_path`).
        progress: Show the trainer's progress bar and logs.
        callbacks: Extra ``transformers.TrainerCallback`` objects.

    Returns:
        The job as recorded: ``completed`` (with ``gate`` when ``eval_after`` is set) or
        ``cancelled``.

    Raises:
        ConfigError: the config fails a check; nothing was trained or recorded.
        FinetuneError: training crashed; the job is recorded as ``failed`` with its error.
    """
    cfg = config if isinstance(config, JobConfig) else load_job_config(config)
    for message in check_job(cfg):
        warnings.warn(message, UserWarning, stacklevel=2)
    store = store or JobStore()
    job_id = store.create(cfg)
    return _train(store, job_id, cfg, progress, resume=None, callbacks=callbacks)


def resume_job(job_id: int, *, store: JobStore | None = None, progress: bool = False) -> JobRecord:
    """Continue a cancelled or failed job from its last checkpoint.

    Raises:
        FinetuneError: the job is not resumable (running, completed, no checkpoint).
    """
    store = store or JobStore()
    record = store.get(job_id)
    if record.status not in ("cancelled", "failed"):
        raise FinetuneError(
            f"job {job_id} is {record.status}; only cancelled or failed jobs resume"
        )
    from . import train as core

    cfg = JobConfig.model_validate(record.config)
    checkpoint = record.last_checkpoint or core.last_checkpoint(record.config)
    if checkpoint is None:
        raise FinetuneError(f"job {job_id} has no checkpoint to resume from")
    return _train(store, job_id, cfg, progress, resume=checkpoint)


def cancel_job(job_id: int, *, store: JobStore | None = None) -> JobRecord:
    """Cancel a job: a pending one at once, a running one at its next training step.

    Raises:
        FinetuneError: the job already ended.
    """
    store = store or JobStore()
    record = store.get(job_id)
    if record.status in ENDED:
        raise FinetuneError(f"job {job_id} is already {record.status}")
    if record.status == "pending":
        store.update(job_id, status="cancelled", finished_at=_now())
    else:
        store.update(job_id, cancel_requested=1)
    return store.get(job_id)


def finetune_fixture_factory(base_dir: str | Path) -> Callable[..., JobRecord]:
    """What the ``finetune`` fixture returns: a function running jobs in a private store.

    The function takes a config (``JobConfig``, YAML path or mapping) and keyword overrides of
    top-level fields (e.g. ``method="lora"``); a mapping without ``output_dir`` gets a fresh
    one under ``base_dir``. It returns the :class:`JobRecord`; its ``store`` attribute is the
    :class:`JobStore`.
    """
    base = Path(base_dir)
    store = JobStore(base / "jobs.sqlite")
    counter = iter(range(1, 1_000_000))

    def finetune(config: JobConfig | str | Path | dict[str, Any], **overrides: Any) -> JobRecord:
        if isinstance(config, JobConfig):
            data = config.model_dump(mode="json")
        elif isinstance(config, dict):
            data = dict(config)
        else:
            data = load_job_config(config).model_dump(mode="json")
        data.update(overrides)
        data.setdefault("output_dir", str(base / f"job-{next(counter)}"))
        return run_job(load_job_config(data), store=store, progress=False)

    finetune.store = store  # type: ignore[attr-defined]
    return finetune
