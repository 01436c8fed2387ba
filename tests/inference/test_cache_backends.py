"""Cache backends behind one protocol: SQLite (default), a real redis-server and a real
PostgreSQL, both started here on 127.0.0.1 with a password; runs in separate pytest processes
share one cache through them."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.cli import build_parser
from pytest_mleval.errors import ConfigError
from pytest_mleval.inference import ChatRequest, InferenceEngine
from pytest_mleval.inference.cache import CacheWarning, ResponseCache
from pytest_mleval.inference.cache_backend import (
    PASSWORD_ENV,
    open_cache,
    redact_url,
    store_clear,
    store_prune,
    store_stats,
)
from pytest_mleval.inference.scrubbing import scrub
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule

redis = pytest.importorskip("redis", reason="the redis extra (redis-py) is not installed")
psycopg = pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")

ROOT = Path(__file__).resolve().parents[2]
# Random per session: a search of the outputs for it cannot match by accident.
PASSWORD = "pw-" + secrets.token_hex(12)
START_WAIT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until(ready: Callable[[], bool], what: str, timeout: float = START_WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s")


# ------------------------------------------------------------------------------ servers


@dataclass
class Server:
    url: str  # with the password
    stop: Callable[[], None]


def _start_redis(base: Path) -> Server:
    exe = shutil.which("redis-server")
    if exe is None:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "ensure_system_deps.sh"), "redis"],
            capture_output=True,
            timeout=900,
            check=False,
        )
        exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed and ensure_system_deps.sh could not install it")
    port = _free_port()
    base.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            *(exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(base), "--requirepass", PASSWORD, "--logfile", str(base / "log")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ping() -> bool:
        assert proc.poll() is None, "redis-server exited"
        return bool(redis.Redis(port=port, password=PASSWORD, socket_timeout=1).ping())

    def stop() -> None:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    try:
        _wait_until(ping, "redis-server")
    except Exception:
        stop()
        raise
    return Server(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", stop)


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().with_name("initdb").exists():
        return Path(found).resolve().parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "pg_ctl").exists() and Path(d, "initdb").exists():
            return Path(d)
    return None


def _start_postgres(base: Path) -> Server:
    bindir = _pg_bindir()
    if bindir is None:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "ensure_system_deps.sh"), "postgresql"],
            capture_output=True,
            timeout=900,
            check=False,
        )
        bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed and ensure_system_deps.sh could not install it")
    base.mkdir(parents=True, exist_ok=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: the cluster belongs to the postgres system user.
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to own the cluster")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    (base / "pw").write_text(PASSWORD + "\n")
    os.chmod(base / "pw", 0o644)
    data, port = base / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C"}

    def pg(*cmd: str, timeout: float = 120) -> None:
        subprocess.run(
            [*as_user, *cmd], check=True, capture_output=True, timeout=timeout, env=env, cwd=base
        )

    try:
        pg(
            str(bindir / "initdb"),
            *("-D", str(data), "-U", "mleval", "-E", "UTF8", "--no-sync"),
            *("-A", "scram-sha-256", f"--pwfile={base / 'pw'}"),
        )
        (base / "pw").unlink()
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60",
           "-o", opts, "start")  # fmt: skip
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr.decode()}") from exc

    def stop() -> None:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
            cwd=base,
        )

    return Server(f"postgresql://mleval:{PASSWORD}@127.0.0.1:{port}/postgres", stop)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    base = Path(tempfile.mkdtemp(prefix="mleval-redis-"))
    server = _start_redis(base)
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    base = Path(tempfile.mkdtemp(prefix="mleval-pgcache-"))
    server = _start_postgres(base)
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["redis", "postgres"])
def cache_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each server backend, emptied before the test."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    store_clear(url)
    yield url


def _no_password(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text


# ------------------------------------------------------------------------ the protocol

RECORD = {"text": "30 days — ünïcode", "usage": {"prompt_tokens": 3}, "model": "m", "z": [1, 2]}


def _raw_rows(url: str | None, path: Path) -> dict[str, tuple[str, str, int]]:
    """Each backend's stored ``key -> (model, value, size)``, read past the cache classes."""
    if url is None:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            rows = conn.execute("SELECT key, model, value, size FROM responses").fetchall()
        return {k: (m, v, s) for k, m, v, s in rows}
    if url.startswith("redis"):
        client = redis.Redis.from_url(url, decode_responses=True)
        out = {}
        for k in client.scan_iter(match="mleval:cache:*"):
            h = client.hgetall(k)
            out[k.split(":", 2)[2]] = (h["model"], h["value"], int(h["size"]))
        client.close()
        return out
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT key, model, value, size FROM mleval_responses").fetchall()
    return {k: (m, v, s) for k, m, v, s in rows}


