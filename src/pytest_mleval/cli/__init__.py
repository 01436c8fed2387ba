"""The ``mleval`` command: :func:`main` and the parser; each subcommand lives with its kind.

:mod:`.runs` (stored runs: schema, compare, power, calibrate, report, history, merge),
:mod:`.services` (cache, litellm-server), :mod:`.finetune` (finetune, jobs), :mod:`.probes`
(probes list, probes generate).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import MlevalError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mleval``, every subcommand registered.

    Returns:
        The parser; each subcommand sets ``func``, which takes the parsed arguments and
        returns the exit status.
    """
    from . import probes, runs, services
    from .finetune import add_finetune_commands

    parser = argparse.ArgumentParser(prog="mleval", description="pytest-mleval utilities")
    sub = parser.add_subparsers(dest="command", required=True)
    # In the order `mleval --help` has always listed them.
    for register in (
        runs.add_schema,
        runs.add_compare,
        runs.add_power,
        services.add_cache,
        services.add_litellm_server,
        runs.add_calibrate,
        runs.add_report,
        runs.add_history,
        runs.add_merge,
        add_finetune_commands,
        probes.add_probes,
    ):
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mleval`` console script.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: the subcommand's, 2 on an ``MlevalError``, 141 (128 + SIGPIPE, as a
        shell reports a process killed by a closed pipe) when the reader of stdout went away.
    """
    try:
        try:
            return _run(argv)
        finally:
            # Flush inside the guard (also on argparse's SystemExit after --help): output
            # still buffered would otherwise meet the closed pipe in the interpreter's own
            # flush at exit, which prints an error no handler can catch.
            sys.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe()


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except MlevalError as exc:
        print(f"mleval: error: {exc}", file=sys.stderr)
        return 2
    return code


def _closed_pipe() -> int:
    """Quiet exit when stdout's reader closed early (``mleval jobs list | head``)."""
    # Python's documented recipe: the interpreter flushes stdout again at exit, and that flush
    # would raise once more; pointing fd 1 at devnull gives it somewhere to go.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass
    return 141
