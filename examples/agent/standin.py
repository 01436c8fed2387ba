"""A scripted stand-in for a tool-calling model, on the bundled OpenAI-compatible test server.

It lets the example run offline with no API key, through the same client, tool loop, cache and
reports a real model goes through. It is scripted, not smart: a greeting is answered directly;
a question is answered with a ``search_docs`` call whose query its rule names; once the tool's
passages come back, the answer is the passage sentence that shares most words with the
question, citing its file. Run a real model instead with ``--mleval-model`` (see README.md).

``python examples/agent/standin.py`` serves it and prints its base URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from typing import Any

from pytest_mleval.inference.testserver import OpenAITestServer, Rule

_STOP = {
    "the", "and", "are", "can", "how", "does", "which", "what", "that", "with", "from", "for",
    "this", "those", "these", "into", "instead", "you", "your", "not", "use",
}  # fmt: skip


def _words(text: str) -> set[str]:
    # Crude stems (the first four letters) so that "file" meets "files" and "collect" meets
    # "collected".
    return {w[:4] for w in re.findall(r"[a-z_]{3,}", text.lower()) if w not in _STOP}


def answer_from_passages(messages: list[dict[str, Any]]) -> str:
    """The reply after a ``search_docs`` result: the passage sentence sharing most words with
    the question and the search query, with its source."""
    question = next(
        (str(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    for m in reversed(messages):
        for call in m.get("tool_calls") or ():
            question += " " + str(call.get("function", {}).get("arguments", ""))
        if m.get("tool_calls"):
            break
    try:
        passages = json.loads(str(messages[-1].get("content")))
    except ValueError:
        return "I could not read the search results."
    best, best_doc, best_overlap = "", "", -1
    for passage in passages if isinstance(passages, list) else []:
        text = "\n".join(
            line for line in str(passage.get("text", "")).splitlines() if not line.startswith("#")
        )
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            overlap = len(_words(sentence) & _words(question))
            if overlap > best_overlap:
                best, best_doc, best_overlap = sentence.strip(), str(passage.get("doc")), overlap
    if not best:
        return "The documentation does not say."
    return f"{best} (source: {best_doc})"


def _search(query: str) -> list[dict[str, Any]]:
    return [{"name": "search_docs", "arguments": {"query": query, "k": 3}}]


RULES = [
    # After the tool's result: answer from the passages.
    Rule(tool_result=r".", reply=answer_from_passages),
    Rule(match=r"(?i)^\s*(hello|hi|thanks)\b", reply="Hello! Ask me anything about pytest-mleval."),
    Rule(match=r"(?i)change .*pattern", tool_calls=_search("mleval_files ini option patterns")),
    Rule(match=r"(?i)csv|spreadsheet|dataset", tool_calls=_search("dataset CSV JSONL file")),
    Rule(match=r"(?i)yaml|collect", tool_calls=_search("eval files named YAML collected")),
    Rule(match=r".", tool_calls=_search("pytest-mleval")),
]
"""The stand-in's script, first match wins (see the test server's ``Rule``)."""


DEFAULT_PORT = 8739
"""The stand-in's loopback port unless ``MLEVAL_STANDIN_PORT`` says another: fixed, because
the endpoint is part of each call's cache key (a recorded run replays only against the same)."""


def _port() -> int:
    return int(os.environ.get("MLEVAL_STANDIN_PORT") or DEFAULT_PORT)


def standin_url() -> str:
    """The stand-in's base URL (the ``api_base`` of the example's model target)."""
    return f"http://127.0.0.1:{_port()}/v1"


def serve() -> OpenAITestServer:
    """Start the stand-in on its loopback port (stop it with ``.stop()``)."""
    return OpenAITestServer(RULES, port=_port()).start()


if __name__ == "__main__":
    import sys

    server = serve()
    print(server.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()
    server.stop()
