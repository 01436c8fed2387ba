"""pytest-mleval against its peers (issue 16): promptfoo, inspect-ai and a raw aiohttp client.

Every tool runs as a whole process against the same OpenAI-compatible loopback server
(`python -m pytest_mleval.inference.testserver`, one per latency, each in its own process) on
the same cases (distinct prompts `q<i>`, every reply "ok", scored by exact match). Workloads:
  500ms   200 cases, 500 ms server latency, concurrency 32
  0ms     200 cases, 0 ms latency, concurrency 32
  replay  200 cases answered from each tool's own cache after an unmeasured recording run:
          promptfoo's disk cache (PROMPTFOO_CACHE_PATH), inspect-ai's generate cache
          (`--cache`, INSPECT_CACHE_DIR), pytest-mleval's SQLite cache (`--mleval-cache replay`)
  1000    1000 cases, 0 ms latency, concurrency 64
Tools: raw (a tiny aiohttp script with a semaphore: the floor), promptfoo, inspect,
mleval-cold (CI=true, --mleval-litellm-server off: what every CI run does) and mleval-default
(outside CI: served by the warm litellm server an earlier run left), each once per client when
the installed pytest-mleval has `--mleval-client` (mleval-cold[native], ...), and mleval-slim:
a cold run from a venv with pytest-mleval[native] (aiohttp, no litellm: what a project that
calls only OpenAI-compatible endpoints installs).

Measured in interleaved rounds (the tools' order rotates each round) after one unmeasured
warm-up run per tool: wall time from the subprocess's start to its exit; CPU = user + sys of
the whole process tree (RUSAGE_CHILDREN deltas, plus for mleval-default the warm server's fork
that served the run, not our descendant, sampled from /proc). Every run is checked: all cases
pass, and the server counted one request per case (0 for replay); a run that fails a check is
reported and left out of the figures.

Installs, outside the measurements, into ~/.cache/mleval-bench (or MLEVAL_BENCH_HOME):
promptfoo (npm), inspect-ai (pip, its own venv), and pytest-mleval[llm] and, in another venv,
pytest-mleval[native], without the dev extras, wheels of this checkout's git HEAD (uncommitted
changes are not in them; rebuilt when HEAD moves; `--mleval-python PY` uses that interpreter's
pytest-mleval instead of the [llm] venv's).

    python bench/bench_peers.py [--rounds 5] [--quick] [--only raw,promptfoo,inspect,mleval]
                                [--workloads 500ms,0ms,replay,1000] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOME = Path(os.environ.get("MLEVAL_BENCH_HOME") or Path.home() / ".cache" / "mleval-bench")
PROMPTFOO_VERSION = "0.121.20"
INSPECT_VERSION = "0.3.285"
REPLY = "ok"
WORKLOADS = ("500ms", "0ms", "replay", "1000")
STAMP = ".mleval-bench-stamp"
GOALS = """500ms cold/raw <= 1.2, 500ms promptfoo/cold >= 1.4, 500ms inspect/cold >= 1.8,
0ms cold/promptfoo <= 0.5, 1000 cold/promptfoo <= 0.4, replay cold/promptfoo <= 0.4"""
# Variables that would change what a run does: CI markers (pytest-mleval's litellm server
# follows them) and this interpreter's venv and pytest settings.
DROP_ENV = {"CI", "GITHUB_ACTIONS", "BUILDKITE", "JENKINS_URL", "TF_BUILD", "TEAMCITY_VERSION"}
DROP_ENV |= {"PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "NODE_OPTIONS"}
PROMPTFOO_ENV = {
    # No telemetry, update checks (npm's too), sharing or remote generation; and no per-run
    # debug log file: promptfoo 0.121 on Node 20 crashed at exit in most runs here with
    # "write after end" from that log's winston transport (and it is less work for promptfoo).
    **dict.fromkeys(["PROMPTFOO_DISABLE_TELEMETRY", "PROMPTFOO_DISABLE_UPDATE"], "1"),
    **dict.fromkeys(["PROMPTFOO_DISABLE_SHARING", "PROMPTFOO_DISABLE_REMOTE_GENERATION"], "1"),
    **dict.fromkeys(["PROMPTFOO_DISABLE_DEBUG_LOG", "NO_UPDATE_NOTIFIER"], "1"),
}
INSPECT_TASK = """from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate


