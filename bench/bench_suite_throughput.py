"""A 300-case `model:` suite through pytest: concurrency, and replay from the cache.

Measured in one run, side by side:
  (a) the ideal: 300 calls x 0.5 s latency / 32 concurrent calls;
  (b) the same suite with an instant `python:` target (pytest's own per-item cost);
  the model suite against the test server at 500 ms latency, concurrency 32 (goal <= 1.5 (a + b));
  the model suite replayed from the cache (goal: zero server requests, wall <= 1.3 b).
Run: .venv/bin/python bench/bench_suite_throughput.py [--cases 300] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from throughput import serve_for_bench


def run_pytest(cwd: Path, *args: str) -> float:
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    n, lat, conc = args.cases, args.latency, args.concurrency
    cases = "".join(f"  - {{id: c{i}, input: q{i}}}\n" for i in range(n))
    with tempfile.TemporaryDirectory() as tmp, serve_for_bench(lat, reply="ok") as srv:
        root = Path(tmp)
        (root / "app.py").write_text("def instant(case):\n    return 'ok'\n")
        (root / "py.eval.yaml").write_text(
            "target: python:app:instant\nmetrics: [exact]\ncases:\n"
            + cases.replace("}", ", expected: ok}")
        )
        model_dir = root / "model"
        model_dir.mkdir()
        (model_dir / "m.eval.yaml").write_text(
            f"target: model:openai/bench\napi_base: {srv.base_url}\nmetrics: [{{exact: {{value: ok}}}}]\ncases:\n{cases}"
        )
        common = [
            "--mleval-concurrency",
            str(conc),
            "--mleval-cache-path",
            str(root / "cache.sqlite"),
        ]
        b = run_pytest(root, "py.eval.yaml", "--mleval-no-report")
        before = srv.stats()["count"]
        wall = run_pytest(root, "model", *common, "--mleval-no-report")
        calls = srv.stats()["count"] - before
        replay = run_pytest(
            root, "model", *common, "--mleval-cache", "replay", "--mleval-no-report"
        )
        replay_calls = srv.stats()["count"] - before - calls
    a = n * lat / conc
    print(f"{n} cases, latency {lat * 1000:.0f} ms, concurrency {conc}")
    print(f"(a) ideal {a:.2f} s; (b) instant python: target {b:.2f} s")
    print(
        f"model suite: {wall:.2f} s, {calls} server requests -> {wall / (a + b):.2f} x (a + b) (goal <= 1.5)"
    )
    print(
        f"replay: {replay:.2f} s, {replay_calls} server requests -> {replay / b:.2f} x b (goal <= 1.3, 0 requests)"
    )


if __name__ == "__main__":
    main()