def test_same_record_on_every_backend(redis_url: str, postgres_url: str, tmp_path: Path) -> None:
    stored = {}
    for url in (None, redis_url, postgres_url):
        if url:
            store_clear(url)
        cache = open_cache(url, tmp_path / "c.sqlite", "rw")
        assert cache.get("k1") is None
        assert cache.put("k1", "openai/m", RECORD)
        assert cache.get("k1") == RECORD
        cache.close()
        # A second process's view: a fresh cache object reads the same record.
        again = open_cache(url, tmp_path / "c.sqlite", "ro")
        assert again.get("k1") == RECORD and again.put("k2", "m", RECORD) is False
        again.close()
        stored[url or "sqlite"] = _raw_rows(url, tmp_path / "c.sqlite")
    sqlite_rows = stored.pop("sqlite")
    assert sqlite_rows["k1"][0] == "openai/m"
    for rows in stored.values():
        assert rows == sqlite_rows  # same key, model, value text and size
    assert isinstance(open_cache(None, tmp_path / "c.sqlite"), ResponseCache)


def test_modes_on_a_server(cache_url: str) -> None:
    rw = open_cache(cache_url, mode="rw")
    rw.put("a", "m", {"text": "A"})
    off = open_cache(cache_url, mode="off")
    assert off.get("a") is None and off.put("b", "m", {"text": "B"}) is False
    replay = open_cache(cache_url, mode="replay")
    assert replay.replay and replay.get("a") == {"text": "A"} and not replay.writable
    assert replay.put("b", "m", {"text": "B"}) is False
    assert rw.get("b") is None
    for cache in (rw, off, replay):
        cache.close()
    assert PASSWORD not in rw.location and "***" in rw.location


