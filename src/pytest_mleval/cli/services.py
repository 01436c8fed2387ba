"""The ``mleval`` commands over local services: the model-call cache and the warm litellm
servers (registered by :func:`pytest_mleval.cli.build_parser`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_cache", "add_litellm_server"]


def _ini_cache_url(start: Path) -> str | None:
    """``mleval_cache_url`` of the pytest ini file found from ``start`` up, as pytest finds it
    (the first of pytest.ini, pyproject.toml, tox.ini, setup.cfg that configures pytest)."""
    import configparser

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pytest's own dependency on Python 3.10
        import tomli as tomllib

    for folder in (start, *start.parents):
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            path = folder / name
            if not path.is_file():
                continue
            if name == "pyproject.toml":
                with path.open("rb") as fh:
                    table = tomllib.load(fh).get("tool", {}).get("pytest", {})
                if "ini_options" not in table:
                    continue
                value = table["ini_options"].get("mleval_cache_url")
                return str(value) if value else None
            parser = configparser.ConfigParser(interpolation=None)
            parser.read(path, encoding="utf-8")
            section = "tool:pytest" if name == "setup.cfg" else "pytest"
            if not parser.has_section(section):
                if name in ("pytest.ini", ".pytest.ini"):
                    return None  # pytest takes this file even without the section
                continue
            return parser.get(section, "mleval_cache_url", fallback=None) or None
    return None


def _cmd_cache(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..inference.cache_backend import redact_url, store_clear, store_prune, store_stats

    url = args.url or _ini_cache_url(Path.cwd())
    where = redact_url(url) if url else args.path
    try:
        if args.action == "stats":
            print(json.dumps(store_stats(url, args.path), indent=2))
        elif args.action == "clear":
            print(f"removed {store_clear(url, args.path)} entries from {where}")
        else:
            if args.older_than_days is None and args.max_mb is None:
                print("mleval cache prune: give --older-than-days and/or --max-mb", file=sys.stderr)
                return 2
            removed = store_prune(
                url, args.path, older_than_days=args.older_than_days, max_mb=args.max_mb
            )
            print(f"removed {removed} entries from {where}")
    except ConfigError as exc:
        print(f"mleval cache {args.action}: {exc}", file=sys.stderr)
        return 1
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
    p.add_argument(
        "--url",
        default=None,
        help="a shared cache on a server (redis://..., postgresql://...; default: the ini's "
        "mleval_cache_url, else the file at --path)",
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
