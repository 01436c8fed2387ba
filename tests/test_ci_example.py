"""The GitHub Actions example works as written: its own steps, run offline, twice.

The workflow file is parsed and its steps run in order, as a runner would: `run:` steps in
bash with GitHub's expressions and environment substituted, the actions it uses simulated on
a local store that stands for GitHub's caches and artifacts. Each workflow run gets a fresh
copy of this checkout and a fresh venv in which the workflow's own install step installs
pytest-mleval from this checkout as a wheel (never the source tree). To keep that bounded the
venv sees, through a path entry, the packages already installed here, but only those that the
install line's extras require: an extra the suites need and the line forgets fails here as on
GitHub. A push to main runs first (it records), then a pull request (it replays, compares with
the push's results, posts its comment, and finds two runs in the history).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "github-actions" / "mleval.yml"

pytestmark = pytest.mark.slow


# -- GitHub expressions ------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|&&|\|\||[!<>(),])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_*][A-Za-z0-9_-]*)*))"
)
_STATUS = ("always", "success", "failure", "cancelled")


class Expressions:
    """GitHub's expression language, as much of it as the workflow uses: unknown names fail."""

    def __init__(self, contexts: dict[str, Any], functions: dict[str, Any]) -> None:
        self.contexts = contexts
        self.functions = functions

    def _lookup(self, path: str) -> Any:
        head, *rest = path.split(".")
        if head not in self.contexts:
            raise AssertionError(f"the workflow uses an unknown context: {path}")
        value = self.contexts[head]
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def evaluate(self, expr: str) -> Any:
        pos, out = 0, []
        expr = expr.strip()
        while pos < len(expr):
            m = _TOKEN.match(expr, pos)
            if not m or m.end() == pos:
                raise AssertionError(f"cannot read expression {expr!r} at {expr[pos:]!r}")
            pos = m.end()
            if m["str"] is not None:
                out.append(repr(m["str"][1:-1].replace("''", "'")))
            elif m["num"] is not None:
                out.append(m["num"])
            elif m["op"] is not None:
                out.append({"&&": " and ", "||": " or ", "!": " not "}.get(m["op"], m["op"]))
            elif expr[pos:].lstrip().startswith("("):
                if m["name"] not in self.functions:
                    raise AssertionError(f"the workflow uses an unknown function: {m['name']}")
                out.append(f"_f[{m['name']!r}]")
            elif m["name"] in ("true", "false", "null"):
                out.append({"true": "True", "false": "False", "null": "None"}[m["name"]])
            else:
                out.append(f"_get({m['name']!r})")
        return eval(
            "".join(out), {"__builtins__": {}}, {"_f": self.functions, "_get": self._lookup}
        )

    def substitute(self, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            value = self.evaluate(m.group(1))
            if value is None or value is False:
                return "" if value is None else "false"
            return "true" if value is True else str(value)

        return re.sub(r"\$\{\{(.*?)\}\}", one, text)

    def condition(self, expr: str | bool | None) -> bool:
        if expr is None:
            expr = "success()"
        if isinstance(expr, bool):
            return expr
        expr = expr.strip()
        if expr.startswith("${{") and expr.endswith("}}"):
            expr = expr[3:-2]
        # A condition without a status function is implicitly `success() && (...)`.
        if not any(re.search(rf"\b{f}\s*\(", expr) for f in _STATUS):
            expr = f"success() && ({expr})"
        return bool(self.evaluate(expr))


# -- A runner: workspace, run steps in bash, simulated actions -------------------------------


@dataclass
class Step:
    name: str
    outcome: str
    output: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Store:
    """GitHub's side: the repository's caches and the artifacts of earlier runs."""

    root: Path
    comments: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def cache_dir(self, key: str) -> Path:
        return self.root / "caches" / hashlib.sha256(key.encode()).hexdigest()

    def save_cache(self, key: str, src: Path, rel: str) -> bool:
        if key in self.order or not src.exists():
            return False  # entries are immutable; a missing path saves nothing (a warning)
        target = self.cache_dir(key) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        self.order.append(key)
        return True

    def find_cache(self, key: str, restore_keys: list[str]) -> str | None:
        if key in self.order:
            return key
        for prefix in restore_keys:
            for candidate in reversed(self.order):  # the newest first
                if candidate.startswith(prefix):
                    return candidate
        return None

    def artifact(self, name: str) -> Path:
        return self.root / "artifacts" / name


def _hash_files(workspace: Path, *patterns: str) -> str:
    digest = hashlib.sha256()
    found = False
    for pattern in patterns:
        # GitHub's `dir/**` means every file below dir; pathlib's means the directories.
        glob = f"{pattern}/*" if pattern.endswith("**") else pattern
        for path in sorted(workspace.glob(glob)):
            if path.is_file():
                found = True
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest() if found else ""


def _copy_checkout(dest: Path) -> None:
    """What actions/checkout gives: the files git knows (untracked ones not ignored too)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


class Runner:
    """Runs the workflow's job once for one event, as GitHub's runner would."""

    def __init__(
        self, workflow: dict[str, Any], store: Store, tools: tuple[Path, dict[str, str]], tmp: Path
    ) -> None:
        self.workflow = workflow
        self.store = store
        self.tools = tools
        self.tmp = tmp

    def run(self, event: str, run_id: int) -> tuple[Path, Path, list[Step]]:
        home = self.tmp / f"run-{run_id}"
        workspace, venv = home / "workspace", home / "python"
        workspace.mkdir(parents=True)
        job = self.workflow["jobs"]["evals"]
        self.post: list[tuple[str, dict[str, str]]] = []
        steps_ctx: dict[str, Any] = {}
        env: dict[str, str] = {}
        results: list[Step] = []
        github = {
            "event_name": event,
            "base_ref": "main" if event == "pull_request" else "",
            "ref": "refs/heads/main" if event != "pull_request" else "refs/pull/7/merge",
            "run_id": str(run_id),
            "run_attempt": "1",
            "workspace": str(workspace),
        }

        def status(name: str) -> bool:
            failed = any(s.outcome == "failure" and not s.outputs.get("_continue") for s in results)
            return {"always": True, "success": not failed, "failure": failed}[name]

        expressions = Expressions(
            {"github": github, "env": env, "steps": steps_ctx, "secrets": {}, "runner": {}},
            {
                "always": lambda: status("always"),
                "success": lambda: status("success"),
                "failure": lambda: status("failure"),
                "cancelled": lambda: False,
                "hashFiles": lambda *p: _hash_files(workspace, *p),
                "startsWith": lambda a, b: str(a or "").lower().startswith(str(b or "").lower()),
                "format": lambda f, *a: f.format(*a),
            },
        )
        env.update({k: expressions.substitute(str(v)) for k, v in job.get("env", {}).items()})
        for raw in job["steps"]:
            name = raw.get("name") or raw.get("uses") or raw.get("run", "").splitlines()[0]
            if not expressions.condition(raw.get("if")):
                results.append(Step(name, "skipped"))
                continue
            step_env = dict(env)
            step_env.update(
                {k: expressions.substitute(str(v)) for k, v in raw.get("env", {}).items()}
            )
            inputs = {k: expressions.substitute(str(v)) for k, v in raw.get("with", {}).items()}
            started = time.monotonic()
            if "run" in raw:
                step = self._run(
                    name, expressions.substitute(raw["run"]), step_env, env, workspace, venv
                )
            else:
                step = self._uses(name, raw["uses"], inputs, workspace, venv)
            step.seconds = time.monotonic() - started
            if step.outcome == "failure" and raw.get("continue-on-error"):
                step.outputs["_continue"] = "1"
            results.append(step)
            if "id" in raw:
                steps_ctx[raw["id"]] = {
                    "outputs": {k: v for k, v in step.outputs.items() if not k.startswith("_")},
                    "outcome": step.outcome,
                    "conclusion": "success" if step.outputs.get("_continue") else step.outcome,
                }
        failed = any(s.outcome == "failure" and not s.outputs.get("_continue") for s in results)
        for action, inputs in self.post if not failed else []:
            self._uses(f"post {action}", action, inputs, workspace, venv)
        return workspace, venv, results

    def _run(
        self,
        name: str,
        script: str,
        step_env: dict[str, str],
        job_env: dict[str, str],
        workspace: Path,
        venv: Path,
    ) -> Step:
        files = workspace.parent / "runner"
        files.mkdir(exist_ok=True)
        (files / "script.sh").write_text(script)
        github_env, github_output = files / "env", files / "output"
        github_env.write_text("")
        github_output.write_text("")
        full = {
            **self._base_env(workspace, venv),
            **step_env,
            "GITHUB_ENV": str(github_env),
            "GITHUB_OUTPUT": str(github_output),
        }
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(files / "script.sh")],
            cwd=workspace,
            env=full,
            capture_output=True,
            text=True,
            timeout=600,
        )
        for line in github_env.read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                job_env[key] = value
        outputs = dict(
            line.split("=", 1) for line in github_output.read_text().splitlines() if "=" in line
        )
        outcome = "success" if proc.returncode == 0 else "failure"
        return Step(name, outcome, proc.stdout + proc.stderr, outputs)

    def _base_env(self, workspace: Path, venv: Path) -> dict[str, str]:
        return {
            # The venv and the system's tools, nothing else of this machine's (no other pytest).
            "PATH": os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"]),
            "HOME": str(workspace.parent / "home"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "VIRTUAL_ENV": str(venv),
            # Offline: pip finds every requirement among the packages the venv sees, builds
            # with the setuptools it sees, and reads no configuration of this machine.
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": "",
            "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1",
        }

    def _uses(
        self, name: str, uses: str, inputs: dict[str, str], workspace: Path, venv: Path
    ) -> Step:
        action = uses.split("@")[0]
        if action == "actions/checkout":
            _copy_checkout(workspace)
            return Step(name, "success")
        if action == "actions/setup-python":
            # The runner's Python: a fresh venv of this interpreter, first on PATH.
            make_venv(venv, *self.tools)
            return Step(name, "success")
        if action == "actions/cache":
            # Restores now; saves in the job's post step, and only when the job succeeded.
            self.post.append(("actions/cache/save", inputs))
            action = "actions/cache/restore"
        if action == "actions/cache/restore":
            keys = [k.strip() for k in inputs.get("restore-keys", "").splitlines() if k.strip()]
            found = self.store.find_cache(inputs["key"], keys)
            if found:
                shutil.copytree(self.store.cache_dir(found), workspace, dirs_exist_ok=True)
            outputs = {
                "cache-hit": "true" if found == inputs["key"] else "false",
                "cache-primary-key": inputs["key"],
                "cache-matched-key": found or "",
            }
            return Step(name, "success", f"restored {found}", outputs)
        if action == "actions/cache/save":
            saved = self.store.save_cache(inputs["key"], workspace / inputs["path"], inputs["path"])
            return Step(name, "success", "saved" if saved else "warning: nothing saved")
        if action == "dawidd6/action-download-artifact":
            src = self.store.artifact(inputs["name"])
            if src.exists():
                shutil.copytree(src, workspace / inputs["path"], dirs_exist_ok=True)
            return Step(name, "success", "downloaded" if src.exists() else "warning: none")
        if action == "actions/upload-artifact":
            src, dest = workspace / inputs["path"], self.store.artifact(inputs["name"])
            if not src.exists():
                return Step(name, "success", "warning: no files found, nothing uploaded")
            shutil.rmtree(dest, ignore_errors=True)
            if src.is_dir():
                shutil.copytree(src, dest)
            else:
                dest.mkdir(parents=True)
                shutil.copy2(src, dest / src.name)
            return Step(name, "success")
        if action == "marocchino/sticky-pull-request-comment":
            path = workspace / inputs["path"]
            if not path.is_file():
                return Step(name, "failure", f"{path} not found")
            self.store.comments[inputs["header"]] = path.read_text()
            return Step(name, "success")
        raise AssertionError(f"the workflow uses an action this test does not simulate: {uses}")


# -- The clean venv ------------------------------------------------------------------------------


def _closure(extras: set[str]) -> set[str]:
    """Distributions that pytest-mleval[extras] needs, by their installed metadata here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pending: list[tuple[str, str]] = [(r, "") for r in project["dependencies"]]
    wanted, done = set(extras), set[str]()
    while wanted - done:
        extra = (wanted - done).pop()
        done.add(extra)
        for spec in project["optional-dependencies"][extra]:
            req = Requirement(spec)
            if canonicalize_name(req.name) == "pytest-mleval":
                wanted |= req.extras
            else:
                pending.append((spec, ""))
    names: set[str] = set()
    while pending:
        spec, _ = pending.pop()
        req = Requirement(spec)
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in names:
            continue
        names.add(name)
        dist = metadata.distribution(name)
        for sub in dist.requires or []:
            sreq = Requirement(sub)
            if sreq.marker and not any(
                sreq.marker.evaluate({"extra": e}) for e in ("", *sorted(req.extras))
            ):
                continue
            pending.append((str(sreq).split(";")[0], ""))
    return names


def tools_dir(tmp: Path, extras: set[str]) -> tuple[Path, dict[str, str]]:
    """Links to the installed packages that pytest-mleval[extras] needs, and their scripts."""
    tools = tmp / "site-tools"
    tools.mkdir()
    scripts: dict[str, str] = {}
    # The runner's build tools (setup-python has recent ones), then the requirements.
    # (setuptools >= 70.1 builds wheels without the `wheel` package.)
    for name in sorted(_closure(extras) | {"setuptools"}):
        dist = metadata.distribution(name)
        for ep in dist.entry_points.select(group="console_scripts"):
            scripts[ep.name] = ep.value
        site = Path(str(dist.locate_file("")))
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            if top in ("..", "__pycache__") or top.endswith(".pth") or (tools / top).exists():
                continue
            if (site / top).exists():
                (tools / top).symlink_to(site / top)
    return tools, scripts


def make_venv(venv: Path, tools: Path, scripts: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # The console scripts of the packages the venv sees (`pytest`, ...), as if installed in
    # it: a bare `pytest` in a step must not find some other pytest on the machine.
    for script, target in scripts.items():
        module, _, attr = target.partition(":")
        path = venv / "bin" / script
        path.write_text(
            f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom {module} import {attr.split('.')[0]}\n"
            f"sys.exit({attr}())\n"
        )
        path.chmod(0o755)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # The setuptools a 3.11 venv seeds is too old to build this project (PEP 639 licence);
    # the runner's newer one comes with the tools.
    for seeded in [*site.glob("setuptools*"), site / "pkg_resources", site / "_distutils_hack"]:
        shutil.rmtree(seeded, ignore_errors=True)
    (site / "distutils-precedence.pth").unlink(missing_ok=True)
    # Appended after the venv's own site-packages: what the venv installs wins.
    (site / "zz-runner-tools.pth").write_text(f"{tools}\n")


# -- The test ------------------------------------------------------------------------------------


def _install_extras(workflow: dict[str, Any]) -> set[str]:
    install = next(s for s in workflow["jobs"]["evals"]["steps"] if s.get("name") == "Install")
    match = re.search(r"""pip install (?:-e )?["']?\.\[([\w,-]+)\]""", install["run"])
    assert match, install["run"]
    return set(match.group(1).split(","))


def _summary(steps: list[Step]) -> str:
    return "\n".join(
        f"--- {s.name}: {s.outcome} ({s.seconds:.1f} s)\n{s.output[-3000:]}" for s in steps
    )


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)
def test_workflow_runs_as_written(tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    store = Store(tmp_path / "github")
    runner = Runner(workflow, store, tools_dir(tmp_path, _install_extras(workflow)), tmp_path)

    # 1. A push to main: nothing cached, so it records; its results become the baseline.
    ws, venv, steps = runner.run("push", 1001)
    by_name = {s.name: s for s in steps}
    report = _summary(steps)
    print(*(f"{s.seconds:6.1f} s  {s.name}" for s in steps), sep="\n")
    assert all(s.outcome in ("success", "skipped") for s in steps), report
    assert "--mleval-cache rw" in by_name["Replay or record"].output, report
    assert by_name["Run the evals"].outcome == "success", report
    assert by_name["Fail on gate failures or regressions"].outcome == "skipped"
    assert (store.artifact("mleval-results") / "mleval-results.json").is_file()
    results = json.loads((ws / "reports" / "mleval-results.json").read_text())
    assert results["meta"]["exit_status"] == 0
    assert {s["name"] for s in results["suites"]} >= {"support-bot", "docs-rag-hybrid"}
    # pytest-mleval came from the wheel the install step built, not from the source tree.
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import pytest_mleval; print(pytest_mleval.__file__)"],
        cwd=ws,
        env=runner._base_env(ws, venv),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    assert not list(venv.glob("lib/*/site-packages/__editable__*"))

    # A recording for these eval files, as a schedule run with model calls would leave.
    evals_hash = _hash_files(ws, "evals/**")
    recorded = tmp_path / "recorded" / ".mleval" / "cache.sqlite"
    recorded.parent.mkdir(parents=True)
    from pytest_mleval.inference.cache import _SCHEMA

    with sqlite3.connect(recorded) as db:
        db.execute(_SCHEMA)
    assert store.save_cache(f"mleval-cache-{evals_hash}-1000", recorded, ".mleval/cache.sqlite")

    # 2. A pull request: replays, compares with main, comments, and sees two runs of history.
    ws, venv, steps = runner.run("pull_request", 1002)
    by_name = {s.name: s for s in steps}
    report = _summary(steps)
    print(*(f"{s.seconds:6.1f} s  {s.name}" for s in steps), sep="\n")
    assert all(s.outcome in ("success", "skipped") for s in steps), report
    assert "--mleval-cache replay" in by_name["Replay or record"].output, report
    assert (ws / ".mleval" / "cache.sqlite").is_file()
    assert (ws / "baseline" / "mleval-results.json").is_file()
    assert by_name["Keep this run's results (baseline for pull requests)"].outcome == "skipped"
    results = json.loads((ws / "reports" / "mleval-results.json").read_text())
    assert results["meta"]["exit_status"] == 0
    assert results["comparison"] and results["comparison"]["suites"], "baseline not used"
    comment = store.comments["mleval"]
    assert comment.startswith("## pytest-mleval results") and "Compared with baseline" in comment
    history = by_name["Show the run history"].output
    assert len(re.findall(r"^\s*\d+\s+\w+\s+20\d\d-", history, flags=re.M)) == 2, history

    from pytest_mleval.report.history import metric_trends, recent_runs, resolve_url

    saved = store.cache_dir("mleval-history-1002-1") / "reports" / "mleval-history.sqlite"
    url = resolve_url(str(saved))
    assert len(recent_runs(url)) == 2
    trends = metric_trends(url)
    assert trends and all(len(points) == 2 for points in trends.values())
    # Recording happens on the schedule and on manual runs (and on cache misses).
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert {"pull_request", "push", "schedule", "workflow_dispatch"} <= set(triggers)
