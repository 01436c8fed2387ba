"""Adversarial safety (core): PII detectors and masking, canary search, refusal heuristics,
and the probe generators that turn attack templates into ordinary eval cases.

Core: the standard library and pydantic only. Metrics (:mod:`pytest_mleval.metrics.safety`,
:mod:`pytest_mleval.judges.safety`), the suite loader (``probes:``) and the redaction of
written outputs (``--mleval-redact``) build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .canary import canary_found
    from .pii import (
        PII_KINDS,
        PiiMatch,
        find_pii,
        iban_valid,
        luhn_valid,
        mask_pii,
        redact_text,
        redact_value,
    )
    from .refusal import admits_unknown_reason, refusal_reason

_WHERE = {
    "PII_KINDS": "pii",
    "PiiMatch": "pii",
    "admits_unknown_reason": "refusal",
    "canary_found": "canary",
    "find_pii": "pii",
    "iban_valid": "pii",
    "luhn_valid": "pii",
    "mask_pii": "pii",
    "redact_text": "pii",
    "redact_value": "pii",
    "refusal_reason": "refusal",
}

__all__ = [
    "PII_KINDS",
    "PiiMatch",
    "admits_unknown_reason",
    "canary_found",
    "find_pii",
    "iban_valid",
    "luhn_valid",
    "mask_pii",
    "redact_text",
    "redact_value",
    "refusal_reason",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
