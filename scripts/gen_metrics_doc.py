"""Write docs/metrics.md from the metrics' options models.

Run: .venv/bin/python scripts/gen_metrics_doc.py   (or --check to fail when it is stale)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _generated import write_or_check

from pytest_mleval.cli.metrics_doc import metrics_markdown

PAGE = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = ap.parse_args()
    return write_or_check(PAGE, metrics_markdown(), args.check, "scripts/gen_metrics_doc.py")


if __name__ == "__main__":
    raise SystemExit(main())
