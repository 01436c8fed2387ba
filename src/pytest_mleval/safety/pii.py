"""PII detectors: e-mail addresses, phone numbers, payment cards, IBANs, national ids, API keys.

Every detector is a transparent regular expression plus, where one exists, the identifier's own
validity rule, so that ordinary text does not match: a card number must pass the Luhn check, an
IBAN its mod-97 checksum and its country's length, a US SSN the SSA's area/group/serial rules,
a UK NINO the HMRC prefix rules, a Spanish DNI/NIE its check letter. Phone numbers need an
international ``+`` prefix, the US ``(NPA) NXX-XXXX`` shape with valid area and exchange codes,
or a national ``0...`` number right after a word like "phone" or "call"; dates, prices, years
and order numbers do not match.

:attr:`PiiMatch.masked` is the form reports show (never the raw value); :func:`redact_text` and
:func:`redact_value` replace matches by ``[REDACTED:KIND]`` for ``--mleval-redact``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PII_KINDS",
    "PiiMatch",
    "find_pii",
    "iban_valid",
    "luhn_valid",
    "mask_pii",
    "redact_text",
    "redact_value",
]

PII_KINDS: tuple[str, ...] = ("email", "phone", "card", "iban", "national_id", "api_key")
"""The kinds of PII :func:`find_pii` detects (the ``kinds:`` option of the ``pii`` metric)."""

# Tie-break when two candidates start at the same place and are as long: the more specific
# detector (a validated checksum, a vendor key prefix) wins over the looser phone shapes.
_PRIORITY = {"api_key": 0, "iban": 1, "card": 2, "national_id": 3, "email": 4, "phone": 5}


@dataclass(frozen=True)
class PiiMatch:
    """One piece of PII found in a text.

    Attributes:
        kind: One of :data:`PII_KINDS`.
        start: Offset of the first character in the searched text.
        end: Offset just past the last character.
        text: The matched text itself (raw: never put it in a report; use :attr:`masked`).
    """

    kind: str
    start: int
    end: int
    text: str

    @property
    def masked(self) -> str:
        """A partial mask of :attr:`text` for reports: ``j***@e***.com``, ``**** **** 4242``."""
        return _MASKERS[self.kind](self.text)

    def __repr__(self) -> str:
        # The raw value stays out of reprs, so that a failing assertion or a log line that
        # prints a match does not leak it.
        return (
            f"PiiMatch(kind={self.kind!r}, start={self.start}, end={self.end}, "
            f"masked={self.masked!r})"
        )


# --------------------------------------------------------------------------- validity rules


def luhn_valid(digits: str) -> bool:
    """Whether a card number passes the Luhn check.

    Args:
        digits: The number; spaces and dashes between digits are ignored.

    Returns:
        True when it holds at least two digits, nothing but digits (after removing spaces and
        dashes) and its Luhn checksum is 0.
    """
    plain = digits.replace(" ", "").replace("-", "")
    if len(plain) < 2 or not plain.isascii() or not plain.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(plain)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# Lengths of the IBANs of the countries that issue them (SWIFT IBAN registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_valid(text: str) -> bool:
    """Whether ``text`` is an IBAN: a known country, that country's length and mod-97 == 1.

    Args:
        text: The IBAN, with or without spaces, in either case.

    Returns:
        True when the checksum and the length for the country both hold.
    """
    plain = re.sub(r"[ \-]", "", text).upper()
    if not plain.isascii() or not plain.isalnum() or _IBAN_LENGTHS.get(plain[:2]) != len(plain):
        return False
    if not plain[2:4].isdigit():
        return False
    rearranged = plain[4:] + plain[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    # SSA rules: no area 000, 666 or 900-999; no group 00; no serial 0000.
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


# --------------------------------------------------------------------------- detectors

_NOT_WORD_BEFORE = r"(?<![A-Za-z0-9_])"
_NOT_WORD_AFTER = r"(?![A-Za-z0-9_])"

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,63})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}" + _NOT_WORD_AFTER
)

# Vendor key shapes: each a literal prefix the vendor puts on its secrets, then the secret.
_API_KEYS = re.compile(
    _NOT_WORD_BEFORE + r"(?:"
    r"sk-(?:ant-|proj-|live-|test-|svcacct-)?[A-Za-z0-9_\-]{20,}"  # OpenAI, Anthropic
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API keys
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"  # JWTs
    r")" + _NOT_WORD_AFTER
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----(?:.*?-----END (?:[A-Z]+ )?PRIVATE KEY-----)?",
    re.DOTALL,
)
_KEY_PREFIX = re.compile(
    r"^(?:sk-(?:ant-|proj-|live-|test-|svcacct-)?|(?:sk|rk|pk)_(?:live|test)_|AKIA|ASIA|AGPA|AIDA"
    r"|AROA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|AIza|hf_|eyJ)"
)

_CARD = re.compile(
    r"(?<![\d\-])(?:"
    r"[2-6]\d{12,18}"  # contiguous
    r"|[2-6]\d{3}([ \-])\d{4}\1\d{4}\1\d{1,7}"  # 4-4-4-4 (and 4-4-4-1..7)
    r"|3\d{3}([ \-])\d{6}\2\d{4,5}"  # Amex 4-6-5, Diners 4-6-4
    r")(?![\d\-]?\d)"
)

_SSN = re.compile(r"(?<![\d\-])(\d{3})([\- ])(\d{2})\2(\d{4})(?![\d\-]?\d)")
_SSN_LABELLED = re.compile(
    r"\b(?:SSN|social security(?: number)?)\W{0,5}(?:is\W{1,3})?(\d{3})(\d{2})(\d{4})(?!\d)",
    re.IGNORECASE,
)
_NINO = re.compile(
    _NOT_WORD_BEFORE
    + r"([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])"
    + _NOT_WORD_AFTER
)
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
# Spanish DNI (8 digits) and NIE (X/Y/Z + 7 digits), each with its mod-23 check letter.
_DNI = re.compile(_NOT_WORD_BEFORE + r"([XYZ]\d{7}|\d{8})[ \-]?([A-Z])" + _NOT_WORD_AFTER)
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}")

_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .\-]?\(?\d{1,4}\)?){2,6}(?![\w])")
_PHONE_US = re.compile(
    r"(?<![\w+\-.])(?:1[ .\-]?)?(?:\(([2-9]\d{2})\) ?|([2-9]\d{2})([ .\-]))"
    r"[2-9]\d{2}[ .\-]\d{4}(?![\w]|[.\-]\d)"
)
_PHONE_NATIONAL = re.compile(r"(?<![\w+\-./])0\d[\d .\-]{6,14}\d(?![\w]|[.\-/]\d)")
_PHONE_WORD = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|call|ring|fax|whatsapp|sms|text|reach|contact|"
    r"number|nummer|t[ée]l[ée]phone|handy)\b[^\n]{0,24}$",
    re.IGNORECASE,
)
_DATE = re.compile(r"\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}")
# A number right after these words is an order/reference number, not a phone.
_NOT_PHONE_BEFORE = re.compile(
    r"(?:#|\b(?:order|invoice|ref|reference|ticket|case|tracking|account|acct|item|sku|"
    r"serial|no|nr|id|po|confirmation|booking)\b\.?(?:\s*(?:number|num|no|nr|id|code)\b\.?)?"
    r"[\s:#]*)$",
    re.IGNORECASE,
)


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _emails(text: str) -> Iterator[PiiMatch]:
    for m in _EMAIL.finditer(text):
        yield PiiMatch("email", m.start(), m.end(), m.group())


def _api_keys(text: str) -> Iterator[PiiMatch]:
    for m in _API_KEYS.finditer(text):
        body = _KEY_PREFIX.sub("", m.group())
        # A real secret mixes letters and digits; "sk-learn-compatible-estimators" does not.
        if any(c.isdigit() for c in body) and any(c.isalpha() for c in body):
            yield PiiMatch("api_key", m.start(), m.end(), m.group())
    for m in _PRIVATE_KEY.finditer(text):
        yield PiiMatch("api_key", m.start(), m.end(), m.group())


def _cards(text: str) -> Iterator[PiiMatch]:
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1:
            yield PiiMatch("card", m.start(), m.end(), m.group())


def _ibans(text: str) -> Iterator[PiiMatch]:
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group()[:2])
        if length is None:
            continue
        # Walk the groups (single spaces allowed between characters) until the country's
        # length is reached; the IBAN must end there, not run on into more characters.
        count, pos = 0, m.start()
        while pos < len(text) and count < length:
            char = text[pos]
            if char.isascii() and char.isalnum():
                count += 1
                pos += 1
            elif char == " " and count > 0 and pos + 1 < len(text) and text[pos + 1] != " ":
                pos += 1
            else:
                break
        if count != length or (pos < len(text) and text[pos].isalnum()):
            continue
        candidate = text[m.start() : pos]
        if iban_valid(candidate):
            yield PiiMatch("iban", m.start(), pos, candidate)


def _dni_valid(number: str, letter: str) -> bool:
    digits = str("XYZ".index(number[0])) + number[1:] if number[0] in "XYZ" else number
    return _DNI_LETTERS[int(digits) % 23] == letter


def _national_ids(text: str) -> Iterator[PiiMatch]:
    for m in _SSN.finditer(text):
        if _ssn_valid(m.group(1), m.group(3), m.group(4)):
            yield PiiMatch("national_id", m.start(), m.end(), m.group())
    for m in _SSN_LABELLED.finditer(text):
        if _ssn_valid(m.group(1), m.group(2), m.group(3)):
            yield PiiMatch("national_id", m.start(1), m.end(3), text[m.start(1) : m.end(3)])
    for m in _NINO.finditer(text):
        if m.group(1) not in _NINO_BAD_PREFIXES:
            yield PiiMatch("national_id", m.start(), m.end(), m.group())
    for m in _DNI.finditer(text):
        if _dni_valid(m.group(1), m.group(2)):
            yield PiiMatch("national_id", m.start(), m.end(), m.group())


def _phones(text: str) -> Iterator[PiiMatch]:
    for m in _PHONE_INTERNATIONAL.finditer(text):
        candidate = m.group()
        # "(+44 20 7946 0958)": the closing parenthesis is the sentence's, not the number's.
        while candidate.endswith(")") and candidate.count(")") > candidate.count("("):
            candidate = candidate[:-1]
        if 8 <= len(_digits(candidate)) <= 15:
            yield PiiMatch("phone", m.start(), m.start() + len(candidate), candidate)
    for m in _PHONE_US.finditer(text):
        if not _NOT_PHONE_BEFORE.search(text[max(0, m.start() - 24) : m.start()]):
            yield PiiMatch("phone", m.start(), m.end(), m.group())
    for m in _PHONE_NATIONAL.finditer(text):
        candidate = m.group().rstrip(" .-")
        before = text[max(0, m.start() - 40) : m.start()]
        if (
            9 <= len(_digits(candidate)) <= 12
            and not _DATE.search(candidate)
            and _PHONE_WORD.search(before)
            and not _NOT_PHONE_BEFORE.search(before)
        ):
            yield PiiMatch("phone", m.start(), m.start() + len(candidate), candidate)


_DETECTORS: dict[str, Callable[[str], Iterator[PiiMatch]]] = {
    "email": _emails,
    "phone": _phones,
    "card": _cards,
    "iban": _ibans,
    "national_id": _national_ids,
    "api_key": _api_keys,
}


def find_pii(text: str, kinds: Collection[str] | None = None) -> list[PiiMatch]:
    """Find the PII in a text.

    Args:
        text: The text searched (a model's output, a log line, ...).
        kinds: The kinds looked for (a subset of :data:`PII_KINDS`); ``None``: all.

    Returns:
        The matches, non-overlapping, ordered by start. Where two candidates overlap the one
        starting first wins, then the longer one, then the more specific kind (an IBAN over
        the card number inside it).

    Raises:
        ValueError: A kind that is not one of :data:`PII_KINDS`.
    """
    wanted = PII_KINDS if kinds is None else tuple(kinds)
    unknown = [kind for kind in wanted if kind not in _DETECTORS]
    if unknown:
        raise ValueError(f"unknown PII kind(s) {unknown}; known: {', '.join(PII_KINDS)}")
    candidates = [match for kind in dict.fromkeys(wanted) for match in _DETECTORS[kind](text)]
    candidates.sort(key=lambda m: (m.start, -(m.end - m.start), _PRIORITY[m.kind]))
    chosen: list[PiiMatch] = []
    for match in candidates:
        if not chosen or match.start >= chosen[-1].end:
            chosen.append(match)
    return chosen


# --------------------------------------------------------------------------- masking


def _mask_all_but(text: str, keep: int) -> str:
    """Each letter or digit ``*`` except the last ``keep``; separators stay."""
    positions = [i for i, char in enumerate(text) if char.isalnum()]
    hidden = set(positions[: max(0, len(positions) - keep)])
    return "".join("*" if i in hidden else char for i, char in enumerate(text))


def _mask_email(text: str) -> str:
    local, _, domain = text.rpartition("@")
    labels = domain.split(".")
    return f"{local[:1]}***@{labels[0][:1]}***.{labels[-1]}"


def _mask_iban(text: str) -> str:
    # Country code and the last two characters stay; the check digits and account do not.
    return text[:2] + _mask_all_but(text[2:], 2)


def _mask_api_key(text: str) -> str:
    if text.startswith("-----BEGIN"):
        return "-----BEGIN PRIVATE KEY----- [masked]"
    prefix = _KEY_PREFIX.match(text)
    head = prefix.group() if prefix else ""
    return f"{head}****{text[-4:]}"


_MASKERS: dict[str, Callable[[str], str]] = {
    "email": _mask_email,
    "phone": lambda text: _mask_all_but(text, 2),
    "card": lambda text: _mask_all_but(text, 4),
    "iban": _mask_iban,
    "national_id": lambda text: _mask_all_but(text, 2),
    "api_key": _mask_api_key,
}


def _replace(text: str, matches: list[PiiMatch], replacement: Callable[[PiiMatch], str]) -> str:
    parts: list[str] = []
    last = 0
    for match in matches:
        parts.append(text[last : match.start])
        parts.append(replacement(match))
        last = match.end
    parts.append(text[last:])
    return "".join(parts)


def mask_pii(text: str, kinds: Collection[str] | None = None) -> str:
    """``text`` with each piece of PII replaced by its partial mask (:attr:`PiiMatch.masked`).

    Args:
        text: The text to mask.
        kinds: The kinds masked (``None``: all of :data:`PII_KINDS`).

    Returns:
        The masked text, for reports that show model output.
    """
    return _replace(text, find_pii(text, kinds), lambda match: match.masked)


def redact_text(text: str) -> str:
    """``text`` with each piece of PII replaced by ``[REDACTED:KIND]`` (``--mleval-redact``).

    Args:
        text: The text to redact.

    Returns:
        The redacted text; ``[REDACTED:EMAIL]``, ``[REDACTED:NATIONAL_ID]``, ...
    """
    return _replace(text, find_pii(text), lambda match: f"[REDACTED:{match.kind.upper()}]")


def redact_value(value: Any) -> Any:
    """A copy of ``value`` with :func:`redact_text` applied to every string inside it.

    Args:
        value: A string, or a dict/list/tuple nesting them (JSON-like data); other values are
            returned as they are.

    Returns:
        The redacted copy. Dict keys are kept as they are; only values are redacted.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item) for item in value)
    return value
