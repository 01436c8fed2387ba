"""Write docs/metrics.md from the metrics' options models.

Run: .venv/bin/python scripts/gen_metrics_doc.py   (or --check to fail when it is stale)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_mleval.cli.metrics_doc import metrics_markdown

PAGE = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = ap.parse_args()
    text = metrics_markdown()
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is out of date: run scripts/gen_metrics_doc.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
