"""PII detectors: hand-written positives and near-miss negatives for every kind, the checksums,
masking (never the raw value) and redaction of nested data."""

from __future__ import annotations

import itertools

import pytest

from pytest_mleval.safety.pii import (
    PII_KINDS,
    PiiMatch,
    find_pii,
    iban_valid,
    luhn_valid,
    mask_pii,
    redact_text,
    redact_value,
)


def _found(text: str, kind: str | None = None) -> list[tuple[str, str]]:
    return [(m.kind, m.text) for m in find_pii(text, None if kind is None else [kind])]


# --------------------------------------------------------------------------- checksums


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("4242 4242 4242 4242", True),
        ("4242-4242-4242-4242", True),
        ("4242424242424241", False),
        ("79927398713", True),
        ("79927398710", False),
        ("4242x4242", False),
        ("", False),
        ("7", False),
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("de89370400440532013000", True),
        ("GB82 WEST 1234 5698 7654 32", True),
        ("FR14 2004 1010 0505 0001 3M02 606", True),
        ("NL91ABNA0417164300", True),
        ("ES9121000418450200051332", True),
        ("DE89 3704 0044 0532 0130 01", False),  # checksum broken
        ("GB82 WEST 1234 5698 7654 33", False),
        ("DE89 3704 0044 0532 0130 0", False),  # one character short for DE
        ("XX89370400440532013000", False),  # no such country
        ("DE8937040044053201300!", False),
    ],
)
def test_iban_checksum(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


# --------------------------------------------------------------------------- positives


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Write to john.doe@example.com today.", "email", "john.doe@example.com"),
        ("cc: a_b+tag@mail.example.co.uk", "email", "a_b+tag@mail.example.co.uk"),
        ("Card: 4242 4242 4242 4242, exp 12/27", "card", "4242 4242 4242 4242"),
        ("card 5555-5555-5555-4444 on file", "card", "5555-5555-5555-4444"),
        ("number 4111111111111111.", "card", "4111111111111111"),
        ("Amex 3782 822463 10005", "card", "3782 822463 10005"),
        ("IBAN DE89 3704 0044 0532 0130 00.", "iban", "DE89 3704 0044 0532 0130 00"),
        ("pay GB82WEST12345698765432 now", "iban", "GB82WEST12345698765432"),
        ("FR14 2004 1010 0505 0001 3M02 606", "iban", "FR14 2004 1010 0505 0001 3M02 606"),
        ("(NL91ABNA0417164300)", "iban", "NL91ABNA0417164300"),
        ("SSN 123-45-6789", "national_id", "123-45-6789"),
        ("ssn: 078 05 1120", "national_id", "078 05 1120"),
        ("her social security number is 219099999", "national_id", "219099999"),
        ("NINO AB 12 34 56 C", "national_id", "AB 12 34 56 C"),
        ("NI number: JG103759A", "national_id", "JG103759A"),
        ("DNI 12345678Z", "national_id", "12345678Z"),
        ("NIE X1234567-L", "national_id", "X1234567-L"),
        ("call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
        ("+1 (212) 555-0147", "phone", "+1 (212) 555-0147"),
        ("Tel: +49 30 1234567", "phone", "+49 30 1234567"),
        ("+33 1 23 45 67 89", "phone", "+33 1 23 45 67 89"),
        ("reach me at (212) 555-0147", "phone", "(212) 555-0147"),
        ("212-555-0147 is my cell", "phone", "212-555-0147"),
        ("1-800-555-0199", "phone", "1-800-555-0199"),
        ("phone: 020 7946 0958", "phone", "020 7946 0958"),
        ("Tel. 01 23 45 67 89", "phone", "01 23 45 67 89"),
        (
            "key sk-proj-abc123DEF456ghi789JKL012 here",
            "api_key",
            "sk-proj-abc123DEF456ghi789JKL012",
        ),
        ("sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3", "api_key", "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3"),
        ("AKIAIOSFODNN7EXAMPLE", "api_key", "AKIAIOSFODNN7EXAMPLE"),
        ("token ghp_" + "a1B2" * 9, "api_key", "ghp_" + "a1B2" * 9),
        ("xoxb-1234567890-abcdefghij", "api_key", "xoxb-1234567890-abcdefghij"),
        (
            "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
            "api_key",
            "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        ),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "api_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345", "api_key", "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345"),
    ],
)
def test_detects(text: str, kind: str, value: str) -> None:
    assert _found(text) == [(kind, value)]
    # The kind filter finds it too, and another kind does not.
    assert _found(text, kind) == [(kind, value)]
    other = next(k for k in PII_KINDS if k != kind)
    assert value not in [t for _, t in _found(text, other)]


def test_private_key_block_is_an_api_key() -> None:
    text = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3\n-----END RSA PRIVATE KEY-----"
    (match,) = find_pii(text)
    assert (match.kind, match.start, match.end) == ("api_key", 0, len(text))
    assert "MIIE" not in match.masked


# --------------------------------------------------------------------------- negatives


@pytest.mark.parametrize(
    "text",
    [
        # cards: Luhn fails, all one digit, too short, not a card prefix
        "Card 4242 4242 4242 4241",
        "card 4242-4242-4242-4243",
        "4111111111111112",
        "0000 0000 0000 0000",
        "4444444444444444",
        "4242 4242 42",
        # IBANs: bad checksum in several countries, wrong length, run-on
        "DE89 3704 0044 0532 0130 01",
        "GB82 WEST 1234 5698 7654 31",
        "FR14 2004 1010 0505 0001 3M02 607",
        "NL91ABNA0417164301",
        "DE89370400440532013000123",
        # SSNs with invalid area, group or serial; SSN-shaped 9-digit number without a label
        "SSN 000-12-3456",
        "SSN 666-12-3456",
        "SSN 912-34-5678",
        "SSN 987-65-4321",
        "SSN 123-00-4567",
        "SSN 123-45-0000",
        "customer 123456789",
        # NINOs with prefixes HMRC never issues
        "QQ123456C",
        "GB123456A",
        "ZZ 12 34 56 A",
        "AB123456E",
        # DNI/NIE with the wrong check letter
        "DNI 12345678A",
        "NIE X1234567T",
        # e-mail near misses
        "user@localhost",
        "an @ sign and example.com",
        "john.doe at example dot com",
        # not phones: prices, dates, times, years, versions, IPs, order and reference numbers
        "Price $1,299.99, was 1499.00",
        "Due 2024-01-15, paid 15/01/2024 or 12.03.2024",
        "call on 01.02.2024 10:30",
        "We opened in 1999 and moved in 2024.",
        "version 1.2.3 on 192.168.1.1",
        "Order #212-555-0147 shipped",
        "order number 212-555-0147 shipped",
        "Invoice no. 212-555-0147",
        "ticket #: 212-555-0147",
        "123-456-7890",  # area code cannot start with 1
        "212-155-0147",  # exchange cannot start with 1
        "order 0207946095812",
        "+5 points",
        "score 10 - 20 - 30",
        "020 7946 0958 units shipped",  # national format without a phone word
        # API-key shapes vs ordinary words
        "sk-learn-compatible-estimators-are-great",
        "the task-runner and risk-free desk-top",
        "AKIA is not a key",
        "ghp_short",
        "xoxb-",
        "AIza pizza",
        "hf_hub_download is a function",
        "eyJ is how base64 JSON starts",
    ],
)
def test_does_not_detect(text: str) -> None:
    assert find_pii(text) == [], [m.masked for m in find_pii(text)]


def test_ordinary_support_answer_has_no_pii() -> None:
    text = (
        "Thanks for waiting! Your order 48213 shipped on 2024-03-05 and costs $49.99. "
        "Returns are accepted for 30 days; call the store if the box is damaged. "
        "Model XR-200, firmware 3.14.15, 2 items, 1 refund of 12.50 EUR."
    )
    assert find_pii(text) == []


# --------------------------------------------------------------------------- matching rules


def test_matches_are_ordered_and_do_not_overlap() -> None:
    text = "a@b.io then DE89 3704 0044 0532 0130 00 then 4242 4242 4242 4242 then +44 20 7946 0958"
    matches = find_pii(text)
    assert [m.kind for m in matches] == ["email", "iban", "card", "phone"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))
    assert all(text[m.start : m.end] == m.text for m in matches)


