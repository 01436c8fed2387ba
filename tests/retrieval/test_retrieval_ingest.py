"""Folder ingest: supported formats, and bad files skipped with a warning naming them."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from pytest_mleval.errors import ConfigError
from pytest_mleval.retrieval.base import IngestWarning
from pytest_mleval.retrieval.ingest import html_to_text, ingest_folder


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (offsets computed, so readers accept the xref)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_ingest_formats_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "install.md").write_text("# Install\n\nRun `pip install x`.\n")
    (tmp_path / "notes.txt").write_text("Plain notes.\n")
    (tmp_path / "page.html").write_text(
        "<html><head><title>The Page</title><style>p{}</style></head>"
        "<body><h1>Hello</h1><p>First &amp; second.</p><script>var x;</script></body></html>"
    )
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "blank.txt").write_text("   \n\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "binary.txt").write_bytes(b"abc\x00def")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "minified.txt").write_text("x" * 200_001)
    (tmp_path / ".hidden.md").write_text("# secret")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = ingest_folder(tmp_path)
    assert [d.id for d in docs] == ["guide/install.md", "notes.txt", "page.html"]
    assert docs[0].metadata["title"] == "Install" and docs[0].text.startswith("# Install")
    assert docs[2].text == "Hello\n\nFirst & second." and docs[2].metadata["title"] == "The Page"
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, IngestWarning))
    assert len(messages) == 6
    for name, reason in [
        ("binary.txt", "binary"),
        ("blank.txt", "no text"),
        ("empty.md", "empty"),
        ("image.png", "unsupported"),
        ("latin1.txt", "UTF-8"),
        ("minified.txt", "single line"),
    ]:
        assert any(name in m and reason in m for m in messages), (name, messages)


def test_pdf_is_read_with_pypdf(tmp_path: Path) -> None:
    pytest.importorskip("pypdf")
    (tmp_path / "paper.pdf").write_bytes(minimal_pdf("Retrieval with BM25"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.warns(IngestWarning, match="broken.pdf"):
        docs = ingest_folder(tmp_path)
    assert [d.id for d in docs] == ["paper.pdf"]
    assert "Retrieval with BM25" in docs[0].text


def test_html_to_text_and_missing_folder(tmp_path: Path) -> None:
    text, title = html_to_text("<ul><li>one</li><li>two</li></ul><pre>a  b</pre>")
    assert text == "one\n\ntwo\n\na b" and title == ""
    with pytest.raises(ConfigError, match="not found"):
        ingest_folder(tmp_path / "nope")
