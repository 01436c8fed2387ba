"""``hf:PATH`` models: the embedded tiny causal LM, generated in-process and offline."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.errors import InferenceError
from pytest_mleval.inference import ChatRequest, InferenceEngine, RetryPolicy
from pytest_mleval.inference.providers.local import HFLocalProvider, format_messages
from pytest_mleval.inference.testserver import loopback_only

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "fixtures" / "tiny_lm" / "build_tiny_lm.py"
NO_RETRY = RetryPolicy(max_retries=0)


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    if not BUILDER.exists():
        pytest.skip("fixtures/tiny_lm/build_tiny_lm.py is not in this checkout")
    spec = importlib.util.spec_from_file_location("build_tiny_lm", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("tiny_lm")
    path: Path = module.build(out)
    return Path(path)


def _reference(path: Path, messages: list[dict[str, Any]], max_new: int) -> str:
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(
            **ids, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id
        )
    text: str = tok.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True)
    return text


def test_greedy_generation_matches_transformers(tiny_lm: Path) -> None:
    req = ChatRequest.from_prompt(
        f"hf:{tiny_lm}",
        "What is the capital of France?",
        system="Answer briefly.",
        params={"max_tokens": 12},
    )
    with InferenceEngine(retry=NO_RETRY) as eng:
        first = eng.complete(req)
        again = eng.complete(
            ChatRequest.from_prompt(
                f"hf:{tiny_lm}",
                "What is the capital of France?",
                system="Answer briefly.",
                params={"max_tokens": 12},
                sample=1,
            )
        )
    expected = _reference(tiny_lm, [dict(m) for m in req.messages], 12)
    assert first.text == expected == again.text  # greedy: deterministic
    assert first.usage.completion_tokens <= 12 and first.usage.prompt_tokens > 0
    assert first.cost_usd == 0 and first.finish_reason in ("stop", "length")


def test_format_messages_without_template() -> None:
    class Bare:
        chat_template = None

    text = format_messages(Bare(), [{"role": "user", "content": "hi"}])
    assert text == "user: hi\nassistant:"


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    with (
        InferenceEngine(retry=NO_RETRY) as eng,
        pytest.raises(InferenceError, match=r"config\.json"),
    ):
        eng.complete(ChatRequest.from_prompt(f"hf:{tmp_path / 'nope'}", "hi"))


def test_missing_transformers_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    provider = HFLocalProvider(tmp_path)
    with (
        InferenceEngine(provider, retry=NO_RETRY) as eng,
        pytest.raises(InferenceError, match=r"pytest-mleval\[finetune\]"),
    ):
        eng.complete(ChatRequest.from_prompt("hf:x", "hi"))
