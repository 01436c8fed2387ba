"""The ``mleval`` commands over local services: the model-call cache and the warm litellm
servers (registered by :func:`pytest_mleval.cli.build_parser`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_cache", "add_litellm_server"]


def _cmd_cache(args: argparse.Namespace) -> int:
    from ..inference.cache import cache_clear, cache_prune, cache_stats

    if args.action == "stats":
        print(json.dumps(cache_stats(args.path), indent=2))
    elif args.action == "clear":
        print(f"removed {cache_clear(args.path)} entries from {args.path}")
    else:
        if args.older_than_days is None and args.max_mb is None:
            print("mleval cache prune: give --older-than-days and/or --max-mb", file=sys.stderr)
            return 2
        removed = cache_prune(args.path, older_than_days=args.older_than_days, max_mb=args.max_mb)
        print(f"removed {removed} entries from {args.path}")
    return 0


def _cmd_litellm_server(args: argparse.Namespace) -> int:
    from ..inference.forkserver import list_servers, stop_servers

    if args.action == "status":
        servers = list_servers()
        for path, pid in servers:
            print(f"running: pid {pid}, socket {path}")
        if not servers:
            print("no warm litellm server is running")
    else:
        print(f"stopped {stop_servers()} warm litellm server(s)")
    return 0


def add_cache(sub: Any) -> None:
    """Register ``mleval cache``."""
    p = sub.add_parser("cache", help="inspect or trim the model-call cache")
    p.add_argument("action", choices=["stats", "clear", "prune"])
    p.add_argument(
        "--path", default=".mleval/cache.sqlite", help="cache file (default: .mleval/cache.sqlite)"
    )
    p.add_argument("--older-than-days", type=float, default=None, help="prune: drop older entries")
    p.add_argument(
        "--max-mb", type=float, default=None, help="prune: drop oldest until under this size"
    )
    p.set_defaults(func=_cmd_cache)


def add_litellm_server(sub: Any) -> None:
    """Register ``mleval litellm-server``."""
    p = sub.add_parser(
        "litellm-server", help="show or stop the warm litellm servers (--mleval-litellm-server)"
    )
    p.add_argument("action", choices=["status", "stop"])
    p.set_defaults(func=_cmd_litellm_server)