def test_read_only_before_anything_was_recorded(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS mleval_responses")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ro = open_cache(postgres_url, mode="ro")
        assert ro.get("a") is None  # no table yet: a miss, not a broken cache
        assert ro.readable
        ro.close()
    assert store_stats(postgres_url)["entries"] == 0


def test_password_from_the_environment(
    redis_url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in (redis_url, postgres_url):
        bare = url.replace(f":{PASSWORD}@", "@")
        with pytest.warns(CacheWarning) as record:
            assert open_cache(bare).get("x") is None  # refused without the password
        assert len(record) == 1
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        cache = open_cache(bare)
        assert cache.put("x", "m", {"text": "env"}) and cache.get("x") == {"text": "env"}
        cache.close()
        assert store_stats(bare)["entries"] >= 1
        monkeypatch.delenv(PASSWORD_ENV)


def test_unreachable_server_warns_once_and_bypasses(caplog: pytest.LogCaptureFixture) -> None:
    port = _free_port()  # nothing listens there
    for url in (
        f"redis://:{PASSWORD}@127.0.0.1:{port}/0",
        f"postgresql://mleval:{PASSWORD}@127.0.0.1:{port}/postgres",
    ):
        cache = open_cache(url)
        with pytest.warns(CacheWarning, match="running without the cache") as record:
            for _ in range(3):
                assert cache.get("k") is None
                assert cache.put("k", "m", {"text": "x"}) is False
        assert len(record) == 1
        assert not cache.readable and not cache.writable
        _no_password(str(record[0].message), cache.disabled_reason or "", caplog.text)
        assert f"127.0.0.1:{port}" in str(record[0].message)
        stats = store_stats(url)
        assert "error" in stats
        _no_password(json.dumps(stats))
        with pytest.raises(ConfigError) as err:
            store_clear(url)
        _no_password(str(err.value))


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="redis://") as err:
        open_cache(f"mysql://u:{PASSWORD}@h/db")
    _no_password(str(err.value))


def test_scrub_and_redact_remove_url_passwords() -> None:
    for url in (f"redis://:{PASSWORD}@h:1/0", f"postgresql://me:{PASSWORD}@h/db?x=1"):
        _no_password(scrub(f"cannot reach {url} now"), redact_url(url))
        assert "***@h" in redact_url(url)
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


# ------------------------------------------------------------------------ maintenance


def _age(url: str, key: str, days: float) -> None:
    created = time.time() - days * 86400
    if url.startswith("redis"):
        client = redis.Redis.from_url(url)
        client.hset(f"mleval:cache:{key}", "created", repr(created))
        client.close()
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE mleval_responses SET created = %s WHERE key = %s", (created, key))


def test_stats_clear_prune_on_a_server(
    cache_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = open_cache(cache_url)
    for i in range(4):
        assert cache.put(f"k{i}", "model-a" if i < 3 else "model-b", {"text": "x" * 1000})
    cache.close()
    _age(cache_url, "k0", 10)
    _age(cache_url, "k1", 5)
    stats = store_stats(cache_url)
    assert stats["entries"] == 4 and stats["models"] == {"model-a": 3, "model-b": 1}
    assert stats["value_bytes"] == 4 * len(json.dumps({"text": "x" * 1000}))
    assert stats["oldest"] < stats["newest"]
    assert store_prune(cache_url, older_than_days=7) == 1
    # Then the oldest go until the values fit: 3 x ~1 kB into 2.5 kB drops k1 only.
    assert store_prune(cache_url, max_mb=2500 / 1024 / 1024) == 1
    assert open_cache(cache_url).get("k1") is None and open_cache(cache_url).get("k2")

    parser = build_parser()
    args = parser.parse_args(["cache", "stats", "--url", cache_url])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["entries"] == 2
    args = parser.parse_args(["cache", "prune", "--url", cache_url, "--older-than-days", "1"])
    assert args.func(args) == 0
    args = parser.parse_args(["cache", "clear", "--url", cache_url])
    assert args.func(args) == 0
    out += capsys.readouterr().out
    assert "removed 0 entries" in out and "removed 2 entries" in out
    _no_password(out)
    assert store_stats(cache_url)["entries"] == 0


def test_cli_reads_the_url_from_the_ini(
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store_clear(redis_url)
    open_cache(redis_url).put("k", "m", {"text": "x"})
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.pytest.ini_options]\nmleval_cache_url = "{redis_url}"\n'
    )
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    args = build_parser().parse_args(["cache", "stats"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["entries"] == 1 and json.loads(out)["path"].startswith("redis://")
    _no_password(out)


# ------------------------------------------------------------------------ in a run


def _reply(messages: list[dict[str, Any]]) -> str:
    return "ANSWER: " + str(messages[-1]["content"]).split(":")[-1].strip().upper()


def test_server_killed_mid_run_engine_answers_everything(tmp_path: Path) -> None:
    server = _start_redis(tmp_path / "redis")
    calls = {"n": 0}

    def reply(messages: list[dict[str, Any]]) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            server.stop()  # the cache goes away in the middle of the run
        return _reply(messages)

    try:
        with OpenAITestServer(rules=[Rule(reply=reply)], latency_s=0.0) as srv:
            cache = open_cache(server.url)
            with (
                pytest.warns(CacheWarning, match="running without the cache") as record,
                InferenceEngine(cache=cache, api_key="sk-test", concurrency=1) as engine,
            ):
                answers = [
                    engine.complete(
                        ChatRequest.from_prompt("openai/m", f"Say: w{i}", api_base=srv.base_url)
                    ).text
                    for i in range(8)
                ]
            assert answers == [f"ANSWER: W{i}" for i in range(8)]
            assert srv.count == 8  # every case answered by the provider
            assert len([w for w in record if w.category is CacheWarning]) == 1
            _no_password(str(record[0].message))
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["drop", "empty_content"])
def test_only_complete_answers_are_written(cache_url: str, kind: str) -> None:
    from pytest_mleval.errors import InferenceError
    from pytest_mleval.inference.limits import RetryPolicy

    faults = [Fault(kind, match="cut")]  # type: ignore[arg-type]
    with (
        OpenAITestServer(rules=[Rule(reply=_reply)], faults=faults, latency_s=0.0) as srv,
        InferenceEngine(
            cache=open_cache(cache_url),
            api_key="sk-test",
            retry=RetryPolicy(max_retries=0, base_delay=0.01),
        ) as engine,
    ):
        for text in ("Say: cut", "Say: whole"):
            request = ChatRequest.from_prompt(
                "openai/m", text, api_base=srv.base_url, params={"stream": True}
            )
            if text.endswith("cut"):
                with pytest.raises(InferenceError):
                    engine.complete(request)  # the stream breaks off / the answer is unusable
            else:
                assert engine.complete(request).text == "ANSWER: WHOLE"
    rows = _raw_rows(cache_url, Path("unused"))
    assert [json.loads(v)["text"] for _, v, _ in rows.values()] == ["ANSWER: WHOLE"]


# --------------------------------------------------------- two runners, separate processes


def _suite(srv: OpenAITestServer, n: int) -> str:
    cases = "".join(f"  - {{id: c{i}, input: w{i}, expected: 'ANSWER: W{i}'}}\n" for i in range(n))
    return (
        f"suite: shared\ntarget: model:openai/test-model\napi_base: {srv.base_url}\n"
        "prompt: 'Say: {{ input }}'\nparams: {temperature: 0}\nmetrics: [exact]\n"
        f"cases:\n{cases}"
    )


@dataclass
class Run:
    rc: int
    output: str
    results: dict[str, Any]
    files: str  # every file the run wrote under its folder


def _runner(
    folder: Path, srv: OpenAITestServer, n: int, *args: str, env_extra: dict[str, str] | None = None
) -> Run:
    """One CI runner: its own checkout folder and its own pytest process."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shared.eval.yaml").write_text(_suite(srv, n))
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-key", "PYTHONWARNINGS": ""}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop(PASSWORD_ENV, None)
    env.update(env_extra or {})
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rw", "-q"),
            *("--mleval-retry-delay", "0.01", "--mleval-timeout", "10", *args),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results_path = folder / "reports" / "mleval-results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    files = "".join(
        p.read_text(errors="replace")
        for p in folder.rglob("*")
        if p.is_file() and p.stat().st_size < 5_000_000
    )
    return Run(proc.returncode, proc.stdout + proc.stderr, results, files)


def _cases(run: Run) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = run.results["cases"]
    return cases


def test_two_runners_share_one_cache(cache_url: str, tmp_path: Path) -> None:
    n = 6
    with OpenAITestServer(rules=[Rule(reply=_reply)], latency_s=0.0) as srv:
        first = _runner(tmp_path / "runner1", srv, n, "--mleval-cache-url", cache_url)
        assert first.rc == 0, first.output
        assert srv.count == n
        assert not any(c["cached"] for c in _cases(first))
        assert store_stats(cache_url)["entries"] == n
        # Another machine: another folder, another process; answered from the shared cache.
        extra = ["-n", "2"] if cache_url.startswith("redis") else []  # each worker connects
        second = _runner(tmp_path / "runner2", srv, n, "--mleval-cache-url", cache_url, *extra)
        assert second.rc == 0, second.output
        assert srv.count == n  # the second runner made 0 requests
        assert all(c["cached"] for c in _cases(second))
        # xdist's workers finish in any order: the same answers, case by case.
        assert sorted(c["output"] for c in _cases(second)) == sorted(
            c["output"] for c in _cases(first)
        )
        # Replay works against the shared cache (the ini twin names it this time, and the
        # password comes from the environment).
        third = tmp_path / "runner3"
        third.mkdir()
        bare = cache_url.replace(f":{PASSWORD}@", "@")
        (third / "pytest.ini").write_text(f"[pytest]\nmleval_cache_url = {bare}\n")
        replay = _runner(
            third, srv, n, "--mleval-cache", "replay", env_extra={PASSWORD_ENV: PASSWORD}
        )
        assert replay.rc == 0, replay.output
        assert srv.count == n and all(c["cached"] for c in _cases(replay))
        for run in (first, second, replay):
            assert "CacheWarning" not in run.output
            _no_password(run.output, run.files)
        # No SQLite file was used by any runner.
        assert not list(tmp_path.rglob("cache.sqlite"))
        # A case the cache never saw fails in replay, as with the file.
        missing = _runner(tmp_path / "runner4", srv, n + 1, "--mleval-cache", "replay",
                          "--mleval-cache-url", cache_url)  # fmt: skip
        assert missing.rc != 0 and "CacheMissError" in missing.output
        assert srv.count == n


def test_runner_with_a_wrong_url_or_a_dying_server(tmp_path: Path) -> None:
    n = 6
    server = _start_redis(tmp_path / "redis")
    calls = {"n": 0}

    def reply(messages: list[dict[str, Any]]) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            server.stop()  # the shared cache dies while the runner is in the middle of it
        return _reply(messages)

    try:
        with OpenAITestServer(rules=[Rule(reply=reply)], latency_s=0.0) as srv:
            dying = _runner(
                tmp_path / "dying", srv, n, "--mleval-cache-url", server.url,
                "--mleval-concurrency", "1",
            )  # fmt: skip
            wrong_url = f"redis://:{PASSWORD}@127.0.0.1:{_free_port()}/0"
            wrong = _runner(tmp_path / "wrong", srv, n, "--mleval-cache-url", wrong_url)
            assert srv.count == 2 * n  # every case of both runs answered by the provider
        for run in (dying, wrong):
            assert run.rc == 0, run.output
            assert sorted(c["output"] for c in _cases(run)) == [f"ANSWER: W{i}" for i in range(n)]
            assert not any(c["cached"] for c in _cases(run))
            assert run.output.count("running without the cache") == 1, run.output
            assert "1 warning" in run.output
            _no_password(run.output, run.files)
        assert run.results["meta"]["flags"]["cache-url"].startswith("redis://:***@")
    finally:
        server.stop()


def test_bad_scheme_stops_the_run_with_a_clear_error(tmp_path: Path) -> None:
    with OpenAITestServer(rules=[Rule(reply=_reply)], latency_s=0.0) as srv:
        run = _runner(tmp_path / "r", srv, 2, "--mleval-cache-url", f"mysql://u:{PASSWORD}@h/db")
        assert srv.count == 0
    assert run.rc != 0 and "--mleval-cache-url must start with redis://" in run.output
    _no_password(run.output)


def test_option_and_ini_twin_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--mleval-cache-url=URL*", "*mleval_cache_url*"])
