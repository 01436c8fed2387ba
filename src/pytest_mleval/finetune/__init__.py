"""Fine-tuning on TRL/PEFT with an eval gate afterwards (a service; torch and TRL load only when
training).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .checks import check_job
    from .config import JobConfig, load_job_config
    from .evalafter import gate_verdict, load_trained_model
    from .export import export_script
    from .jobs import JobRecord, JobStore, cancel_job, resume_job, run_job

_WHERE = {
    "JobConfig": "config",
    "JobRecord": "jobs",
    "JobStore": "jobs",
    "cancel_job": "jobs",
    "check_job": "checks",
    "export_script": "export",
    "gate_verdict": "evalafter",
    "load_job_config": "config",
    "load_trained_model": "evalafter",
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


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
