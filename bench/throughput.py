"""Inference throughput: the engine (litellm) against a raw aiohttp client, side by side.

    .venv/bin/python bench/throughput.py [--requests 600] [--concurrency 32]

At 0 ms server latency, the same number of chat completions go to the OpenAI-compatible test
server (in a subprocess, so the server's CPU is not ours) through
  (1) a raw aiohttp client with a semaphore of the same concurrency (the reference),
  (2) the InferenceEngine with the native client (what `model:openai/...` targets use),
  (3) the InferenceEngine with litellm in this process and in its worker process (what other
      providers use),
  (4) the InferenceEngine with a fake provider (the engine's own overhead, no litellm, no HTTP).
It prints requests/s, CPU ms per call, the ratio engine/raw, where the engine's CPU goes
(cProfile of the inference loop thread, grouped by package) and litellm's import time.

`serve_for_bench(latency_s)` is the server the pytest-level benchmark can reuse.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from pytest_mleval.inference import (
    AutoProvider,
    ChatRequest,
    FakeProvider,
    InferenceEngine,
    RetryPolicy,
    shared_loop,
)
from pytest_mleval.inference.providers.litellm_worker import LiteLLMWorkerProvider
from pytest_mleval.inference.worker import LiteLLMWorker


@dataclass
class BenchServer:
    """A test server running in its own process."""

    base_url: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, int]:
        """Requests received and the in-flight high-water mark, as the server counts them."""
        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + "/mleval/stats") as r:
            data: dict[str, int] = json.loads(r.read())
        return data


@contextmanager
def serve_for_bench(latency_s: float = 0.0, reply: str | None = None) -> Iterator[BenchServer]:
    """Run `python -m pytest_mleval.inference.testserver` in a subprocess; yields its URL."""
    cmd = [sys.executable, "-m", "pytest_mleval.inference.testserver", "--latency", str(latency_s)]
    if reply is not None:
        cmd += ["--reply", reply]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"test server did not start: {url!r}")
        yield BenchServer(url, proc)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def litellm_import_seconds(runs: int = 2) -> float:
    """Median-free best-of-N import time of litellm in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import litellm; print(time.perf_counter() - t)"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return min(times)


async def _raw_client(base_url: str, n: int, concurrency: int) -> None:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": "Bearer sk-bench"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(i: int) -> str:
            async with sem:
                body = {"model": "test-model", "messages": [{"role": "user", "content": f"q{i}"}]}
                async with session.post(base_url + "/chat/completions", json=body) as resp:
                    data = await resp.json()
                    text: str = data["choices"][0]["message"]["content"]
                    return text

        texts = await asyncio.gather(*(one(i) for i in range(n)))
        assert texts == [f"q{i}" for i in range(n)]


