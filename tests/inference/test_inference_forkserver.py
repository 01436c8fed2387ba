"""The warm litellm server: a run's worker started cold starts it, later workers are served by
forks of it, through the loopback test server as a real provider is reached."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

from pytest_mleval.errors import InferenceError
from pytest_mleval.inference import (
    AutoProvider,
    ChatRequest,
    InferenceEngine,
    RetryPolicy,
    forkserver,
)
from pytest_mleval.inference import worker as worker_module
from pytest_mleval.inference.providers.litellm_worker import LiteLLMWorkerProvider
from pytest_mleval.inference.testserver import OpenAITestServer, Rule, loopback_only
from pytest_mleval.inference.worker import LiteLLMWorker

pytestmark = pytest.mark.skipif(
    find_spec("litellm") is None or find_spec("aiohttp") is None,
    reason="needs the llm extra (litellm, aiohttp)",
)

SECRET = "sk-test-FORKSERVERSECRET7"


@pytest.fixture
def server_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    # A short name: a Unix socket's path has a length limit.
    directory = Path(tmp_path_factory.mktemp("srv", numbered=True))
    directory.chmod(0o700)
    monkeypatch.setenv(forkserver.DIR_ENV, str(directory))
    monkeypatch.setenv(forkserver.IDLE_ENV, "120")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    worker_module.use_litellm_server(True)
    yield directory
    worker_module.use_litellm_server(False)
    forkserver.stop_servers(str(directory))
    _kill_servers(directory)  # also those still importing (no pid file yet)


def _kill_servers(directory: Path) -> None:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--server" in args and any(str(directory).encode() in a for a in args):
            with contextlib.suppress(OSError):
                os.kill(int(cmdline.parent.name), signal.SIGKILL)


def ask(worker: LiteLLMWorker, srv: OpenAITestServer, text: str) -> str:
    provider = AutoProvider(LiteLLMWorkerProvider(worker=worker), client="litellm")
    retry = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.05, seed=0)
    with InferenceEngine(provider, retry=retry) as eng:
        return eng.complete(ChatRequest.from_prompt("openai/m", text, api_base=srv.base_url)).text


def started_worker() -> LiteLLMWorker:
    w = LiteLLMWorker()
    w.wait_ready(120)
    return w


def wait_for(predicate: object, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_cold_worker_starts_the_server_and_later_workers_are_forks_of_it(
    server_dir: Path,
) -> None:
    with loopback_only() as refused, OpenAITestServer(rules=[Rule(reply="hello")]) as srv:
        cold = started_worker()
        assert not cold.warm and cold.server_used and (cold.import_seconds or 0) > 0
        assert ask(cold, srv, "one") == "hello"
        cold.close()
        assert wait_for(lambda: list(server_dir.glob("litellm-*.sock.pid")))
        pid = int(next(server_dir.glob("litellm-*.sock.pid")).read_text())
        # The server keeps the variables litellm reads at import, never the run's secrets.
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert SECRET.encode() not in environ

        warm = [started_worker() for _ in range(2)]  # two runs at once: two forks
        forks = _children(pid)
        assert len(forks) == 2
        # Each works in its run's directory, not in the server's.
        assert {os.readlink(f"/proc/{f}/cwd") for f in forks} == {os.getcwd()}
        for i, w in enumerate(warm):
            assert w.warm and w.import_seconds == 0.0
            # Each fork took its run's environment, key included.
            assert ask(w, srv, f"q{i}") == "hello"
            w.close()
        # No key was passed to the calls: each fork took its run's OPENAI_API_KEY.
        assert srv.count == 3
    assert not refused
    assert forkserver.stop_servers(str(server_dir)) == 1
    assert wait_for(lambda: not list(server_dir.glob("*.sock")), 10)


def test_a_fork_is_guarded_like_the_worker_it_serves(server_dir: Path) -> None:
    with loopback_only():
        started_worker().close()
    assert wait_for(lambda: list(server_dir.glob("*.sock")))
    with loopback_only() as refused:
        warm = started_worker()
        assert warm.warm
        provider = AutoProvider(
            LiteLLMWorkerProvider(api_key=SECRET, worker=warm), client="litellm"
        )
        retry = RetryPolicy(max_retries=0)
        with InferenceEngine(provider, retry=retry) as eng, pytest.raises(InferenceError):
            eng.complete(ChatRequest.from_prompt("openai/m", "x", api_base="http://10.255.0.1:9"))
        warm.close()
    assert any("10.255.0.1" in r for r in refused)


def test_a_stale_socket_or_a_hung_server_falls_back_to_importing(server_dir: Path) -> None:
    path = forkserver.server_path()
    assert path is not None and path.startswith(str(server_dir))
    # Stale: a socket file nobody listens on (a server that was killed).
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    with loopback_only(), OpenAITestServer(rules=[Rule(reply="ok")]) as srv:
        w = started_worker()
        assert not w.warm and ask(w, srv, "a") == "ok"
        w.close()
    # Hung: something accepts connections but never answers.
    forkserver.stop_servers(str(server_dir))
    assert wait_for(lambda: not os.path.exists(path) or _refuses(path), 10)
    with _listener(path), loopback_only(), OpenAITestServer(rules=[Rule(reply="ok")]) as srv:
        w = started_worker()
        assert not w.warm and ask(w, srv, "b") == "ok"
        w.close()


def _children(pid: int) -> list[int]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def _refuses(path: str) -> bool:
    return forkserver.connect(path) is None


class _listener:
    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX)

    def __enter__(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock.bind(self.path)
        self.sock.listen(8)

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        os.unlink(self.path)


def test_the_socket_directory_must_be_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setenv(forkserver.DIR_ENV, str(shared))
    assert forkserver.server_path() is None
    shared.chmod(0o700)
    assert forkserver.server_path() is not None


def test_the_key_changes_with_litellm_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "d"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv(forkserver.DIR_ENV, str(directory))
    one = forkserver.server_path({"LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    assert one == forkserver.server_path({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "X": "1"})
    assert one != forkserver.server_path({"LITELLM_LOCAL_MODEL_COST_MAP": "False"})


@pytest.mark.parametrize(
    ("setting", "env", "on"),
    [
        ("on", {"CI": "true"}, True),
        ("off", {}, False),
        ("auto", {}, True),
        ("auto", {"CI": "true"}, False),
        ("auto", {"CI": "false"}, True),
        ("auto", {"CI": "1", "MLEVAL_LITELLM_SERVER": "on"}, True),
        ("auto", {"MLEVAL_LITELLM_SERVER": "off"}, False),
        ("auto", {"JENKINS_URL": "http://ci.example"}, False),
        (None, {}, True),
    ],
)
def test_server_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, env: dict[str, str], on: bool
) -> None:
    for name in ("CI", "MLEVAL_LITELLM_SERVER", *forkserver._CI_MARKERS):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert forkserver.server_wanted(setting) is on


def test_plugin_runs_start_then_use_the_warm_server(
    pytester: pytest.Pytester, server_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with OpenAITestServer(rules=[Rule(reply="ok")]) as srv:
        pytester.makefile(
            ".eval.yaml",
            llm=f"target: model:openai/m\napi_base: {srv.base_url}\n"
            "metrics: [{exact: {value: ok}}]\ncases:\n  - {id: a, input: x}\n  - {id: b, input: y}\n",
        )
        # The litellm path (the native client would serve this OpenAI-compatible model).
        args = (
            "--mleval-litellm-server",
            "on",
            "--mleval-cache",
            "off",
            "--mleval-client",
            "litellm",
        )
        first = pytester.runpytest_subprocess(*args)
        first.assert_outcomes(passed=2)
        first.stdout.fnmatch_lines(["*litellm imported in *a background server now keeps it*"])
        assert wait_for(lambda: list(server_dir.glob("litellm-*.sock.pid")))
        second = pytester.runpytest_subprocess(*args)
        second.assert_outcomes(passed=2)
        second.stdout.fnmatch_lines(["*ran in a fork of the warm litellm server*"])
        off = pytester.runpytest_subprocess(
            "--mleval-litellm-server", "off", "--mleval-cache", "off", "--mleval-client", "litellm"
        )
        off.assert_outcomes(passed=2)
        assert "litellm server" not in off.stdout.str()
        assert srv.count == 6
    from pytest_mleval.cli import main

    capsys.readouterr()
    assert main(["litellm-server", "status"]) == 0
    assert f"socket {server_dir}" in capsys.readouterr().out
    assert main(["litellm-server", "stop"]) == 0
    assert "stopped 1 warm litellm server" in capsys.readouterr().out
    assert wait_for(lambda: not forkserver.list_servers(str(server_dir)), 10)


def test_a_fork_gets_what_litellms_import_adds_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    # litellm loads a .env file at import: a fork reloads it through litellm's own hook ...
    calls: list[str] = []
    hook = types.SimpleNamespace(apply_process_defaults=lambda: calls.append("reloaded"))
    monkeypatch.setitem(sys.modules, "litellm._process_defaults", hook)
    forkserver._reload_import_env({"FROM_DOTENV": "stale"})
    assert calls == ["reloaded"] and "FROM_DOTENV" not in os.environ
    # ... or, with a litellm without that hook, gets what the server's import added,
    # never over the run's own variables.
    monkeypatch.setitem(sys.modules, "litellm._process_defaults", types.SimpleNamespace())
    monkeypatch.setenv("RUN_OWN", "run")
    monkeypatch.delenv("FROM_DOTENV", raising=False)
    forkserver._reload_import_env({"FROM_DOTENV": "x", "RUN_OWN": "dotenv"})
    assert os.environ["FROM_DOTENV"] == "x" and os.environ["RUN_OWN"] == "run"
    monkeypatch.delenv("FROM_DOTENV")
