"""Ingest a folder of documents: Markdown, text, HTML (stripped to text), PDF (with pypdf).

Bad files never stop an ingest: empty, binary, non-UTF-8, unsupported or huge-single-line
files are skipped with an :class:`~pytest_mleval.retrieval.base.IngestWarning` that names the
file and the reason. Hidden files and folders (``.git``, ``.DS_Store``) are ignored silently.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import IngestWarning

__all__ = ["SUPPORTED_SUFFIXES", "Document", "html_to_text", "ingest_folder", "read_document"]

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".rst", ".html", ".htm", ".pdf"})

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
        "pre", "blockquote", "section", "article", "header", "footer", "nav", "dt", "dd", "hr",
        "title",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})


@dataclass(frozen=True)
class Document:
    """One ingested file: ``id`` is its path relative to the ingested folder (POSIX form)."""

    id: str
    text: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title.append(data)
            return
        self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """``(text, title)`` of an HTML page: scripts and styles dropped, blocks on their own lines."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [
        re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n")
    ]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, " ".join("".join(parser.title).split())


def _pdf_text(path: Path) -> str | None:
    try:
        import pypdf
    except ImportError:
        return None
    reader = pypdf.PdfReader(str(path))
    return "\n\n".join((page.extract_text() or "") for page in reader.pages)


def _skip(path: Path, reason: str) -> None:
    warnings.warn(f"skipped {path}: {reason}", IngestWarning, stacklevel=3)


def _title(text: str) -> str:
    match = re.search(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def read_document(
    path: str | os.PathLike[str],
    doc_id: str | None = None,
    *,
    max_line_chars: int = 100_000,
    max_bytes: int = 50_000_000,
) -> Document | None:
    """Read one file into a :class:`Document`, or warn and return ``None`` when it is unusable.

    Args:
        path: the file.
        doc_id: the document id (default: the file name).
        max_line_chars: a line longer than this marks a file as not prose (minified, data).
        max_bytes: larger files are skipped.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        _skip(file, f"unsupported format {suffix or '(no extension)'!r}")
        return None
    size = file.stat().st_size
    if size == 0:
        _skip(file, "empty file")
        return None
    if size > max_bytes:
        _skip(file, f"larger than {max_bytes} bytes")
        return None
    title = ""
    if suffix == ".pdf":
        try:
            extracted = _pdf_text(file)
        except Exception as exc:
            # pypdf raises many exception types for damaged files; the reason is in the text.
            _skip(file, f"unreadable PDF ({exc})")
            return None
        if extracted is None:
            _skip(file, "PDF support needs the optional package 'pypdf'")
            return None
        text = extracted
    else:
        raw = file.read_bytes()
        if b"\x00" in raw[:8192]:
            _skip(file, "binary content")
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            _skip(file, f"not valid UTF-8 (byte {exc.start})")
            return None
        longest = max((len(line) for line in text.splitlines()), default=0)
        if longest > max_line_chars:
            _skip(file, f"a single line of {longest} characters (limit {max_line_chars})")
            return None
        if suffix in (".html", ".htm"):
            text, title = html_to_text(text)
        else:
            title = _title(text) if suffix in (".md", ".markdown") else ""
    if not text.strip():
        _skip(file, "no text content")
        return None
    meta = {"source": str(file), "format": suffix.lstrip("."), "title": title or file.stem}
    return Document(doc_id or file.name, text, str(file), meta)


def ingest_folder(
    path: str | os.PathLike[str],
    *,
    suffixes: frozenset[str] | None = None,
    max_line_chars: int = 100_000,
    max_bytes: int = 50_000_000,
) -> list[Document]:
    """Every readable document under ``path`` (recursively), in path order.

    Args:
        path: the folder.
        suffixes: only files with these suffixes are considered at all (others are ignored
            without a warning); default: every file, unsupported ones warned about.
        max_line_chars: skip files with a longer line.
        max_bytes: skip larger files.

    Raises:
        ConfigError: ``path`` is not a folder.
    """
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"documents folder not found: {root}")
    documents: list[Document] = []
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not file.is_file():
            continue
        if suffixes is not None and file.suffix.lower() not in suffixes:
            continue
        doc = read_document(
            file, relative.as_posix(), max_line_chars=max_line_chars, max_bytes=max_bytes
        )
        if doc is not None:
            documents.append(doc)
    return documents
