"""The OpenAI-compatible test server, spoken to over plain HTTP."""

from __future__ import annotations

import json
import math
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

import pytest

from pytest_mleval.inference.testserver import (
    Fault,
    OpenAITestServer,
    Rule,
    hashed_embedding,
    loopback_only,
)

pytestmark = pytest.mark.skipif(find_spec("aiohttp") is None, reason="needs aiohttp")


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


def post(srv: OpenAITestServer, path: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(
        srv.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x-1234"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw = resp.read()
            status, headers = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        raw, status, headers = err.read(), err.code, dict(err.headers)
    try:
        return status, json.loads(raw), headers
    except ValueError:
        return status, raw, headers


def chat(
    srv: OpenAITestServer, text: str, model: str = "test-model"
) -> tuple[int, Any, dict[str, str]]:
    return post(
        srv, "/chat/completions", {"model": model, "messages": [{"role": "user", "content": text}]}
    )


def test_rules_echo_usage_and_log() -> None:
    rules = [
        Rule(match=r"^refund", reply="30 days"),
        Rule(reply=lambda msgs: msgs[-1]["content"].upper(), model="shout"),
    ]
    with OpenAITestServer(rules=rules) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        status, body, _ = chat(srv, "refund please")
        assert status == 200 and body["choices"][0]["message"]["content"] == "30 days"
        assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
        assert (
            chat(srv, "hey there", model="shout")[1]["choices"][0]["message"]["content"]
            == "HEY THERE"
        )
        assert chat(srv, "echo me")[1]["choices"][0]["message"]["content"] == "echo me"
        assert srv.count == 3 and srv.requests[1]["model"] == "shout"
        srv.reset()
        assert srv.count == 0


def test_faults_first_k_and_matching() -> None:
    faults = [Fault("429", first=2, retry_after=0.25), Fault("500", match="boom")]
    with OpenAITestServer(faults=faults) as srv:
        status, _body, headers = chat(srv, "x")
        assert status == 429 and headers["retry-after-ms"] == "250"
        assert headers["Retry-After"] == "1"
        assert chat(srv, "x")[0] == 429
        assert chat(srv, "x")[0] == 200
        assert chat(srv, "boom")[0] == 500
        assert chat(srv, "fine")[0] == 200


def test_fault_rate_is_seeded() -> None:
    def pattern(seed: int) -> list[int]:
        with OpenAITestServer(faults=[Fault("503", rate=0.3, seed=seed)]) as srv:
            return [chat(srv, "q")[0] for _ in range(40)]

    a, b = pattern(7), pattern(7)
    assert a == b
    assert 3 <= a.count(503) <= 25


def test_malformed_401_404_and_models() -> None:
    with OpenAITestServer(models=["m1"], faults=[Fault("malformed", match="bad")]) as srv:
        status, body, _ = chat(srv, "bad", model="m1")
        assert status == 200 and isinstance(body, bytes)
        status, body, _ = chat(srv, "ok", model="unknown")
        assert status == 404 and body["error"]["code"] == "model_not_found"
        with urllib.request.urlopen(srv.base_url + "/models", timeout=10) as resp:
            assert [m["id"] for m in json.loads(resp.read())["data"]] == ["m1"]
    with OpenAITestServer(faults=[Fault("401")]) as srv:
        status, body, _ = chat(srv, "x")
        assert status == 401 and "sk-x-1234" in body["error"]["message"]


def test_drop_and_hang_are_bounded() -> None:
    with OpenAITestServer(
        faults=[Fault("drop", first=1), Fault("hang", match="slow", hang_s=0.2)]
    ) as srv:
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            chat(srv, "x")
        assert chat(srv, "slow")[0] == 200  # answers after the hang
    with OpenAITestServer(faults=[Fault("hang", hang_s=60)]) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        body = b'{"model":"m","messages":[{"role":"user","content":"x"}]}'
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        # stop() must end the hanging request instead of waiting 60 s.
    sock.close()


def test_embeddings_deterministic_and_normalised() -> None:
    with OpenAITestServer(embedding_dim=32) as srv:
        status, body, _ = post(
            srv, "/embeddings", {"model": "e", "input": ["the cat", "the cat", "dogs run"]}
        )
    assert status == 200
    vecs = [d["embedding"] for d in body["data"]]
    assert len(vecs[0]) == 32 and vecs[0] == vecs[1] != vecs[2]
    assert vecs[0] == hashed_embedding("the cat", 32)
    assert math.isclose(sum(v * v for v in vecs[2]), 1.0)
    assert hashed_embedding("", 8) == [0.0] * 8


def test_loopback_only_refuses_outside_addresses() -> None:
    with loopback_only() as refused:
        with pytest.raises(OSError, match="loopback_only"):
            socket.create_connection(("192.0.2.1", 80), timeout=1)
        with pytest.raises(OSError, match="loopback_only"):
            socket.getaddrinfo("example.com", 443)
        assert len(refused) == 2
        refused.clear()  # keep the autouse guard's own check clean
