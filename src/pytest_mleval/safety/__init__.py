"""Adversarial safety (core): PII detectors and masking, canary search, refusal heuristics,
and the probe generators that turn attack templates into ordinary eval cases.

Core: the standard library and pydantic only. Metrics (:mod:`pytest_mleval.metrics.safety`,
:mod:`pytest_mleval.judges.safety`), the suite loader (``probes:``) and the redaction of
written outputs (``--mleval-redact``) build on it.
"""

from __future__ import annotations
