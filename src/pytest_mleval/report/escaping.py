"""Escaping of user- and model-controlled text for the places people read it.

Suite names, case ids, metric names, gate descriptions, and above all the texts of target
exceptions and provider errors come from people and models the reader of a pull-request
comment or a terminal does not control. Every such string goes through one of these functions
before it is inserted, so that it shows as the text it is and can never add a heading, a
link, an image, an HTML tag, a table cell or a fake terminal line of its own.
"""

from __future__ import annotations

import re

__all__ = ["md_code", "md_text", "term_text"]

# Line breaks of any kind: a raw newline would end a table row or a list item and let the
# text start a block of its own (a heading, a fake gate table, the end of <details>).
_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")
# Other control characters (ANSI escapes, backspace, bell) and the bidirectional overrides
# and isolates that reorder how the surrounding text reads ("Trojan source").
_CONTROLS = re.compile(
    r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_ZWSP = "&#8203;"
# One pass over the text, so nothing this module inserts is escaped again. Autolinks
# (`http://`, `www.`, e-mail addresses) and GitHub @mentions survive backslash escapes
# (they are found in the rendered text), so a zero-width space breaks them instead, as
# dependency bots do for the @names they quote. Characters that only mean something at the
# start of a line (`-`, `+`, `.`, `=`) need nothing: no inserted text starts a line, and an
# underscore between two letters or digits (`rouge_l`) never opens emphasis, so names stay readable.
_MD_SPECIAL = re.compile(r"(?i)://|www\.|(?<![^\W_])_|_(?![^\W_])|[\\`*\[\]()#!|~$<>&@]")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _one_line(text: str) -> str:
    text = _LINE_BREAKS.sub(" ", text.replace("\t", " "))
    return _CONTROLS.sub("\ufffd", text)


def _md_special(match: re.Match[str]) -> str:
    token = match.group(0)
    if token == "://":
        return ":" + _ZWSP + "//"
    if token.lower() == "www.":
        return token[:3] + _ZWSP + "."
    if token == "@":
        return "@" + _ZWSP
    if token in _HTML:
        return _HTML[token]
    return "\\" + token


def md_text(value: object, *, limit: int | None = None) -> str:
    """Escape a string for inline GitHub-flavoured Markdown: headings, table cells, lists.

    HTML special characters become entities; every ASCII punctuation character with a
    meaning in Markdown is backslash-escaped (emphasis, links, images, headings, table pipes,
    math); line breaks collapse to one space; other control characters become U+FFFD; bare
    URLs, e-mail addresses and @mentions get a zero-width space so that they stay plain text.

    Args:
        value: The text (anything else is converted with ``str``).
        limit: Cut the text to this many characters (with an ellipsis) before escaping.

    Returns:
        Markdown that renders as the text itself, on one line.
    """
    text = _one_line(str(value))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return _MD_SPECIAL.sub(_md_special, text)


def md_code(value: object, *, table: bool = False) -> str:
    """A Markdown code span showing ``value`` literally, whatever backticks it contains.

    The fence is one backtick longer than the longest run of backticks inside, padded with
    a space on each side when the content holds a backtick or would lose its own spaces
    (CommonMark strips one from each end).

    Args:
        value: The text (anything else is converted with ``str``).
        table: The span goes into a table cell: ``|`` is escaped, which GFM's table
            parser needs even inside code spans (and removes again).

    Returns:
        The code span, on one line.
    """
    text = _one_line(str(value))
    if not text.strip():
        # A code span of spaces only keeps them all; an empty one cannot be written.
        return f"`{text or ' '}`"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if "`" in text or (text.startswith(" ") and text.endswith(" ")):
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TERM_CONTROLS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def term_text(value: object) -> str:
    """A string safe to print on one terminal line: control characters shown as escapes.

    A newline or carriage return in a suite name or an error text could otherwise print a
    line of its own (a fake ``gate ...: PASS``), and an ANSI escape could recolour or erase
    what the run printed; both show as ``\\n``, ``\\x1b`` and so on instead.

    Args:
        value: The text (anything else is converted with ``str``).

    Returns:
        The text with every control character written as a Python-style escape.
    """
    return _TERM_CONTROLS.sub(_visible, str(value))
