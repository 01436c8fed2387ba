"""A 300-case `model:` suite through pytest: concurrency, and replay from the cache.

Measured in one run, side by side (each figure the median of --runs runs, interleaved):
  (a) the ideal: 300 calls x 0.5 s latency / 32 concurrent calls;
  (b) the same suite with an instant `python:` target (pytest's own per-item cost);
  the model suite against the test server at 500 ms latency, concurrency 32, cold cache
      (goal <= 1.5 (a + b)):
      - cold process: the litellm worker imports litellm itself (--mleval-litellm-server off;
        what every CI run does);
      - warm server: the worker is a fork of the warm litellm server that an earlier run
        started (the default outside CI: every run after the first);
      - inline: litellm inside the pytest process (--mleval-litellm-inline), for comparison;
  the model suite replayed from the cache (goal: zero server requests, wall <= 1.3 b);
  litellm's import in a fresh interpreter (no call of a cold process can start before it).
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

from pytest_mleval.inference.forkserver import DIR_ENV, stop_servers


def run_pytest(cwd: Path, env_extra: dict[str, str], *args: str) -> float:
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-bench",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        **env_extra,
    }
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
    modes = {
        "cold": ("cold process, litellm worker imports litellm", "--mleval-litellm-server", "off"),
        "warm": ("warm litellm server (a fork serves the run)", "--mleval-litellm-server", "on"),
        "inline": ("litellm inline in pytest", "--mleval-litellm-inline"),
    }
    walls: dict[str, list[float]] = {"b": [], "replay": [], **{m: [] for m in modes}}
    requests: dict[str, list[int]] = {"replay": [], **{m: [] for m in modes}}
    with (
        tempfile.TemporaryDirectory() as tmp,
        tempfile.TemporaryDirectory(prefix="srv") as server_dir,
        serve_for_bench(lat, reply="ok") as srv,
    ):
        os.chmod(server_dir, 0o700)
        env_extra = {DIR_ENV: server_dir}
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

        def model_run(mode: str | None, cache: Path, *extra: str) -> None:
            before = srv.stats()["count"]
            wall = run_pytest(
                root,
                env_extra,
                "model",
                "--mleval-concurrency",
                str(conc),
                "--mleval-cache-path",
                str(cache),
                "--mleval-no-report",
                *extra,
            )
            if mode is not None:
                walls[mode].append(wall)
                requests[mode].append(srv.stats()["count"] - before)

        try:
            # Not measured: this run imports litellm itself and starts the warm server.
            model_run(None, root / "start.sqlite", *modes["warm"][1:])
            deadline = time.monotonic() + 60
            while not list(Path(server_dir).glob("*.sock.pid")):
                if time.monotonic() > deadline:
                    raise SystemExit("the warm litellm server did not start")
                time.sleep(0.2)
            for i in range(args.runs):
                walls["b"].append(run_pytest(root, env_extra, "py.eval.yaml", "--mleval-no-report"))
                for mode, (_, *extra) in modes.items():
                    model_run(mode, root / f"{mode}-{i}.sqlite", *extra)  # a fresh, cold cache
                model_run("replay", root / f"cold-{i}.sqlite", "--mleval-cache", "replay")
        finally:
            stop_servers(server_dir)
    import_s = litellm_import_seconds(runs=args.runs)
    a = n * lat / conc
    med = {k: statistics.median(v) for k, v in walls.items()}
    b = med["b"]
    print(f"{n} cases, latency {lat * 1000:.0f} ms, concurrency {conc}, median of {args.runs}")
    print(
        f"(a) ideal {a:.2f} s; (b) instant python: target {b:.2f} s "
        f"(runs {', '.join(f'{w:.2f}' for w in walls['b'])})"
    )
    print(f"litellm import in a fresh interpreter: {import_s:.2f} s (best of {args.runs})")
    for mode, (label, *_) in modes.items():
        print(
            f"model suite, cold cache, {label}: {med[mode]:.2f} s, {max(requests[mode])} server "
            f"requests -> {med[mode] / (a + b):.2f} x (a + b) (goal <= 1.5); "
            f"runs {', '.join(f'{w:.2f}' for w in walls[mode])}"
        )
    print(
        f"replay: {med['replay']:.2f} s, {max(requests['replay'])} server requests -> "
        f"{med['replay'] / b:.2f} x b (goal <= 1.3, 0 requests)"
    )
    floor = import_s + a
    print(
        f"a cold process's floor, litellm's import on the critical path: import + (a) = "
        f"{floor:.2f} s -> {floor / (a + b):.2f} x (a + b)"
    )


if __name__ == "__main__":
    main()
