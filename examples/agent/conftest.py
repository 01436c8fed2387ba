"""Run the example offline: without ``--mleval-model`` or an ``api_base``, ``model:`` targets
here talk to the scripted stand-in (``standin.py``) on loopback, through the same client, tool
loop, cache and reports as a real provider.

The stand-in is started once per run, by the process that configures it first (under
pytest-xdist the controller; its workers only call it).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from standin import serve, standin_url

_SERVER: list[Any] = []


def _wants_standin(config: pytest.Config) -> bool:
    return not (config.getoption("mleval_model", None) or config.getini("mleval_api_base"))


def pytest_configure(config: pytest.Config) -> None:
    if _wants_standin(config) and not hasattr(config, "workerinput"):
        _SERVER.append(serve())


def pytest_unconfigure(config: pytest.Config) -> None:
    while _SERVER:
        _SERVER.pop().stop()


def pytest_mleval_make_target(spec: str, context: Any) -> Any:
    services = context.services
    own_base = context.suite is not None and context.suite.spec.api_base
    if not spec.startswith("model:") or services.model_override or services.api_base or own_base:
        return None  # a real model was asked for: the built-in resolution
    from pytest_mleval.targets.registry import resolve_target

    standin = dataclasses.replace(services, api_base=standin_url())
    return resolve_target(spec, dataclasses.replace(context, services=standin))
