"""Plugin cost: import time, pytest start-up with/without the plugin, collection of 10,000 cases.

Run: .venv/bin/python bench/bench_plugin.py [--runs N]
Prints each figure and its ratio against the reference measured side by side.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def _once(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=dict(os.environ), check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 5):
        raise SystemExit(f"{cmd} failed:\n{proc.stdout.decode()}\n{proc.stderr.decode()}")
    return elapsed


def paired(a: tuple[list[str], Path], b: tuple[list[str], Path], runs: int) -> tuple[float, float]:
    """Best-of-``runs`` wall times of two commands, interleaved so load noise hits both alike."""
    _once(*a), _once(*b)  # warm-up: bytecode and assertion-rewrite caches
    ta, tb = [], []
    for _ in range(runs):
        ta.append(_once(*a))
        tb.append(_once(*b))
    return min(ta), min(tb)


def import_time() -> tuple[float, float]:
    """Cumulative import time (ms) of pytest_mleval.plugin and of pytest itself."""
    out = subprocess.run(
        [PY, "-X", "importtime", "-c", "import pytest_mleval.plugin"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    cum = {}
    for line in out.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            cum[m.group(3)] = int(m.group(1)) / 1000.0
    return cum["pytest_mleval.plugin"], cum.get("pytest", 0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--cases", type=int, default=10_000)
    args = ap.parse_args()

    plugin_ms, pytest_ms = import_time()
    print(
        f"import pytest_mleval.plugin: {plugin_ms:.1f} ms cumulative "
        f"(of which pytest {pytest_ms:.1f} ms; plugin's own {plugin_ms - pytest_ms:.1f} ms)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain = root / "plain"
        plain.mkdir()
        (plain / "test_plain.py").write_text("def test_ok():\n    assert True\n")
        with_plugin, without = paired(
            ([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"], plain),
            ([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:mleval"], plain),
            args.runs,
        )
        print(
            f"pytest start-up, no eval files: with plugin {with_plugin * 1000:.0f} ms, "
            f"without {without * 1000:.0f} ms -> extra {100 * (with_plugin / without - 1):+.1f}% (goal <= 5%)"
        )

        n = args.cases
        evals = root / "evals"
        evals.mkdir()
        (evals / "app.py").write_text("def echo(case):\n    return case.input\n")
        lines = ["target: python:app:echo", "metrics: [exact]", "cases:"]
        lines += [f"  - {{id: c{i}, input: q{i}, expected: q{i}}}" for i in range(n)]
        (evals / "big.eval.yaml").write_text("\n".join(lines) + "\n")
        param = root / "param"
        param.mkdir()
        (param / "test_param.py").write_text(
            "import pytest\n"
            f"CASES = [{{'id': f'c{{i}}', 'input': f'q{{i}}', 'expected': f'q{{i}}'}} for i in range({n})]\n"
            "@pytest.mark.parametrize('case', CASES, ids=[c['id'] for c in CASES])\n"
            "def test_case(case):\n    assert case['input'] == case['expected']\n"
        )
        collect = [PY, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        t_eval, t_param = paired((collect, evals), (collect, param), max(3, args.runs // 2))
        print(
            f"collect {n} cases: eval file {t_eval:.2f} s, parametrize {t_param:.2f} s "
            f"-> ratio {t_eval / t_param:.2f}x (goal <= 2x)"
        )


if __name__ == "__main__":
    main()