def test_kinds_filter_and_unknown_kind() -> None:
    text = "mail a@example.com or call +44 20 7946 0958"
    assert [m.kind for m in find_pii(text, ["phone"])] == ["phone"]
    assert [m.kind for m in find_pii(text, ("email",))] == ["email"]
    with pytest.raises(ValueError, match="unknown PII kind"):
        find_pii(text, ["passport_number"])


# --------------------------------------------------------------------------- masking and redaction


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("john.doe@example.com", "j***@e***.com"),
        ("4242 4242 4242 4242", "**** **** **** 4242"),
        ("DE89 3704 0044 0532 0130 00", "DE** **** **** **** **** 00"),
        ("123-45-6789", "***-**-**89"),
        ("+44 20 7946 0958", "+** ** **** **58"),
        ("sk-proj-abc123DEF456ghi789JKL012", "sk-proj-****L012"),
        ("AKIAIOSFODNN7EXAMPLE", "AKIA****MPLE"),
    ],
)
def test_masked_forms(text: str, masked: str) -> None:
    (match,) = find_pii(text)
    assert match.masked == masked
    assert text not in repr(match)


SAMPLE = (
    "Customer Jane (jane.roe@example.org, +44 20 7946 0958) paid with 4242 4242 4242 4242 "
    "from DE89 3704 0044 0532 0130 00; SSN 219-09-9999; key AKIAIOSFODNN7EXAMPLE."
)
RAW = [
    "jane.roe@example.org",
    "+44 20 7946 0958",
    "4242 4242 4242 4242",
    "DE89 3704 0044 0532 0130 00",
    "219-09-9999",
    "AKIAIOSFODNN7EXAMPLE",
]