def bench_raw(base_url: str, n: int, concurrency: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds of n requests through a raw aiohttp client."""
    asyncio.run(_raw_client(base_url, min(n, 50), concurrency))  # warm up
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(_raw_client(base_url, n, concurrency))
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_engine(
    engine: InferenceEngine, reqs: list[ChatRequest], *, profile: bool = False
) -> tuple[float, float, pstats.Stats | None]:
    """Wall and CPU seconds of the requests through the engine (optionally profiled)."""
    loop = shared_loop()
    profiler = cProfile.Profile()
    if profile:  # cProfile follows one thread: switch it on inside the loop thread
        asyncio.run_coroutine_threadsafe(_call(profiler.enable), loop).result()
    wall, cpu = time.perf_counter(), time.process_time()
    futures = engine.prefetch(reqs)
    for fut, req in zip(futures, reqs, strict=False):
        assert fut.result().text == req.messages[-1]["content"]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profile:
        asyncio.run_coroutine_threadsafe(_call(profiler.disable), loop).result()
        return wall, cpu, pstats.Stats(profiler)
    return wall, cpu, None


async def _call(fn: object) -> None:
    fn()  # type: ignore[operator]


def where_time_goes(stats: pstats.Stats) -> dict[str, float]:
    """Share of profiled CPU (own time) per package."""
    buckets: dict[str, float] = {}
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        path = filename.replace("\\", "/")
        if "/pytest_mleval/" in path:
            key = "pytest_mleval (engine)"
        elif "/litellm/" in path:
            key = "litellm"
        elif "/openai/" in path:
            key = "openai SDK"
        elif "/httpx/" in path or "/httpcore/" in path or "/aiohttp/" in path:
            key = "http client (httpx/aiohttp)"
        elif "/pydantic" in path:
            key = "pydantic"
        elif "/asyncio/" in path or "selectors" in path:
            key = "asyncio"
        else:
            key = "other (stdlib, json, ssl...)"
        buckets[key] = buckets.get(key, 0.0) + tottime
    total = sum(buckets.values()) or 1.0
    return {k: v / total for k, v in sorted(buckets.items(), key=lambda kv: -kv[1])}


def warm2(srv: BenchServer) -> list[ChatRequest]:
    """Warm-up requests for a second engine (distinct texts: no cache or dedup hits)."""
    return [
        ChatRequest.from_prompt("openai/test-model", f"v{i}", api_base=srv.base_url)
        for i in range(50)
    ]


def _child_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a child process has used so far (Linux /proc)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    n, c = args.requests, args.concurrency
    no_retry = RetryPolicy(max_retries=0)

    # The engine's own cost first, before litellm's objects weigh on this process's GC.
    fake_engine = InferenceEngine(FakeProvider(), concurrency=c, retry=no_retry)
    fake_reqs = [ChatRequest.from_prompt("fake/m", f"f{i}") for i in range(n)]
    bench_engine(fake_engine, fake_reqs[:50])
    fake_wall, fake_cpu, _ = bench_engine(
        fake_engine, [ChatRequest.from_prompt("fake/m", f"g{i}") for i in range(n)]
    )
    fake_engine.close()
    import_s = litellm_import_seconds()
    with serve_for_bench(0.0) as srv:
        raw_wall, raw_cpu = bench_raw(srv.base_url, n, c)

        native = InferenceEngine(
            AutoProvider(client="native"), concurrency=c, retry=no_retry, api_key="sk-bench"
        )
        native.warmup(["openai/test-model"]).result()
        bench_engine(
            native,
            [
                ChatRequest.from_prompt("openai/test-model", f"n{i}", api_base=srv.base_url)
                for i in range(50)
            ],
        )
        nat_wall, nat_cpu, _ = bench_engine(
            native,
            [
                ChatRequest.from_prompt("openai/test-model", f"m{i}", api_base=srv.base_url)
                for i in range(n)
            ],
        )
        _, _, nat_prof = bench_engine(
            native,
            [
                ChatRequest.from_prompt("openai/test-model", f"o{i}", api_base=srv.base_url)
                for i in range(min(n, 300))
            ],
            profile=True,
        )
        native.close()

        engine = InferenceEngine(
            AutoProvider(client="litellm"), concurrency=c, retry=no_retry, api_key="sk-bench"
        )
        warm_start = time.perf_counter()
        engine.warmup(["openai/test-model"]).result()
        warm_s = time.perf_counter() - warm_start
        warm = [
            ChatRequest.from_prompt("openai/test-model", f"w{i}", api_base=srv.base_url)
            for i in range(50)
        ]
        bench_engine(engine, warm)
        reqs = [
            ChatRequest.from_prompt("openai/test-model", f"q{i}", api_base=srv.base_url)
            for i in range(n)
        ]
        eng_wall, eng_cpu, _ = bench_engine(engine, reqs)
        prof_reqs = [
            ChatRequest.from_prompt("openai/test-model", f"p{i}", api_base=srv.base_url)
            for i in range(min(n, 300))
        ]
        _, _, prof = bench_engine(engine, prof_reqs, profile=True)
        engine.close()

        # litellm in its worker process (what the plugin uses): parent and child CPU apart.
        worker = LiteLLMWorker()
        wengine = InferenceEngine(
            AutoProvider(
                LiteLLMWorkerProvider(api_key="sk-bench", worker=worker), client="litellm"
            ),
            concurrency=c,
            retry=no_retry,
        )
        wengine.warmup(["openai/test-model"]).result()
        bench_engine(wengine, warm2(srv))
        child_before = _child_cpu(worker.pid)
        w_wall, w_cpu, _ = bench_engine(
            wengine,
            [
                ChatRequest.from_prompt("openai/test-model", f"k{i}", api_base=srv.base_url)
                for i in range(n)
            ],
        )
        w_child = _child_cpu(worker.pid) - child_before
        wengine.close()
        worker.close()
        server_count = srv.stats()["count"]

    raw_rps, eng_rps, fake_rps = n / raw_wall, n / eng_wall, n / fake_wall
    print(f"inference throughput: {n} chat completions, concurrency {c}, server latency 0 ms")
    print(
        f"  raw aiohttp client          {raw_rps:8.0f} req/s   CPU {1000 * raw_cpu / n:6.2f} ms/call"
    )
    print(
        f"  engine + native client      {n / nat_wall:8.0f} req/s   CPU {1000 * nat_cpu / n:6.2f} ms/call"
    )
    print(
        f"  engine + litellm            {eng_rps:8.0f} req/s   CPU {1000 * eng_cpu / n:6.2f} ms/call"
    )
    print(
        f"  engine + litellm worker     {n / w_wall:8.0f} req/s   CPU {1000 * w_cpu / n:6.2f} ms/call"
        f" here + {1000 * w_child / n:.2f} ms/call in the worker"
    )
    print(
        f"  engine + fake provider      {fake_rps:8.0f} req/s   CPU {1000 * fake_cpu / n:6.2f} ms/call"
    )
    print(f"  ratio engine+native / raw   {n / nat_wall / raw_rps:8.3f}")
    print(
        f"  harness CPU per call, native: {1000 * (nat_cpu - raw_cpu) / n:.2f} ms over raw aiohttp"
        f" ({1000 * nat_cpu / n:.2f} ms in all)"
    )
    print(f"  ratio engine+litellm / raw  {eng_rps / raw_rps:8.3f}")
    print(f"  ratio engine+worker / raw   {n / w_wall / raw_rps:8.3f}")
    print(
        f"  litellm import              {import_s:8.2f} s (paid once per process; warmup() took {warm_s:.2f} s)"
    )
    print(f"  server saw                  {server_count} requests")
    print("  where the native engine's loop-thread CPU goes (own time):")
    for key, share in where_time_goes(nat_prof).items():
        print(f"    {share:6.1%}  {key}")
    if prof is not None:
        print("  where the litellm engine's loop-thread CPU goes (own time):")
        for key, share in where_time_goes(prof).items():
            print(f"    {share:6.1%}  {key}")
        print("  top functions by own time:")
        prof.sort_stats("tottime").print_stats(8)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
