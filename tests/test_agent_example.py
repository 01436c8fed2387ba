"""examples/agent works as its README says: offline against its scripted stand-in, scored on
its trajectory, gated, and replayed from the cache with no model call."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "agent"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


PORT = _free_port()


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # One stand-in port for every run of this module, as a user's fixed one: replay needs it.
    env = {**os.environ, "CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    env["MLEVAL_STANDIN_PORT"] = str(PORT)
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "examples/agent",
            "-p",
            "no:cacheprovider",
            "--mleval-cache-path",
            str(workdir / "cache.sqlite"),
            *args,
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _results(workdir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((workdir / "reports" / "mleval-results.json").read_text())
    return data


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy, so the run's reports and index stay out of the checkout; the corpus it
    # searches is the real one (rag.yaml points two folders up).
    base = tmp_path_factory.mktemp("example")
    shutil.copytree(
        EXAMPLE, base / "examples" / "agent", ignore=shutil.ignore_patterns("__pycache__")
    )
    (base / "fixtures").symlink_to(ROOT / "fixtures")
    return base


def test_the_agent_example_runs_offline_and_is_scored_on_its_trajectory(workdir: Path) -> None:
    proc = _run(workdir)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    run = _results(workdir)
    cases = {c["case_id"]: c for c in run["cases"]}
    assert set(cases) == {"which-files", "follow-up", "spreadsheet", "greeting"}
    assert all(c["passed"] for c in cases.values())
    which = cases["which-files"]
    (call,) = [c for t in which["trajectory"]["turns"] for c in t["tool_calls"]]
    assert call["name"] == "search_docs" and call["error"] is None
    # The tool really searched the docs: its result holds passages of the corpus.
    assert any(p["doc"] == "eval-files.md" for p in call["result"])
    assert "eval-files.md" in which["output"]
    assert which["scores"]["tool_sequence"]["passed"] is True
    assert cases["greeting"]["trajectory"]["turns"][0]["tool_calls"] == []
    follow_up = cases["follow-up"]["messages"]
    assert follow_up[0]["role"] == "system"  # the suite's, before the case's conversation
    assert follow_up[-1]["content"] == "How do I change those patterns?"
    gates = {g["metric"]: g["passed"] for g in run["gates"]}
    assert gates == {"pass_rate": True, "tool_error": True}
    html = (workdir / "reports" / "mleval-report.html").read_text()
    assert "search_docs" in html


def test_a_recorded_agent_run_replays_with_no_model_call(workdir: Path) -> None:
    first = _run(workdir)
    assert first.returncode == 0, first.stdout[-4000:]
    proc = _run(workdir, "--mleval-cache", "replay")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    turns = [t for c in _results(workdir)["cases"] for t in c["trajectory"]["turns"]]
    assert turns and all(t["cached"] for t in turns)


def test_the_example_runs_under_xdist(workdir: Path) -> None:
    # One stand-in for the run (the controller's), however many workers call it.
    proc = _run(workdir, "-n", "2", "--mleval-cache", "off")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert {c["case_id"]: c["passed"] for c in _results(workdir)["cases"]} == {
        "which-files": True,
        "follow-up": True,
        "spreadsheet": True,
        "greeting": True,
    }