@task
def bench():
    samples = [Sample(input=f"q{{i}}", target={reply!r}) for i in range({n})]
    return Task(dataset=samples, solver=generate(), scorer=match(location="exact"))
"""


# ---------------------------------------------------------------- installs (not measured)


def _sh(cmd: list[str], cwd: str | None = None) -> str:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def _install(label: str, *steps: list[str]) -> None:
    print(f"installing {label} ...", flush=True)
    start = time.perf_counter()
    for cmd in steps:
        _sh(cmd)
    print(f"installed {label} in {time.perf_counter() - start:.0f} s", flush=True)


def _venv_pip(venv: Path) -> list[str]:
    if not (venv / "bin" / "python").exists():
        base = getattr(sys, "_base_executable", sys.executable)  # not a venv's own python
        _sh([base, "-m", "venv", str(venv)])
    return [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]


def _stamp(venv: Path) -> str:
    return (venv / STAMP).read_text() if (venv / STAMP).exists() else ""


def ensure_promptfoo() -> Path:
    """promptfoo, pinned, in its own npm prefix."""
    root = HOME / "promptfoo"
    pkg = root / "node_modules" / "promptfoo" / "package.json"
    if not pkg.exists() or json.loads(pkg.read_text())["version"] != PROMPTFOO_VERSION:
        root.mkdir(parents=True, exist_ok=True)
        (root / "package.json").write_text('{"private": true}\n')
        npm = ["npm", "install", "--prefix", str(root), "--no-audit", "--no-fund"]
        _install(f"promptfoo {PROMPTFOO_VERSION}", [*npm, f"promptfoo@{PROMPTFOO_VERSION}"])
    return root / "node_modules" / ".bin" / "promptfoo"


def ensure_inspect() -> Path:
    """inspect-ai, pinned, with the openai SDK its openai-api provider needs, in a venv."""
    venv = HOME / "inspect-venv"
    if _stamp(venv) != INSPECT_VERSION:
        req = [*_venv_pip(venv), "install", f"inspect-ai=={INSPECT_VERSION}", "openai"]
        _install(f"inspect-ai {INSPECT_VERSION}", req)
        (venv / STAMP).write_text(INSPECT_VERSION)
    return venv / "bin" / "inspect"


def ensure_mleval(extra: str = "llm") -> Path:
    """pytest-mleval[extra] from this checkout's HEAD, as a wheel, in a venv without dev extras."""
    venv = HOME / ("mleval-venv" if extra == "llm" else f"mleval-{extra}-venv")
    head = _sh(["git", "-C", str(REPO), "rev-parse", "HEAD"]).strip()
    if _stamp(venv) != head:
        pip = _venv_pip(venv)
        with tempfile.TemporaryDirectory() as tmp:
            whl = Path(tmp, "wheels")
            tar = ["sh", "-c", f"git -C '{REPO}' archive {head} | tar -x -C '{tmp}'"]
            build = [*pip, "wheel", "--no-deps", "-w", str(whl), tmp]
            _install(f"pytest-mleval wheel of {head[:10]}", tar, build)
            wheel = str(next(whl.glob("*.whl")))
            # [llm] brings litellm and aiohttp, [native] aiohttp alone, neither torch; the
            # package itself is reinstalled over an earlier build of the same version.
            again = [*pip, "install", "--no-deps", "--force-reinstall", wheel]
            add = [*pip, "install", f"{wheel}[{extra}]"]
            _install(f"pytest-mleval[{extra}] into its venv", add, again)
        (venv / STAMP).write_text(head)
    print(f"pytest-mleval: a wheel of {head[:10]} in {venv}")
    return venv / "bin" / "python"


# ---------------------------------------------------------------- server and measurement


