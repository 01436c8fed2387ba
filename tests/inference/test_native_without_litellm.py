"""pytest-mleval[native]: the native client without litellm installed (issue 16).

OpenAI-compatible targets run with aiohttp alone; OpenAI's models are priced from the shipped
table (a snapshot of litellm's cost map), and anything that needs litellm says how to get it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mleval.inference.providers.costmap import (
    SHIPPED_TABLE,
    CostMap,
    litellm_map_file,
    openai_price_table,
    shipped_cost_map,
)
from pytest_mleval.inference.testserver import OpenAITestServer, Rule

REPO = Path(__file__).resolve().parents[2]

# Loaded with -p before any other plugin: litellm cannot be found, as where it is not installed.
BLOCKER = """
import sys

class _NoLitellm:
    def find_spec(self, name, path=None, target=None):
        if name == "litellm" or name.startswith("litellm."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoLitellm())

def pytest_sessionfinish(session):
    imported = sorted(m for m in sys.modules if m.split(".")[0] in ("litellm", "openai"))
    with open("imported.json", "w") as f:
        f.write(__import__("json").dumps(imported))
"""


def _litellm_map() -> dict[str, object]:
    path = litellm_map_file()
    assert path is not None, "the dev install has litellm"
    loaded: dict[str, object] = json.loads(path.read_bytes())
    return loaded


def test_the_shipped_table_holds_the_installed_litellm_maps_openai_prices() -> None:
    shipped = json.loads(SHIPPED_TABLE.read_text(encoding="utf-8"))
    assert shipped["source"].startswith("litellm ")
    current = openai_price_table(_litellm_map(), "installed")["entries"]
    entries = shipped["entries"]
    assert {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"} <= set(entries)
    shared = set(entries) & set(current)
    # litellm drops deprecated models and adds new ones; a price it changed is a stale table.
    assert len(shared) >= 0.9 * len(entries)
    stale = {k: (entries[k], current[k]) for k in shared if entries[k] != current[k]}
    assert not stale, f"run scripts/gen_openai_prices.py: {stale}"


def test_the_shipped_table_prices_as_litellms_map_does() -> None:
    shipped = shipped_cost_map()
    assert shipped.shipped and shipped.available
    full = CostMap(_litellm_map())  # type: ignore[arg-type]
    usage = {"prompt_tokens": 1200, "completion_tokens": 300}
    usage["prompt_tokens_details"] = {"cached_tokens": 1000}  # type: ignore[assignment]
    for model in ("openai/gpt-4o-mini", "gpt-4o", "openai/gpt-4.1-nano"):
        assert shipped.chat_cost(model, usage) == full.chat_cost(model, usage), model
        assert shipped.chat_cost(model, usage)[0] > 0
    assert shipped.embedding_cost("openai/text-embedding-3-small", 1000) > 0
    assert shipped.supports_response_schema("openai/gpt-4o-mini")
    # Another provider's model is unpriced, and the note says why and what would price it.
    cost, note = shipped.chat_cost("anthropic/claude-3-5-sonnet-20240620", usage)
    assert cost == 0 and note is not None and "litellm" in note and "not installed" in note


def test_the_package_ships_the_table() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert "inference/providers/openai_prices.json" in pyproject
    assert '\nnative = ["aiohttp' in pyproject


def test_a_run_without_litellm_calls_natively_and_prices_from_the_table(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(block_litellm=BLOCKER)
    with OpenAITestServer(rules=[Rule(reply="thirty days")]) as srv:
        pytester.makefile(
            ".eval.yaml",
            priced=(
                f"target: model:openai/gpt-4o-mini\napi_base: {srv.base_url}\n"
                "metrics: [{contains: {value: thirty}}, {cost_usd: {max: 1}}]\n"
                "cases:\n  - {id: a, input: what is the refund window}\n"
                "  - {id: b, input: how long do I have}\n"
            ),
            # A litellm-only parameter needs litellm: the case errors with the install hint,
            # never passes.
            azure=(
                f"target: model:openai/gpt-4o-mini\napi_base: {srv.base_url}\n"
                "params: {api_version: '2024-02-01'}\n"
                "metrics: [{contains: {value: thirty}}]\ncases:\n  - {id: c, input: refund?}\n"
            ),
        )
        result = pytester.runpytest_subprocess(
            "-p",
            "block_litellm",
            "--mleval-cache",
            "off",
            # litellm in this process, where the blocker hides it (not in the worker process).
            "--mleval-litellm-inline",
            "--mleval-report-dir",
            "out",
            "-o",
            "pythonpath=.",
        )
        assert srv.count == 2
    result.assert_outcomes(passed=2, errors=1)
    assert json.loads((pytester.path / "imported.json").read_text()) == []
    records = json.loads((pytester.path / "out" / "mleval-results.json").read_text())
    cases = {c["case_id"]: c for c in records["cases"]}
    full = CostMap(_litellm_map())  # type: ignore[arg-type]
    for cid in ("a", "b"):
        usage = cases[cid]["usage"]
        assert usage["prompt_tokens"] > 0
        expected, _ = full.chat_cost("openai/gpt-4o-mini", usage)
        assert cases[cid]["cost_usd"] == pytest.approx(expected, rel=1e-12)
        assert cases[cid]["cost_usd"] > 0
    assert "pytest-mleval[llm]" in (cases["c"]["error"] or "")


def test_no_module_of_the_native_path_imports_litellm_at_import_time() -> None:
    code = (
        "import sys\n"
        "import pytest_mleval.inference.providers.native, pytest_mleval.inference.providers.auto\n"
        "import pytest_mleval.inference.targets\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('litellm', 'openai')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
