"""``mleval`` output piped into a reader that stops early (``| head``) exits quietly."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mleval.finetune.config import JobConfig
from pytest_mleval.finetune.jobs import JobStore

MLEVAL = [sys.executable, "-m", "pytest_mleval.cli"]


def _many_jobs(path: Path, n: int) -> None:
    """A job store whose ``jobs list`` prints far more than a pipe's 64 KiB buffer."""
    store = JobStore(path)
    cfg = JobConfig.model_validate(
        {
            "name": "a-job-with-a-long-enough-name-" + "x" * 40,
            "base_model": "tiny",
            "method": "lora",
            "dataset": {"train": "qa.jsonl", "columns": {"input": "q", "output": "a"}},
            "output_dir": "out",
        }
    )
    for _ in range(n):
        store.create(cfg)


@pytest.mark.skipif(shutil.which("head") is None, reason="needs head(1)")
def test_jobs_list_into_head_exits_quietly(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    _many_jobs(db, 2000)
    # A real shell pipeline: head exits after one line while mleval still has ~250 KB to write,
    # more than the pipe holds, so mleval's writes are bound to meet the closed pipe.
    cmd = " ".join(shlex.quote(a) for a in [*MLEVAL, "jobs", "list", "--store", str(db)])
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {cmd} | head -1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.startswith("  id  status")
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "BrokenPipeError" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.stderr == ""
    # pipefail reports mleval's own status: 141, as for any program stopped by a closed pipe.
    assert proc.returncode == 141


@pytest.mark.parametrize(
    "args",
    [["schema", "cases"], ["schema", "results"], ["--help"], ["jobs", "list"]],
    ids=["schema-cases", "schema-results", "help", "jobs-list"],
)
def test_reader_gone_before_the_first_write(tmp_path: Path, args: list[str]) -> None:
    # The read end is closed before mleval writes anything: every write fails, including
    # output that would fit in the pipe's buffer and the interpreter's final flush.
    if args[0] == "jobs":
        _many_jobs(tmp_path / "jobs.sqlite", 3)
        args = [*args, "--store", str(tmp_path / "jobs.sqlite")]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [*MLEVAL, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)
    assert proc.stderr == "", proc.stderr
    # argparse swallows the OSError of its own --help write and exits 0; everything else
    # reports the closed pipe as 141.
    assert proc.returncode in ((0, 141) if args == ["--help"] else (141,))


def test_normal_output_is_unchanged(tmp_path: Path) -> None:
    proc = subprocess.run([*MLEVAL, "schema", "cases"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert proc.stdout.lstrip().startswith("{")
