"""Write the native client's OpenAI price table from the installed litellm's cost map.

pytest-mleval[native] (no litellm) prices OpenAI's models from this table; with litellm
installed the native client reads litellm's own map instead. Rerun after upgrading litellm:

    .venv/bin/python scripts/gen_openai_prices.py   (or --check to fail when it is stale)
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys

from _generated import write_or_check

from pytest_mleval.inference.providers.costmap import (
    SHIPPED_TABLE,
    litellm_map_file,
    openai_price_table,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if the table is out of date")
    args = ap.parse_args()
    path = litellm_map_file()
    if path is None:
        print("litellm is not installed: its cost map is the table's source", file=sys.stderr)
        return 1
    source = f"litellm {importlib.metadata.version('litellm')}"
    table = openai_price_table(json.loads(path.read_bytes()), source)
    text = json.dumps(table, indent=1, sort_keys=True) + "\n"
    what = f" ({len(table['entries'])} models, from {source})"
    return write_or_check(SHIPPED_TABLE, text, args.check, "scripts/gen_openai_prices.py", what)


if __name__ == "__main__":
    sys.exit(main())
