"""The public API is small and explicit; this test pins it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import pytest_mleval
from pytest_mleval.cli import main

EXPECTED = [
    "Case",
    "CaseResult",
    "Checker",
    "EvalCase",
    "MetricValue",
    "MlevalError",
    "RunResults",
    "Sample",
    "Suite",
    "TargetOutput",
    "check",
    "load_cases",
    "load_results",
    "load_run",
    "load_suite",
    "metric",
    "register_metric",
    "register_target_kind",
]


def test_all_is_pinned_and_sorted() -> None:
    assert pytest_mleval.__all__ == EXPECTED
    assert sorted(pytest_mleval.__all__) == pytest_mleval.__all__
    for name in EXPECTED:
        assert getattr(pytest_mleval, name) is not None
    with pytest.raises(AttributeError):
        pytest_mleval.nope  # noqa: B018


def test_importing_the_package_is_cheap() -> None:
    code = (
        "import sys, pytest_mleval, pytest_mleval.plugin\n"
        "heavy = [m for m in ('pydantic', 'jinja2', 'yaml', 'numpy', 'litellm', 'torch', 'scipy') "
        "if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_inference_names_load_their_module_on_first_use() -> None:
    # The litellm worker process imports only what it needs before litellm's own import.
    code = (
        "import sys, pytest_mleval.inference.worker as w, pytest_mleval.inference as inf\n"
        "mods = ('cache', 'engine', 'limits', 'providers')\n"
        "print(sorted(m for m in mods if f'pytest_mleval.inference.{m}' in sys.modules))\n"
        "print(inf.ResponseCache.__module__, inf.InferenceEngine.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "pytest_mleval.inference.cache InferenceEngine"]
    with pytest.raises(AttributeError):
        import pytest_mleval.inference as inf

        inf.NoSuchName  # noqa: B018


def test_schema_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "cases"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["cases"]["items"] == {"$ref": "#/$defs/Case"}
    assert "Unique within the suite" in schema["$defs"]["Case"]["properties"]["id"]["description"]
    assert main(["schema", "results"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"cases", "aggregates", "gates", "meta"} <= set(schema["properties"])


def test_schema_validates_the_example_eval_files(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema
    import yaml

    main(["schema", "cases"])
    schema = json.loads(capsys.readouterr().out)
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "evals").glob("*.eval.yaml"))
    assert files
    for f in files:
        data = yaml.safe_load(f.read_text())
        # Editors read YAML 1.2, where `on:` is a string key; PyYAML (1.1) reads it as true.
        data["gates"] = [
            {("on" if k is True else k): v for k, v in g.items()} for g in data.get("gates", [])
        ]
        jsonschema.validate(data, schema)
