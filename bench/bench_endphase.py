"""The plugin's end phase: statistics, comparison, outputs and history for a 200-case run.

A run of two suites (200 cases in all: exact, contains, rouge_l, latency_ms on every case,
json_valid on the extraction suite; gates on estimates and confidence bounds) through pytest
with an instant ``python:`` target (no model calls), a baseline results file (so the paired
comparison and regression gates run) and the default SQLite history seeded with earlier runs.
A small timing plugin (``-p``, written next to the suite) wraps the parts of the end phase as
their modules load (nothing is imported ahead of its time, so first imports count where they
happen) and records, from the last test's teardown to the process's exit:

    session.sessionfinish   everything the plugin does in pytest_sessionfinish, of which:
      meta (git)            the run's metadata (two ``git`` calls)
      assemble_run          aggregates and gates, usage, comparison, of which:
        aggregate_suite     per-suite statistics and intervals (bootstrap where needed)
        evaluate_gates      the suites' gates
        usage_totals        tokens, cost, latency percentiles
        regression_check    the paired comparison with the baseline and its gates
      write_outputs         every output file, of which:
        write_results       results JSON
        render_summary      Markdown summary
        record_run          history database write (resolve_url included)
        write_report        HTML report (history trends read included)
    session.terminal        the plugin's terminal summary
    session.unconfigure     the plugin's unconfigure
    exit                    last teardown to the process's exit (pytest's own end included)

Run:
    .venv/bin/python bench/bench_endphase.py [--runs 7] [--cases 200] [--profile] [--importtime]
        [--before TREE] [--proposals]

``--before TREE`` also runs another checkout's ``src/`` (on PYTHONPATH; e.g. ``git archive REV
src | tar -x -C TREE``) and ``--proposals`` the changes proposed for modules outside the end
phase's own (applied as patches by the timing plugin: one ``git`` call for the commit and
branch, a pure-Python latency percentile, jinja2's bytecode cache for the report template),
each interleaved with this tree run by run. ``--profile`` adds one run under cProfile (top
functions by cumulative time of the end phase); ``--importtime`` one run under ``-X
importtime`` (modules first imported after the last test). Prints per part the median and
min-max over the runs, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable

APP = '''
import json
import os

VARIANT = os.environ.get("BENCH_VARIANT", "candidate")


def answer(case):
    """An instant target: the expected answer, reworded or wrong for some cases."""
    i = int(case.id.rsplit("-", 1)[1])
    wrong = i % 7 == 0 if VARIANT == "candidate" else i % 5 == 0
    if case.suite == "extract":
        if wrong and i % 2:
            return "not json: " + case.input
        return json.dumps({"answer": case.expected, "n": i, "ok": not wrong})
    if wrong:
        return "I am not sure about " + case.input
    if i % 3 == 0:
        return "The answer is " + case.expected + ", as the question asks."
    return case.expected
'''

TIMING = r'''
"""Bench timing plugin: wraps end-phase functions as their modules load (bench only)."""
import atexit
import functools
import importlib.abc
import importlib.machinery
import json
import os
import sys
import time

OUT = os.environ["BENCH_TIMING_OUT"]
PROFILE = os.environ.get("BENCH_PROFILE")
T = {}
STATE = {"last_teardown": None, "profiler": None}
# module -> (attribute path, part name)
WRAP = {
    "pytest_mleval.session.state": [
        ("MlevalSession.pytest_sessionfinish", "session.sessionfinish"),
        ("MlevalSession._meta", "meta (git)"),
        ("MlevalSession.pytest_terminal_summary", "session.terminal"),
        ("MlevalSession.pytest_unconfigure", "session.unconfigure"),
    ],
    "pytest_mleval.results.run": [
        ("assemble_run", "assemble_run"),
        ("usage_totals", "usage_totals"),
    ],
    "pytest_mleval.results.aggregate": [
        ("aggregate_suite", "aggregate_suite"),
        ("evaluate_gates", "evaluate_gates"),
    ],
    "pytest_mleval.results.compare": [("regression_check", "regression_check")],
    "pytest_mleval.report.outputs": [("write_outputs", "write_outputs")],
    "pytest_mleval.results.records": [("write_results", "write_results")],
    "pytest_mleval.report.summary": [
        ("render_summary", "render_summary"),
        ("terminal_lines", "terminal_lines"),
    ],
    "pytest_mleval.report.history": [
        ("record_run", "record_run"),
        ("resolve_url", "record_run"),
    ],
    "pytest_mleval.report.html": [("write_report", "write_report")],
}


def timed(name, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            T[name] = T.get(name, 0.0) + time.perf_counter() - start
            # CPU time too: on a shared machine wall time grows with the load, CPU time less.
            T[name + " cpu"] = T.get(name + " cpu", 0.0) + time.process_time() - cpu
    return wrapper


def _proposed_git_info(root):
    import subprocess
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD", "--abbrev-ref", "HEAD"],
            cwd=root, capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    lines = out.stdout.split() if out.returncode == 0 else []
    return (lines[0], lines[1]) if len(lines) == 2 else (None, None)


def _proposed_percentile(values, q):
    if not values:
        return 0.0
    xs = sorted(float(v) for v in values)
    pos = (q / 100.0) * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    t = pos - lo
    a, b = xs[lo], xs[hi]
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def _proposed_environment(original):
    import jinja2

    @functools.wraps(original)
    def environment():
        env = original()
        env.bytecode_cache = jinja2.FileSystemBytecodeCache(os.environ["BENCH_JINJA_CACHE"])
        return env
    return environment


# The changes proposed for files this bench's author does not own, applied as patches
# (BENCH_PROPOSALS=1) so that their gain is measured, not guessed.
PROPOSALS = {
    "pytest_mleval.session.state": lambda m: setattr(m, "_git_info", _proposed_git_info),
    "pytest_mleval.results.run": lambda m: setattr(m, "percentile", _proposed_percentile),
    "pytest_mleval.report.html": lambda m: setattr(
        m, "_environment", _proposed_environment(m._environment)
    ),
}


def patch(module):
    if os.environ.get("BENCH_PROPOSALS") and module.__name__ in PROPOSALS:
        PROPOSALS[module.__name__](module)
    for path, name in WRAP.get(module.__name__, ()):
        owner_path, _, attr = path.rpartition(".")
        owner = getattr(module, owner_path) if owner_path else module
        setattr(owner, attr, timed(name, getattr(owner, attr)))


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in WRAP and fullname not in PROPOSALS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def run(module):
            exec_module(module)
            patch(module)
        spec.loader.exec_module = run
        return spec


for _name in {**WRAP, **PROPOSALS}:
    if _name in sys.modules:
        patch(sys.modules[_name])
sys.meta_path.insert(0, Finder())


def pytest_runtest_logfinish(nodeid, location):
    STATE["last_teardown"] = time.monotonic()


import pytest


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session):
    # A wrapper: it starts before every plugin's own sessionfinish (mleval's is tryfirst).
    STATE["modules_before"] = len(sys.modules)
    if PROFILE:
        import cProfile
        STATE["profiler"] = cProfile.Profile()
        STATE["profiler"].enable()
    sys.stderr.write("BENCH-END-PHASE-STARTS\n")
    sys.stderr.flush()
    return (yield)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    prof = STATE["profiler"]
    if prof is not None:
        prof.disable()
        prof.dump_stats(PROFILE)


@atexit.register
def _dump():
    T["last_teardown_monotonic"] = STATE["last_teardown"]
    T["atexit_monotonic"] = time.monotonic()
    T["modules_imported"] = len(sys.modules) - STATE.get("modules_before", len(sys.modules))
    T["package"] = getattr(sys.modules.get("pytest_mleval"), "__file__", None)
    with open(OUT, "w") as f:
        json.dump(T, f)
'''

PARTS = [
    "session.sessionfinish",
    "meta (git)",
    "assemble_run",
    "aggregate_suite",
    "evaluate_gates",
    "usage_totals",
    "regression_check",
    "write_outputs",
    "write_results",
    "render_summary",
    "record_run",
    "write_report",
    "session.terminal",
    "terminal_lines",
    "session.unconfigure",
]
INDENT = {
    "meta (git)": 1,
    "assemble_run": 1,
    "aggregate_suite": 2,
    "evaluate_gates": 2,
    "usage_totals": 2,
    "regression_check": 2,
    "write_outputs": 1,
    "write_results": 2,
    "render_summary": 2,
    "record_run": 2,
    "write_report": 2,
    "terminal_lines": 1,
}


def make_suite(root: Path, n_cases: int) -> None:
    """Two suites in ``root`` (a git repository, as CI runs are), ``n_cases`` cases in all."""
    (root / "app.py").write_text(APP)
    (root / "_endphase_timing.py").write_text(TIMING)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    n_qa = n_cases * 3 // 5
    qa = [
        "suite: qa",
        "target: python:app:answer",
        "metrics:",
        "  - exact",
        "  - contains: answer",
        "  - rouge_l: {threshold: 0.5}",
        "  - latency_ms: {max: 1000}",
        "gates:",
        "  - {metric: rouge_l, stat: mean, min: 0.5, on: ci_low}",
        "  - {metric: pass_rate, stat: pass_rate, min: 0.5}",
        "  - {metric: exact, stat: mean, min: 0.3}",
        "cases:",
    ]
    for i in range(n_qa):
        tags = "[easy]" if i % 2 else "[hard]"
        qa.append(
            f"  - {{id: qa-{i}, input: 'what is answer {i} of the set', "
            f"expected: 'answer {i} of the set', tags: {tags}}}"
        )
    (root / "qa.eval.yaml").write_text("\n".join(qa) + "\n")
    ex = [
        "suite: extract",
        "target: python:app:answer",
        "metrics:",
        "  - json_valid",
        "  - contains: answer",
        "  - rouge_l",
        "  - latency_ms: {max: 1000}",
        "gates:",
        "  - {metric: json_valid, stat: pass_rate, min: 0.8}",
        "  - {metric: rouge_l, stat: mean, min: 0.1, on: ci_low}",
        "cases:",
    ]
    for i in range(n_cases - n_qa):
        ex.append(f"  - {{id: ex-{i}, input: 'record {i}: answer {i}', expected: 'answer {i}'}}")
    (root / "extract.eval.yaml").write_text("\n".join(ex) + "\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "suite"], cwd=root, check=True)


def run_pytest(
    root: Path,
    *,
    variant: str = "candidate",
    baseline: bool = True,
    profile: Path | None = None,
    importtime: bool = False,
    proposals: bool = False,
    tree: Path | None = None,
) -> tuple[dict[str, float], str]:
    """One pytest run; returns the timings and stderr."""
    out = root / "timing.json"
    env = dict(os.environ)
    env.update(
        BENCH_VARIANT=variant,
        BENCH_TIMING_OUT=str(out),
        PYTHONPATH=os.pathsep.join([str(root)] + ([str(tree / "src")] if tree else [])),
        PYTHONDONTWRITEBYTECODE="",
    )
    env.pop("CI", None)
    env.pop("BENCH_PROPOSALS", None)
    if proposals:
        env["BENCH_PROPOSALS"] = "1"
        env["BENCH_JINJA_CACHE"] = str(root / "jinja-cache")
        (root / "jinja-cache").mkdir(exist_ok=True)
    if profile is not None:
        env["BENCH_PROFILE"] = str(profile)
    cmd = [PY]
    if importtime:
        cmd += ["-X", "importtime"]
    cmd += ["-m", "pytest", "-q", "-p", "_endphase_timing"]
    if baseline:
        cmd += ["--mleval-baseline", "baseline.json"]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    exited = time.monotonic()
    if proc.returncode not in (0, 1) or "mleval summary" not in proc.stdout:
        raise SystemExit(f"pytest failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    timings = json.loads(out.read_text())
    package = str(timings.pop("package"))
    if tree is not None and not package.startswith(str(tree)):
        raise SystemExit(f"--before: pytest_mleval came from {package}, not {tree}")
    timings["exit"] = exited - timings.pop("last_teardown_monotonic")
    timings["atexit"] = timings.pop("atexit_monotonic") - (exited - timings["exit"])
    return timings, proc.stderr


def end_phase_imports(stderr: str) -> list[tuple[str, float]]:
    """Top-level imports (cumulative ms) after the last test, from ``-X importtime``."""
    _, _, after = stderr.partition("BENCH-END-PHASE-STARTS\n")
    rows = []
    for line in after.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((len(m.group(2)), m.group(3), int(m.group(1)) / 1000.0))
    if not rows:
        return []
    top = min(depth for depth, _, _ in rows)
    return [(name, ms) for depth, name, ms in rows if depth == top]


def _table(variants: list[str], samples: dict[str, dict[str, list[float]]]) -> None:
    """Per part and variant: median and min-max over the runs, in ms."""
    for v in variants:
        runs = samples[v]
        for suffix in ("", " cpu"):
            runs["plugin's own (sum)" + suffix] = [
                a + b + c
                for a, b, c in zip(
                    runs["session.sessionfinish" + suffix],
                    runs["session.terminal" + suffix],
                    runs["session.unconfigure" + suffix],
                    strict=True,
                )
            ]
    print(f"{'part (ms)':<26}" + "".join(f"{v:>24}" for v in variants))
    for name in [*PARTS, "plugin's own (sum)", "plugin's own (sum) cpu", "exit"]:
        cells = []
        for v in variants:
            values = samples[v].get(name)
            if not values:
                cells.append(f"{'-':>24}")
                continue
            ms = [x * 1000 for x in values]
            cell = f"{statistics.median(ms):.1f} ({min(ms):.0f}-{max(ms):.0f})"
            cells.append(f"{cell:>24}")
        print(f"{'  ' * INDENT.get(name, 0) + name:<26}" + "".join(cells))
    print(
        f"{'modules first imported':<26}"
        + "".join(f"{statistics.median(samples[v]['modules_imported']):>24.0f}" for v in variants)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--history-runs", type=int, default=10, help="earlier runs in the history")
    ap.add_argument("--profile", action="store_true", help="one more run under cProfile")
    ap.add_argument("--importtime", action="store_true", help="one more run, -X importtime")
    ap.add_argument(
        "--before", type=Path, help="also run another tree's src/ (PYTHONPATH), interleaved"
    )
    ap.add_argument(
        "--proposals",
        action="store_true",
        help="also run with the changes proposed for files outside this bench's scope",
    )
    args = ap.parse_args()

    variants: dict[str, dict[str, object]] = {"this tree": {}}
    if args.before is not None:
        variants["before"] = {"tree": args.before.resolve()}
    if args.proposals:
        variants["with proposals"] = {"proposals": True}

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_suite(root, args.cases)
        run_pytest(root, variant="baseline", baseline=False)
        shutil.copy(root / "reports" / "mleval-results.json", root / "baseline.json")
        for _ in range(args.history_runs - 1):  # the history the trends read
            run_pytest(root)
        for options in variants.values():  # warm-up: bytecode, assertion rewriting, caches
            run_pytest(root, **options)  # type: ignore[arg-type]
        history = root / "reports" / "mleval-history.sqlite"
        seeded = root / "history.seed"
        shutil.copy(history, seeded)

        samples: dict[str, dict[str, list[float]]] = {v: {} for v in variants}
        loads = []
        for _ in range(args.runs):
            for name, options in variants.items():  # interleaved: load drifts hit all alike
                shutil.copy(seeded, history)
                loads.append(os.getloadavg()[0])
                timings, _ = run_pytest(root, **options)  # type: ignore[arg-type]
                for k, v in timings.items():
                    samples[name].setdefault(k, []).append(v)
        loads.append(os.getloadavg()[0])

        print(
            f"{args.cases} cases, {args.runs} runs per variant, history of {args.history_runs} "
            f"runs; load average (1 min) {min(loads):.2f}-{max(loads):.2f} "
            f"(median {statistics.median(loads):.2f}); {os.cpu_count()} CPUs; "
            f"python {sys.version.split()[0]}"
        )
        _table(list(variants), samples)

        if args.importtime:
            shutil.copy(seeded, history)
            _, stderr = run_pytest(root, importtime=True)
            rows = sorted(end_phase_imports(stderr), key=lambda r: -r[1])
            total = sum(ms for _, ms in rows)
            print(f"\nimports after the last test (-X importtime): {total:.1f} ms in all")
            for name, ms in rows[:15]:
                print(f"  {ms:8.1f} ms  {name}")

        if args.profile:
            import pstats

            shutil.copy(seeded, history)
            prof = root / "end.prof"
            run_pytest(root, profile=prof)
            print("\ncProfile of the end phase (sessionfinish to unconfigure), by cumulative:")
            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(40)
            print("by own time:")
            pstats.Stats(str(prof)).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
