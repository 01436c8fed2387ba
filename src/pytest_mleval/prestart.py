"""Start litellm's worker during pytest's start-up when the command line names model suites.

litellm's import (seconds) is the critical path of a run's first model call. pytest loads this
plugin early: other plugins (anyio's alone takes ~0.3 s here), conftest files and collection
come before the first eval file is opened. So when the plugin is registered, it looks at the
files and directories on the command line (or ``testpaths``) and starts
the worker as soon as it finds an eval file whose text names a model. Runs that will not call
litellm (``--collect-only``, ``--mleval-cache replay``, ``--mleval-litellm-inline``, an xdist
controller) are recognised from their arguments and skipped; a wrong guess costs one import on
another core, stopped when the run turns out not to need it (:func:`cancel`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .evalfiles import eval_file_models, is_eval_file

__all__ = ["cancel", "prestart_litellm", "started"]

# Directories never holding a project's eval files; walking them would only cost time.
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "build", "dist"})
# An upper bound on the entries looked at: the scan must stay cheap on any tree.
_MAX_ENTRIES = 5000
_NO_CALLS = frozenset(
    {
        "--co",
        "--collect-only",
        "--collectonly",
        "--fixtures",
        "--fixtures-per-test",
        "--markers",
        "--setup-plan",
        "-h",
        "--help",
        "--version",
        "-V",
        "--mleval-litellm-inline",
        # pytest-xdist's controller makes no calls; its workers start their own.
        "-n",
        "--numprocesses",
        "--dist",
        "--tx",
        "-f",
        "--looponfail",
    }
)

_STATE: dict[str, bool] = {"started": False}


def started() -> bool:
    """Whether this process started the litellm worker during start-up."""
    return _STATE["started"]


def cancel() -> None:
    """Stop a worker started during start-up for a run that turned out not to need it."""
    if _STATE["started"]:
        from .inference.worker import discard_litellm_worker

        discard_litellm_worker()
        _STATE["started"] = False


def _option_value(args: Sequence[str], flag: str) -> str | None:
    value = None
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def _makes_no_calls(args: Sequence[str], config: Any) -> bool:
    for arg in args:
        workers = arg[2:] if arg.startswith("-n") else ""  # -n4, -nauto
        if arg.split("=", 1)[0] in _NO_CALLS or workers.isdigit() or workers in ("auto", "logical"):
            return True
    cache = _option_value(args, "--mleval-cache") or config.getini("mleval_cache") or "rw"
    return str(cache).strip() == "replay" or bool(config.getini("mleval_litellm_inline"))


def _candidates(config: Any) -> list[Path]:
    base = Path(config.invocation_params.dir)

    def existing(args: Sequence[str]) -> list[Path]:
        # Unknown options' values also land among the paths (e.g. "32" of
        # --mleval-concurrency 32, "off" of --mleval-cache off): only real paths count.
        found = (base / str(arg).split("::", 1)[0] for arg in args)
        return [path for path in found if path.exists()]

    given = existing(list(getattr(config.known_args_namespace, "file_or_dir", None) or []))
    if given:
        return given
    # No path named (or only options' values): pytest runs testpaths, else the directory.
    testpaths = [str(Path(config.rootpath) / p) for p in (config.getini("testpaths") or [])]
    return existing(testpaths) or [base]


def _eval_files(paths: Sequence[Path], patterns: list[str]) -> Iterator[Path]:
    seen = 0
    for path in paths:
        if path.is_file():
            if is_eval_file(path, patterns):
                yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = [
                d
                for d in dirs
                if not d.startswith(".")
                and d not in _SKIP_DIRS
                and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))
            ]
            seen += len(dirs) + len(files)
            for name in files:
                if is_eval_file(Path(name), patterns):
                    yield Path(root) / name
            if seen > _MAX_ENTRIES:
                return


def _scan(
    paths: Sequence[Path],
    patterns: list[str],
    server: str | None,
    client: str = "auto",
    api_base: str | None = None,
    model: str | None = None,
) -> None:
    from .inference.clients import native_endpoint, needs_litellm
    from .inference.warmup import warm_native_client

    for path in _eval_files(paths, patterns):
        # Models the native client serves need no litellm: only the others start its worker.
        named = eval_file_models(path)
        if named and model:
            named.append(model)  # --mleval-model replaces the targets' models
        if any(native_endpoint(m, api_base, client) for m in named):
            warm_native_client()
        if any(needs_litellm(m, client, api_base) for m in named):
            from .inference.forkserver import server_wanted
            from .inference.worker import start_litellm_worker, use_litellm_server

            use_litellm_server(server_wanted(server))
            _STATE["started"] = True
            start_litellm_worker()
            return


def prestart_litellm(config: Any) -> None:
    """Look for model suites among the run's paths; start litellm's worker when one turns
    up. Called once the plugin's options and ini keys are registered.

    Args:
        config: the run's ``pytest.Config``, before its command line is fully parsed.
    """
    # xdist's workers carry the controller's -n and wait for collection, as before; a run
    # merely started from inside one (pytester in a parallel test suite) does not.
    if config is None:
        return
    try:
        args = [
            *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
            *(config.getini("addopts") or []),
            *config.invocation_params.args,
        ]
        if _makes_no_calls(args, config):
            return
        paths = _candidates(config)
        patterns = list(config.getini("mleval_files"))
        server = _option_value(args, "--mleval-litellm-server") or config.getini(
            "mleval_litellm_server"
        )
        client = str(
            _option_value(args, "--mleval-client") or config.getini("mleval_client") or "auto"
        ).strip()
        api_base = config.getini("mleval_api_base") or None
        model = _option_value(args, "--mleval-model")
    except Exception:  # only an optimisation: never in the way of pytest's start-up
        return
    if paths:
        # In pytest's own thread: a background one would get the interpreter lock only
        # between the imports of the plugins loaded next, and start the worker no earlier
        # than collection does. The scan reads a few small files (bounded on any tree) and
        # the modules it imports are the ones the run needs for its model calls anyway.
        # An optimisation only: if anything goes wrong, collection starts the worker anyway.
        with contextlib.suppress(Exception):
            _scan(paths, patterns, server, client, api_base, model)
