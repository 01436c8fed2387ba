"""The sharded GitHub Actions example: its structure holds together, and its shard and merge
steps, run as written (bash, the workflow's environment, artifacts copied as GitHub would),
give the run one unsharded run gives.

The full simulation (fresh venv, the install step, caches, history) is
tests/test_ci_example.py's, for mleval.yml; this file checks what the matrix adds.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "github-actions" / "mleval-sharded.yml"
SINGLE = ROOT / "examples" / "github-actions" / "mleval.yml"

APP = """
def answer(case):
    words = case.expected.split()
    return " ".join(words[: len(words) - int(case.vars["drop"])])
"""

SUITE = """
suite: qa
target: python:app:answer
prompt: "{{ input }}"
metrics:
  - rouge_l: {threshold: 0.5}
gates:
  - {metric: rouge_l, stat: mean, min: 0.6, on: ci_low}
cases:
""" + "".join(
    f"  - {{id: q{i}, input: q {i}, expected: 'one two three four five six {i}', "
    f"vars: {{drop: {i % 4}}}}}\n"
    for i in range(12)
)


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return data


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in job["steps"] if s.get("name") == name)
    return step


def _uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action + "@")]


def test_the_matrix_feeds_the_merge(workflow: dict[str, Any]) -> None:
    shard, merge = workflow["jobs"]["shard"], workflow["jobs"]["merge"]
    count = int(workflow["env"]["SHARDS"])
    assert shard["strategy"]["matrix"]["shard"] == list(range(1, count + 1))
    assert shard["strategy"]["fail-fast"] is False
    # The merge runs after every shard, also when one failed (it then names the missing one).
    assert merge["needs"] == "shard" and merge["if"] == "always()"
    run = _step(shard, "Run this shard")
    assert run["env"]["SHARD"] == "${{ matrix.shard }}"
    assert '--mleval-shard "$SHARD/$SHARDS"' in run["run"]
    assert '--mleval-report-dir "reports/shard-$SHARD"' in run["run"]
    # Each shard's results go up under a name the merge job's download pattern takes.
    (upload,) = _uses(shard, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"].splitlines() == [
        f"reports/shard-${{{{ matrix.shard }}}}/{name}"
        for name in ("mleval-results.json", "junit.xml")
    ]
    assert '--junitxml "reports/shard-$SHARD/junit.xml"' in run["run"]
    (download,) = _uses(merge, "actions/download-artifact")
    names = [upload["with"]["name"].replace("${{ matrix.shard }}", str(i)) for i in range(1, 4)]
    assert all(fnmatch.fnmatch(n, download["with"]["pattern"]) for n in names)
    assert "merge-multiple" not in download["with"]  # one folder per artifact: no clobbering
    step = _step(merge, "Merge the shards")
    assert f"mleval merge {download['with']['path']}/*/mleval-results.json" in step["run"]
    assert "-o reports/mleval-results.json" in step["run"]
    # The gates only the merge decides reach JUnit, in the report artifact beside the HTML.
    assert "--junitxml reports/junit-gates.xml" in step["run"]
    assert any(u["with"]["path"] == "reports/" for u in _uses(merge, "actions/upload-artifact"))
    # The comment is the merged run's summary; the verdict is the merge's.
    (comment,) = _uses(merge, "marocchino/sticky-pull-request-comment")
    assert comment["with"]["path"] == "reports/mleval-summary.md"
    assert _step(merge, "Fail on gate failures, regressions or missing shards")["if"] == (
        "steps.merge.outcome == 'failure'"
    )
    # Both jobs install what the single-runner workflow installs (the merge loads the suites).
    single = _step(yaml.safe_load(SINGLE.read_text())["jobs"]["evals"], "Install")["run"]
    assert _step(shard, "Install")["run"] == single == _step(merge, "Install")["run"]
    # Shards and merge compare with one baseline: the same artifact of the same workflow.
    baselines = [_uses(j, "dawidd6/action-download-artifact") for j in (shard, merge)]
    assert baselines[0] == baselines[1] and len(baselines[0]) == 1
    assert baselines[0][0]["with"]["workflow"] == WORKFLOW.name


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert "${{" not in script, "expressions belong in env:, not in the script"
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_shard_and_merge_steps_run_as_written(workflow: dict[str, Any], tmp_path: Path) -> None:
    ws = tmp_path / "workspace"
    (ws / "evals").mkdir(parents=True)
    (ws / "app.py").write_text(APP)
    (ws / "evals" / "qa.eval.yaml").write_text(SUITE)
    bindir = Path(sys.executable).parent
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MLEVAL_"))},
        **{k: str(v) for k, v in workflow["env"].items()},
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ws),
        "MLEVAL_LITELLM_SERVER": "off",
    }
    # The main branch's results, as the baseline artifact a pull request downloads.
    base = subprocess.run(
        [sys.executable, "-m", "pytest", "evals/", "--mleval-report-dir=baseline", "-q"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (ws / "baseline" / "mleval-results.json").is_file(), base.stdout + base.stderr

    shard_job, merge_job = workflow["jobs"]["shard"], workflow["jobs"]["merge"]
    run = _step(shard_job, "Run this shard")
    for i in shard_job["strategy"]["matrix"]["shard"]:
        step_env = {**env, "SHARD": str(i), "OPENAI_API_KEY": ""}
        done = _bash(run["run"], ws, step_env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"shard {i}/3: pytest exit status" in done.stdout
        # upload-artifact, then download-artifact's pattern: shards/<artifact name>/<file>.
        name = f"mleval-shard-{i}"
        dest = ws / "shards" / name / "mleval-results.json"
        dest.parent.mkdir(parents=True)
        dest.write_bytes((ws / "reports" / f"shard-{i}" / "mleval-results.json").read_bytes())
        assert (ws / "reports" / f"shard-{i}" / "junit.xml").is_file()
    merged_step = _bash(_step(merge_job, "Merge the shards")["run"], ws, env)
    assert merged_step.returncode == 0, merged_step.stdout + merged_step.stderr
    merged = json.loads((ws / "reports" / "mleval-results.json").read_text())
    assert (ws / "reports" / "mleval-summary.md").read_text().startswith("## pytest-mleval")

    whole = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "evals/",
            "--mleval-report-dir=whole",
            "--mleval-baseline=baseline/mleval-results.json",
            "-q",
        ],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    full = json.loads((ws / "whole" / "mleval-results.json").read_text())
    assert whole.returncode in (0, 1)
    assert merged["aggregates"] == full["aggregates"]
    assert merged["gates"] == full["gates"]
    assert merged["comparison"] == full["comparison"] and merged["comparison"]["suites"]
    assert len(merged["meta"]["merged_from"]) == 3
    assert re.search(r"3 shard\(s\), 12 case\(s\)", merged_step.stdout)
    # The merge's JUnit has the gates of the whole run, as test cases of the suite.
    gates = ET.parse(ws / "reports" / "junit-gates.xml").getroot().iter("testcase")
    names = sorted(str(c.get("name")) for c in gates)
    assert names == ["gate[mean(rouge_l).ci_low]", "gate[regression]"]
    assert len(full["gates"]) == 2
