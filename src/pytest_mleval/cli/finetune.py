"""The ``mleval finetune`` and ``mleval jobs`` commands (registered by :mod:`cli`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import FinetuneError
from ..finetune.config import load_job_config
from ..finetune.export import export_script
from ..finetune.jobs import JobRecord, JobStore, cancel_job, resume_job, run_job

__all__ = ["add_finetune_commands"]


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def _summary_line(job: JobRecord) -> str:
    gate = {None: "-", True: "passed", False: "FAILED"}[job.gate_passed]
    created = job.created_at or "-"
    return (
        f"{job.id:>4}  {job.status:<9}  {job.method:<6}  {gate:<6}  {created:<29}  {job.name or ''}"
    )


def _show(job: JobRecord) -> list[str]:
    lines = [
        f"job {job.id}: {job.status}" + (f" ({job.name})" if job.name else ""),
        f"  method      {job.method}",
        f"  base model  {job.config.get('base_model')}",
        f"  output dir  {job.config.get('output_dir')}",
        f"  created     {job.created_at}   started {job.started_at or '-'}   "
        f"finished {job.finished_at or '-'}",
    ]
    if job.model_dir:
        lines.append(f"  model       {job.model_dir}")
    if job.last_checkpoint:
        lines.append(f"  checkpoint  {job.last_checkpoint}")
    if job.error:
        lines.append(f"  error       {job.error}")
    if job.gate is not None:
        verdict = "passed" if job.gate_passed else "FAILED"
        lines.append(f"  eval gate   {verdict}: {job.gate.get('reason', '')}")
    if job.metrics:
        lines.append("  step  epoch   kind   loss      eval_loss  lr         tokens/s")
        for m in job.metrics:
            lines.append(
                f"  {m.step:>4}  {_fmt(m.epoch, '.2f'):>6}  {m.kind:<5}  {_fmt(m.loss):<8}  "
                f"{_fmt(m.eval_loss):<9}  {_fmt(m.learning_rate, '.3g'):<9}  "
                f"{_fmt(m.tokens_per_s, '.0f')}"
            )
    return lines


def _exit_code(job: JobRecord) -> int:
    return 0 if job.status == "completed" and job.gate_passed is not False else 1


def _cmd_finetune(args: argparse.Namespace) -> int:
    cfg = load_job_config(args.config)
    if args.export_script:
        path = export_script(cfg, args.export_script, config_name=Path(args.config).name)
        print(f"wrote {path}")
        return 0
    job = run_job(cfg, store=JobStore(args.store), progress=not args.no_progress)
    print("\n".join(_show(job.model_copy(update={"metrics": job.metrics[-5:]}))))
    return _exit_code(job)


def _cmd_jobs(args: argparse.Namespace) -> int:
    store = JobStore(args.store)
    if args.action == "list":
        jobs = store.list()
        if args.json:
            print(json.dumps([j.model_dump(mode="json") for j in jobs], indent=2))
        else:
            print("  id  status     method  gate    created                        name")
            for job in jobs:
                print(_summary_line(job))
        return 0
    if args.job_id is None:
        raise FinetuneError(f"mleval jobs {args.action} needs a job id")
    if args.action == "show":
        job = store.get(args.job_id)
        print(
            json.dumps(job.model_dump(mode="json"), indent=2)
            if args.json
            else "\n".join(_show(job))
        )
        return 0
    if args.action == "cancel":
        job = cancel_job(args.job_id, store=store)
        state = (
            "cancelled"
            if job.status == "cancelled"
            else "cancel requested (stops at its next step)"
        )
        print(f"job {job.id}: {state}")
        return 0
    job = resume_job(args.job_id, store=store, progress=not args.no_progress)
    print("\n".join(_show(job.model_copy(update={"metrics": job.metrics[-5:]}))))
    return _exit_code(job)


def add_finetune_commands(subparsers: Any) -> None:
    """Register ``mleval finetune`` and ``mleval jobs`` on the CLI's subparsers."""
    store_help = "job store (default: $MLEVAL_JOBS_DB or .mleval/jobs.sqlite)"
    p = subparsers.add_parser("finetune", help="run a fine-tuning job (TRL/PEFT) from a YAML file")
    p.add_argument("config", help="job config YAML")
    p.add_argument("--export-script", metavar="PATH", help="write a standalone TRL script instead")
    p.add_argument("--store", default=None, help=store_help)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_finetune)

    p = subparsers.add_parser("jobs", help="list, show, cancel or resume fine-tuning jobs")
    p.add_argument("action", choices=["list", "show", "cancel", "resume"])
    p.add_argument("job_id", nargs="?", type=int, help="job id (show, cancel, resume)")
    p.add_argument("--store", default=None, help=store_help)
    p.add_argument("--json", action="store_true", help="JSON output (list, show)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (resume)")
    p.set_defaults(func=_cmd_jobs)
