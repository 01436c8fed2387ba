"""Fine-tuning on TRL/PEFT with an eval gate afterwards (a service; torch and TRL load only when
training).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .jobs import JobRecord, JobStore, cancel_job, resume_job, run_job
    from .run import (
        JobConfig,
        check_job,
        export_script,
        gate_verdict,
        load_job_config,
        load_trained_model,
    )

_WHERE = {
    "JobConfig": "run",
    "JobRecord": "jobs",
    "JobStore": "jobs",
    "cancel_job": "jobs",
    "check_job": "run",
    "export_script": "run",
    "gate_verdict": "run",
    "load_job_config": "run",
    "load_trained_model": "run",
    "resume_job": "jobs",
    "run_job": "jobs",
}

__all__ = [
    "JobConfig",
    "JobRecord",
    "JobStore",
    "cancel_job",
    "check_job",
    "export_script",
    "gate_verdict",
    "load_job_config",
    "load_trained_model",
    "resume_job",
    "run_job",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