class Server:
    """The test server in its own process (never waited on while we measure: its CPU is
    not in RUSAGE_CHILDREN)."""

    def __init__(self, python: Path, latency: float) -> None:
        cmd = [str(python), "-m", "pytest_mleval.inference.testserver", "--latency", str(latency)]
        self.proc = subprocess.Popen(
            [*cmd, "--reply", REPLY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.endswith("/v1"):
            raise SystemExit(f"the test server did not start: {self.url!r}")

    def count(self) -> int:
        with urllib.request.urlopen(self.url.removesuffix("/v1") + "/mleval/stats") as r:
            return int(json.loads(r.read())["count"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ForkCPU:
    """CPU of the warm litellm server and its forks during one run.

    The fork that serves a run is the server's child, not ours, and nobody waits for it, so
    RUSAGE_CHILDREN misses it: it is sampled every 10 ms (the last slice before it exits is
    lost, a slight undercount).
    """

    def __init__(self, server_dir: Path | None) -> None:
        pids = [int(p.read_text()) for p in server_dir.glob("*.sock.pid")] if server_dir else []
        self.pid, self.seen, self.total = (pids[0] if pids else None), dict[int, float](), 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ForkCPU:
        if self.pid is not None:
            self.own = _proc_cpu(self.pid)
            self.thread.start()
        return self

    def _poll(self) -> None:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        while not self.stop.wait(0.01):
            with contextlib.suppress(OSError):
                for kid in map(int, path.read_text().split()):
                    self.seen[kid] = max(self.seen.get(kid, 0.0), _proc_cpu(kid))

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.pid is not None:
            self.thread.join()
            self.total = sum(self.seen.values()) + _proc_cpu(self.pid) - self.own


@dataclass
class Run:
    wall: float
    cpu: float
    error: str | None = None


Runs = dict[tuple[str, str], list[Run]]
Shapes = dict[str, tuple[int, float, int]]


@dataclass
class Spec:
    """One invocation: the command, its environment, and how to read its score."""

    cmd: list[str]
    env: dict[str, str]
    check: Callable[[str, int], str | None]
    cwd: Path | None = None
    server_dir: Path | None = None  # the warm litellm server's, when the run uses it


def measure(spec: Spec, server: Server, n: int, expect: int) -> Run:
    """Run spec once: wall, tree CPU, and the checks (score, the server's request count)."""
    before = server.count()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with ForkCPU(spec.server_dir) as forks:
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                spec.cmd, cwd=spec.cwd, env=spec.env, capture_output=True, text=True, timeout=900
            )
            out, rc = proc.stderr + proc.stdout, proc.returncode
        except subprocess.TimeoutExpired:
            out, rc = "timed out after 900 s", -1
        wall = time.perf_counter() - start
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime + forks.total
    requests = server.count() - before
    error = f"exit {rc}: {out[-600:]}" if rc != 0 else spec.check(out, n)
    if error is None and requests != expect:
        error = f"server counted {requests} requests, expected {expect}"
    return Run(wall, cpu, error)


def passing(pattern: str, fail: str = "", last: bool = False) -> Callable[[str, int], str | None]:
    """A check: the output (its last line) says n passed (pattern's group 1), and no failure."""

    def check(out: str, n: int) -> str | None:
        text = out.strip().splitlines()[-1] if last and out.strip() else out
        found = [int(m.replace(",", "")) for m in re.findall(pattern, text)]  # "1,000"
        if not found or found[-1] != n or (fail and re.search(fail, text)):
            return f"score check failed (wanted {n} passing): {out[-600:]}"
        return None

    return check


# ---------------------------------------------------------------- the tools


@dataclass
class Bench:
    work: Path
    mleval_py: Path
    servers: dict[float, Server]
    server_dir: Path
    promptfoo: Path | None = None
    inspect: Path | None = None
    slim_py: Path | None = None
    base_env: dict[str, str] = field(default_factory=dict)

    def file(self, tool: str, n: int, latency: float) -> Path:
        """The tool's input for n cases against the server of this latency (written once)."""
        url, qs = self.servers[latency].url, [f"q{i}" for i in range(n)]
        name = f"{tool}_{n}_{int(latency * 1000)}"
        if tool == "promptfoo":
            path = self.work / f"{name}.json"
            provider = {"id": "openai:chat:bench", "config": {"apiBaseUrl": url, "apiKey": "k"}}
            check = [{"type": "equals", "value": REPLY}]
            tests = [{"vars": {"q": q}, "assert": check} for q in qs]
            text = json.dumps({"prompts": ["{{q}}"], "providers": [provider], "tests": tests})
        elif tool == "inspect":
            path, text = self.work / f"{name}.py", INSPECT_TASK.format(reply=REPLY, n=n)
        else:
            path = self.work / name / "bench.eval.yaml"
            path.parent.mkdir(exist_ok=True)
            cases = "".join(f"  - {{id: c{i}, input: {q}}}\n" for i, q in enumerate(qs))
            text = f"target: model:openai/bench\napi_base: {url}\n"
            text += f"metrics: [{{exact: {{value: {REPLY}}}}}]\ncases:\n{cases}"
        if not path.exists():
            path.write_text(text)
        return path

    def spec(self, tool: str, n: int, latency: float, conc: int, mode: str, tag: str) -> Spec:
        """mode: cold (no cache), record (fill the cache named by tag) or replay (from it)."""
        env, url, c = dict(self.base_env), self.servers[latency].url, str(conc)
        if tool == "raw":
            cmd = [str(self.mleval_py), __file__, "--raw", url, str(n), c]
            return Spec(cmd, env, passing(r"raw: (\d+) ok"))
        if tool == "promptfoo":
            assert self.promptfoo is not None
            env.update(PROMPTFOO_ENV, OPENAI_API_KEY="k")
            env["PROMPTFOO_CONFIG_DIR"] = str(self.work / "promptfoo-home")
            env["PROMPTFOO_CACHE_PATH"] = str(self.work / f"promptfoo-cache-{tag}")
            cmd = [str(self.promptfoo), "eval", "-c", str(self.file(tool, n, latency)), "-j", c]
            cmd += ["--no-table", "--no-progress-bar", *(["--no-cache"] if mode == "cold" else [])]
            return Spec(cmd, env, passing(r"([\d,]+) passed \(", r"[1-9][\d,]* (failed|errors) \("))
        if tool == "inspect":
            assert self.inspect is not None
            env.update(BENCH_BASE_URL=url, BENCH_API_KEY="k")
            env["INSPECT_LOG_DIR"] = str(self.work / "inspect-logs")
            env["INSPECT_CACHE_DIR"] = str(self.work / f"inspect-cache-{tag}")
            # inspect takes a task file relative to its working directory only.
            task = self.file(tool, n, latency).name
            cmd = [str(self.inspect), "eval", task, "--display", "plain"]
            cmd += ["--model", "openai-api/bench/bench", "--max-connections", c]
            cmd += ["--cache", "1D"] if mode != "cold" else []
            # "(n samples)" and "accuracy  1.000": every sample scored, all correct.
            check = passing(r"\(([\d,]+) samples\)", r"accuracy +(?!1\.000)\d")
            return Spec(cmd, env, check, self.work)
        # mleval-cold / mleval-default, each optionally [native] / [litellm]; mleval-slim
        variant, _, client = tool.removeprefix("mleval-").partition("[")
        python = self.mleval_py
        if variant == "slim":  # a cold run of pytest-mleval[native], its client chosen: auto
            assert self.slim_py is not None
            variant, python = "cold", self.slim_py
        env.update(OPENAI_API_KEY="k", LITELLM_LOCAL_MODEL_COST_MAP="True")  # offline
        env["MLEVAL_LITELLM_SERVER_DIR"] = str(self.server_dir)  # ours, stopped at the end
        cmd = [str(python), "-m", "pytest", "-q", str(self.file("mleval", n, latency))]
        reports = str(self.work / f"reports-{tool}")
        cmd += ["--mleval-concurrency", c, "--mleval-report-dir", reports]
        cmd += ["--mleval-cache-path", str(self.work / f"mleval-cache-{tool}-{tag}.sqlite")]
        cmd += ["--mleval-cache", "replay"] if mode == "replay" else []
        cmd += ["--mleval-client", client.rstrip("]")] if client else []
        if variant == "cold":
            env["CI"] = "true"
            cmd += ["--mleval-litellm-server", "off"]
        check = passing(r"(\d+) passed", r"failed|error", last=True)
        return Spec(cmd, env, check, server_dir=None if variant == "cold" else self.server_dir)


async def _raw(url: str, n: int, conc: int) -> int:
    import aiohttp

    sem = asyncio.Semaphore(conc)
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer k"}) as session:

        async def one(i: int) -> bool:
            body = {"model": "bench", "messages": [{"role": "user", "content": f"q{i}"}]}
            async with sem, session.post(url + "/chat/completions", json=body) as resp:
                return bool((await resp.json())["choices"][0]["message"]["content"] == REPLY)

        return sum(await asyncio.gather(*(one(i) for i in range(n))))


# ---------------------------------------------------------------- the benchmark


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--big", type=int, default=1000, help="cases of the 1000 workload")
    ap.add_argument("--quick", action="store_true", help="1 round, 40 and 200 cases: a smoke run")
    ap.add_argument("--only", default="raw,promptfoo,inspect,mleval", help="tools or prefixes")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--mleval-python", help="a python with pytest-mleval[llm] (default: built)")
    ap.add_argument("--json", help="write every run here")
    ap.add_argument("--raw", nargs=3, help=argparse.SUPPRESS)  # the raw client's own process
    args = ap.parse_args(argv)
    if args.raw:
        print(f"raw: {asyncio.run(_raw(args.raw[0], int(args.raw[1]), int(args.raw[2])))} ok")
        return 0
    if args.quick:
        args.rounds, args.cases, args.big = 1, 40, 200
    workloads = [w for w in args.workloads.split(",") if w]
    if set(workloads) - set(WORKLOADS):
        raise SystemExit(f"--workloads: choose from {', '.join(WORKLOADS)}")
    wanted = [t.strip() for t in args.only.split(",") if t.strip()]
    HOME.mkdir(parents=True, exist_ok=True)
    mleval_py = Path(args.mleval_python) if args.mleval_python else ensure_mleval()
    helptext = _sh([str(mleval_py), "-m", "pytest", "--help"], cwd=tempfile.gettempdir())
    has_client = "--mleval-client" in helptext  # a pytest-mleval with the native client
    clients = ["[native]", "[litellm]"] if has_client else [""]
    names = ["raw", "promptfoo", "inspect"]
    names += [f"mleval-{v}{c}" for v in ("cold", "default") for c in clients]
    names += ["mleval-slim"] if has_client else []
    tools = [t for t in names if any(t == w or t.startswith(w) for w in wanted)]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill, too
    with tempfile.TemporaryDirectory(prefix="mleval-peers-") as tmp:
        work = Path(tmp)
        server_dir = work / "litellm-servers"
        server_dir.mkdir(mode=0o700)
        servers = {lat: Server(mleval_py, lat) for lat in (0.0, 0.5)}
        env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # the server is loopback
        bench = Bench(work, mleval_py, servers, server_dir, base_env=env)
        bench.slim_py = ensure_mleval("native") if "mleval-slim" in tools else None
        bench.promptfoo = ensure_promptfoo() if "promptfoo" in tools else None
        bench.inspect = ensure_inspect() if "inspect" in tools else None
        try:
            return run_all(bench, tools, workloads, args)
        finally:
            for pidfile in server_dir.glob("*.sock.pid"):  # the warm litellm servers we caused
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pidfile.read_text()), 15)
            for srv in servers.values():
                srv.close()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_all(bench: Bench, tools: list[str], workloads: list[str], args: argparse.Namespace) -> int:
    n = args.cases
    shape = {"500ms": (n, 0.5, 32), "0ms": (n, 0.0, 32), "replay": (n, 0.0, 32)}
    shape["1000"] = (args.big, 0.0, 64)
    node = _sh(["node", "--version"]).strip() if bench.promptfoo else "-"
    print(
        f"python {sys.version.split()[0]} ({bench.mleval_py}), node {node}, promptfoo "
        f"{PROMPTFOO_VERSION}, inspect-ai {INSPECT_VERSION}"
    )
    print(f"tools: {', '.join(tools)}; workloads: {', '.join(workloads)}; rounds {args.rounds}")
    # Warm-up, not measured: page cache, bytecode, promptfoo's database, the warm litellm
    # server (started as the first default run ends; the second run is served by it).
    for tool in list(tools):
        # mleval-default with litellm: wait for the warm server its first run starts.
        waits = int(tool.startswith("mleval-default") and "native" not in tool)
        for i in range(1 + waits):
            run = measure(bench.spec(tool, 20, 0, 32, "cold", f"up{i}"), bench.servers[0], 20, 20)
            deadline = time.monotonic() + 60
            while not run.error and i < waits and not list(bench.server_dir.glob("*.pid")):
                run.error = "no warm litellm server" if time.monotonic() > deadline else None
                time.sleep(0.2)
            if run.error:
                print(f"{tool}: warm-up failed, left out: {run.error}")
                tools.remove(tool)
                break
    load_before = _load()
    print(f"loadavg before: {load_before}", flush=True)
    runs: Runs = {}
    for rnd in range(args.rounds):
        for w in workloads:
            k, lat, conc = shape[w]
            for tool in tools[rnd % len(tools) :] + tools[: rnd % len(tools)]:
                if w == "replay" and tool == "raw":
                    continue
                tag, srv, replay, run = f"{w}-{rnd}", bench.servers[lat], w == "replay", Run(0, 0)
                if replay:  # record first: checked, not measured
                    run = measure(bench.spec(tool, k, lat, conc, "record", tag), srv, k, k)
                    run.error = run.error and f"recording: {run.error}"
                if run.error is None:
                    mode = "replay" if replay else "cold"
                    run = measure(
                        bench.spec(tool, k, lat, conc, mode, tag), srv, k, 0 if replay else k
                    )
                runs.setdefault((w, tool), []).append(run)
                note = f"FAILED, left out: {run.error}" if run.error else f"{run.cpu:.2f} s CPU"
                print(f"round {rnd + 1} {w:>6} {tool:<24} {run.wall:6.2f} s  {note}", flush=True)
        print(f"round {rnd + 1} done, loadavg {_load()}", flush=True)
    report(runs, tools, workloads, shape, load_before)
    if args.json:
        data = [{"workload": w, "tool": t, **vars(r)} for (w, t), rs in runs.items() for r in rs]
        Path(args.json).write_text(json.dumps(data, indent=1))
    return 1 if any(r.error for rs in runs.values() for r in rs) else 0


def report(runs: Runs, tools: list[str], workloads: list[str], shape: Shapes, load: str) -> None:
    def ok(w: str, tool: str) -> list[Run]:
        return [r for r in runs.get((w, tool), []) if r.error is None]

    def med(w: str, tool: str) -> float | None:
        walls = [r.wall for r in ok(w, tool)]
        return statistics.median(walls) if walls else None

    print(f"\nloadavg before {load}, after {_load()}")
    print("wall: median and min-max of the runs that passed their checks; CPU: process tree")
    print(f"{'workload':<8} {'tool':<24} {'wall':>7} {'min-max':>12} {'CPU/case':>9}  ok/runs")
    for w in workloads:
        for t in (t for t in tools if (w, t) in runs):
            good, all_ = ok(w, t), runs[(w, t)]
            walls = [r.wall for r in good] or [float("nan")]
            cpu = statistics.median([r.cpu for r in good] or [float("nan")]) * 1000 / shape[w][0]
            span = f"{min(walls):.2f}-{max(walls):.2f}"
            cells = f"{statistics.median(walls):6.2f}s {span:>12} {cpu:7.2f}ms"
            print(f"{w:<8} {t:<24} {cells}  {len(good)}/{len(all_)}")
            for r in all_:
                if r.error:
                    print(f"    excluded: {r.error[:300]!r}")
    cold = [t for t in tools if t.startswith("mleval-cold")]  # the headline: native if there
    heads = [next((t for t in cold if "litellm" not in t), "mleval-cold")]
    heads += [t for t in tools if t == "mleval-slim"]  # the same goals for the [native] install
    for head in heads:
        name = {"cold": head}
        print(f"\nGoal ratios (of medians), cold = {head}:")
        for w, a, b, op, goal in re.findall(r"(\S+) (\S+)/(\S+) ([<>]=) ([\d.]+)", GOALS):
            a, b = name.get(a, a), name.get(b, b)
            ma, mb = med(w, a), med(w, b)
            if ma is not None and mb is not None:
                met = ma / mb <= float(goal) if op == "<=" else ma / mb >= float(goal)
                verdict = "met" if met else "NOT met"
                print(f"  {w:>6}: {a} / {b} = {ma / mb:.2f} (goal {op} {goal}: {verdict})")
    (n0, *_), (n1, *_) = shape["0ms"], shape["1000"]
    print(f"\nHarness CPU per model call: (median CPU at {n1} cases - at {n0}) / {n1 - n0}")
    print("(the 0ms and 1000 workloads: start-up cancels out); beside it, the whole run's")
    for t in tools:
        c0, c1 = [r.cpu for r in ok("0ms", t)], [r.cpu for r in ok("1000", t)]
        if c0 and c1 and n1 > n0:
            m0, m1 = statistics.median(c0), statistics.median(c1)
            per = f"{m0 * 1000 / n0:.2f} ms/case at {n0}, {m1 * 1000 / n1:.2f} at {n1}"
            print(f"  {t:<24} {(m1 - m0) * 1000 / (n1 - n0):6.2f} ms/call ({per})")
    raw = med("1000", "raw")
    if raw:
        print(f"\nthe server's ceiling, seen by raw aiohttp: >= {n1 / raw:.0f} requests/s at c=64")


if __name__ == "__main__":
    raise SystemExit(main())
