"""What the generator scripts share: write a generated file, or check that it is current."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, check: bool, script: str, what: str = "") -> int:
    """Write ``text`` to ``path`` (or, with ``check``, exit status 1 if the file differs).

    Args:
        path: the generated file.
        text: its content.
        check: compare only, write nothing.
        script: the script that writes it (named in the stale message).
        what: a note after the path in the "wrote" line.
    """
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run {script}", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}{what}")
    return 0