def test_mask_pii_hides_every_raw_value_and_is_stable() -> None:
    masked = mask_pii(SAMPLE)
    for raw in RAW:
        assert raw not in masked
    assert "Customer Jane (" in masked and "j***@e***.org" in masked
    # A masked text holds no PII any more: masking twice changes nothing.
    assert find_pii(masked) == []
    assert mask_pii(masked) == masked
    # Only the requested kinds are masked.
    assert "jane.roe@example.org" in mask_pii(SAMPLE, ["card"])
    assert "4242 4242 4242 4242" not in mask_pii(SAMPLE, ["card"])


def test_redact_text() -> None:
    redacted = redact_text(SAMPLE)
    assert redacted == (
        "Customer Jane ([REDACTED:EMAIL], [REDACTED:PHONE]) paid with [REDACTED:CARD] "
        "from [REDACTED:IBAN]; SSN [REDACTED:NATIONAL_ID]; key [REDACTED:API_KEY]."
    )
    assert redact_text("nothing here, order 48213") == "nothing here, order 48213"


def test_redact_value_recurses_and_keeps_keys() -> None:
    value = {
        "jane.roe@example.org": "key stays",
        "output": "mail jane.roe@example.org",
        "turns": [{"content": "call +44 20 7946 0958"}, ("4242 4242 4242 4242", 7)],
        "score": 0.5,
        "none": None,
    }
    redacted = redact_value(value)
    assert redacted == {
        "jane.roe@example.org": "key stays",
        "output": "mail [REDACTED:EMAIL]",
        "turns": [{"content": "call [REDACTED:PHONE]"}, ("[REDACTED:CARD]", 7)],
        "score": 0.5,
        "none": None,
    }
    assert isinstance(redacted["turns"][1], tuple)
    assert value["output"] == "mail jane.roe@example.org"  # the input is not changed


def test_pii_match_is_frozen() -> None:
    match = PiiMatch("email", 0, 5, "a@b.io")
    with pytest.raises(AttributeError):
        match.kind = "phone"  # type: ignore[misc]
