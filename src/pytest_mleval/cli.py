"""The ``mleval`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .errors import MlevalError

__all__ = ["main"]


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.which == "results":
        from .results import RunResults

        schema = RunResults.model_json_schema()
        schema["title"] = "pytest-mleval results"
    else:
        from .cases import Case, SuiteSpec

        schema = SuiteSpec.model_json_schema()
        # Cases are validated one by one (for precise errors), so their schema is added here.
        case_schema = Case.model_json_schema()
        defs = schema.setdefault("$defs", {})
        defs.update(case_schema.pop("$defs", {}))
        defs["Case"] = case_schema
        schema["properties"]["cases"]["items"] = {"$ref": "#/$defs/Case"}
        schema["title"] = "pytest-mleval eval file"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    print(json.dumps(schema, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mleval`` (each subcommand registers itself here)."""
    parser = argparse.ArgumentParser(prog="mleval", description="pytest-mleval utilities")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("schema", help="print a JSON Schema (eval files or results)")
    p.add_argument("which", choices=["cases", "results"])
    p.set_defaults(func=_cmd_schema)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


# Subcommands contributed by other modules: each takes the subparsers object.
_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mleval`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except MlevalError as exc:
        print(f"mleval: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
