"""A 300-case `model:` suite through pytest: concurrency, and replay from the cache.

Measured in one run, side by side (each figure the median of --runs runs, interleaved):
  (a) the ideal: 300 calls x 0.5 s latency / 32 concurrent calls;
  (b) the same suite with an instant `python:` target (pytest's own per-item cost);
  the model suite against the test server at 500 ms latency, concurrency 32, cold cache
      (goal <= 1.5 (a + b)), with litellm in its worker process (the default) and, for
      comparison, inside the pytest process (--mleval-litellm-inline);
  the model suite replayed from the cache (goal: zero server requests, wall <= 1.3 b);
  litellm's import in a fresh interpreter (a floor under any cold run: no call can start
      before it).
Run: .venv/bin/python bench/bench_suite_throughput.py [--cases 300] [--latency 0.5] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from throughput import litellm_import_seconds, serve_for_bench


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
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    n, lat, conc = args.cases, args.latency, args.concurrency
    cases = "".join(f"  - {{id: c{i}, input: q{i}}}\n" for i in range(n))
    walls: dict[str, list[float]] = {"b": [], "worker": [], "inline": [], "replay": []}
    requests: dict[str, list[int]] = {"worker": [], "inline": [], "replay": []}
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

        def model_run(mode: str, cache: Path, *extra: str) -> None:
            before = srv.stats()["count"]
            walls[mode].append(
                run_pytest(
                    root,
                    "model",
                    "--mleval-concurrency",
                    str(conc),
                    "--mleval-cache-path",
                    str(cache),
                    "--mleval-no-report",
                    *extra,
                )
            )
            requests[mode].append(srv.stats()["count"] - before)

        for i in range(args.runs):
            walls["b"].append(run_pytest(root, "py.eval.yaml", "--mleval-no-report"))
            worker_cache = root / f"worker-{i}.sqlite"  # a fresh file: a cold cache
            model_run("worker", worker_cache)
            model_run("inline", root / f"inline-{i}.sqlite", "--mleval-litellm-inline")
            model_run("replay", worker_cache, "--mleval-cache", "replay")
    import_s = litellm_import_seconds(runs=args.runs)
    a = n * lat / conc
    med = {k: statistics.median(v) for k, v in walls.items()}
    b = med["b"]
    print(f"{n} cases, latency {lat * 1000:.0f} ms, concurrency {conc}, median of {args.runs}")
    print(f"(a) ideal {a:.2f} s; (b) instant python: target {b:.2f} s")
    print(f"litellm import in a fresh interpreter: {import_s:.2f} s (best of {args.runs})")
    for mode, label in (("worker", "litellm worker (default)"), ("inline", "litellm inline")):
        print(
            f"model suite, cold, {label}: {med[mode]:.2f} s, {max(requests[mode])} server "
            f"requests -> {med[mode] / (a + b):.2f} x (a + b) (goal <= 1.5); "
            f"runs {', '.join(f'{w:.2f}' for w in walls[mode])}"
        )
    print(
        f"replay: {med['replay']:.2f} s, {max(requests['replay'])} server requests -> "
        f"{med['replay'] / b:.2f} x b (goal <= 1.3, 0 requests)"
    )
    floor = import_s + a
    print(
        f"floor with litellm's import on the critical path: import + (a) = {floor:.2f} s "
        f"-> {floor / (a + b):.2f} x (a + b)"
    )


if __name__ == "__main__":
    main()
