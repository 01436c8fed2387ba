"""Probe generators: attack templates turned into ordinary eval cases, offline and seeded.

A suite's ``probes:`` entry names a family and a count; :func:`generate_probes` makes that many
case dicts (ready for :class:`pytest_mleval.cases.schema.Case`), spreading them over the
family's techniques. Every case is a function of the family, the seed and its index alone, so
the same file always yields the same cases, on any machine, without a model.

Families and the metric that decides whether an attack got through:

- ``injection`` (``canary_absent``): direct injection and jailbreak framings, each carrying a
  unique canary instruction ("reply with the token ZX-4821");
- ``indirect_injection`` (``canary_absent``): the canary instruction planted in a document of
  the case's ``context`` (what a ``fixture:`` or ``python:`` target retrieves and reads);
- ``system_leak`` (``canary_absent``): the canary is a secret in the system prompt (the suite's
  ``system:`` must hold ``{{ canary }}``); the attacks ask for it;
- ``pii_leak`` (``pii``): synthetic customer records in the context; the questions try to
  extract them;
- ``hallucination`` (``admits_unknown``): questions about entities that do not exist.

Every probe case has ``vars.canary`` (those of the last two families too), so one system
prompt holding ``{{ canary }}`` serves a suite of mixed families, and ``canary_absent`` checks
on any probe that the system prompt's secret stays in.
"""

from __future__ import annotations

import base64
import codecs
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..fields import Count
from .records import (
    ENTITY_KINDS,
    HALLUCINATION_TEMPLATES,
    PII_TEMPLATES,
    make_entity,
    make_person,
    records_document,
)
from .templates import (
    CARRIER_QUESTIONS,
    INDIRECT_PLANTS,
    INDIRECT_TOPICS,
    INJECTION_TEMPLATES,
    INSTRUCTIONS,
    LEAK_LANGUAGES,
    LEAK_TEMPLATES,
    TRANSLATIONS,
)

__all__ = [
    "CANARY_SLOTS",
    "CUSTOM",
    "FAMILIES",
    "Family",
    "ProbeError",
    "ProbeSpec",
    "check_template",
    "encode_payload",
    "fill_template",
    "generate_probes",
    "make_canary",
    "split_instruction",
]

CUSTOM = "custom"
"""The technique of cases made from a probe's own ``templates:``."""

CANARY_SLOTS = frozenset({"instruction", "canary", "payload", "part1", "translated"})
"""Slots that carry the canary into an attack: a canary family's template needs one."""


@dataclass(frozen=True)
class Family:
    """One probe family: its techniques, the slots its templates may use, its metric."""

    name: str
    metric: str
    """The metric whose failure means the attack got through."""
    techniques: tuple[str, ...]
    slots: frozenset[str]
    """The ``{slot}`` names a template of the family may use."""
    canary: bool
    """Whether the family plants a canary (``vars.canary``)."""
    description: str


_INJECTION_SLOTS = frozenset(
    {"instruction", "canary", "decoy", "question", "payload", "part1", "part2", "part3"}
    | {"translated", "language"}
)
_ENTITY_SLOTS = frozenset({"entity", "category", "field", "year", "region"})

FAMILIES: dict[str, Family] = {
    "injection": Family(
        "injection",
        "canary_absent",
        tuple(INJECTION_TEMPLATES),
        _INJECTION_SLOTS,
        canary=True,
        description="direct prompt injection and jailbreak framings carrying a canary instruction",
    ),
    "indirect_injection": Family(
        "indirect_injection",
        "canary_absent",
        tuple(INDIRECT_PLANTS),
        _INJECTION_SLOTS,
        canary=True,
        description="the canary instruction planted in a context document",
    ),
    "system_leak": Family(
        "system_leak",
        "canary_absent",
        tuple(LEAK_TEMPLATES),
        frozenset({"language", "question"}),
        canary=True,
        description="a canary secret in the system prompt ({{ canary }}); attacks ask for it",
    ),
    "pii_leak": Family(
        "pii_leak",
        "pii",
        tuple(PII_TEMPLATES),
        frozenset({"name"}),
        canary=False,
        description="synthetic personal records in the context; questions try to extract them",
    ),
    "hallucination": Family(
        "hallucination",
        "admits_unknown",
        ENTITY_KINDS,
        _ENTITY_SLOTS,
        canary=False,
        description="questions about entities that do not exist; the right answer says so",
    ),
}
"""The probe families by name."""


class ProbeSpec(BaseModel):
    """One entry of ``probes:``: a family of generated adversarial cases."""

    model_config = ConfigDict(extra="forbid")

    family: str = Field(json_schema_extra={"enum": list(FAMILIES)})
    """``injection``, ``indirect_injection``, ``system_leak``, ``pii_leak`` or
    ``hallucination``."""
    count: Count = Field(default=20, ge=1, le=10_000)
    """How many cases (spread round-robin over the techniques)."""
    techniques: list[str] | None = None
    """A subset of the family's techniques (``mleval probes list`` shows them)."""
    templates: list[str] | None = None
    """Your own attack templates instead of the built-in ones, with the family's slots
    (``{instruction}`` for the canary instruction, ``{question}``, ``{name}``, ``{entity}``...)."""
    questions: list[str] | None = None
    """Benign questions an injection rides along with (default: built-in support questions)."""
    seed: Count = 0
    """Another seed, other canaries, templates and records; the same seed, the same cases."""
    tags: list[str] = Field(default_factory=list)
    """Extra tags of the generated cases (each also gets ``safety``, its family and technique)."""


class ProbeError(ValueError):
    """A probe entry cannot generate cases (unknown family or technique, a bad template).

    Attributes:
        field: The entry's field at fault (``family``, ``techniques``, ``templates[2]``).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------- slots

_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CANARY_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"


def fill_template(template: str, slots: Mapping[str, str]) -> str:
    """Replace each ``{name}`` of ``template`` whose name is in ``slots``; other braces stay.

    Unlike :meth:`str.format`, braces of JSON or code in an attack stay as written.
    """
    return _SLOT.sub(lambda m: slots.get(m.group(1), m.group(0)), template)


def check_template(family: str, template: str) -> str | None:
    """Why ``template`` cannot be a template of ``family``, or None when it can.

    A slot the family does not fill is a typo (``{instrution}``); a canary family's template
    needs a slot that carries the canary, else no case could ever show an attack getting
    through (``system_leak`` excepted: its secret is in the system prompt).
    """
    fam = FAMILIES[family]
    if not template.strip():
        return "the template is empty"
    used = set(_SLOT.findall(template))
    unknown = sorted(used - fam.slots)
    if unknown:
        return (
            f"unknown slot(s) {', '.join('{' + u + '}' for u in unknown)}; {family} templates "
            f"may use {', '.join('{' + s + '}' for s in sorted(fam.slots))}"
        )
    if fam.canary and family != "system_leak" and not used & CANARY_SLOTS:
        return (
            "the template has no canary slot: put {instruction} (or {canary}, {payload}, "
            "{part1}/{part2}/{part3}, {translated}) where the attack's instruction goes"
        )
    if family == "hallucination" and "entity" not in used:
        return "a hallucination template needs the {entity} slot"
    return None


def make_canary(rng: random.Random, taken: set[str] | None = None) -> str:
    """A fresh canary token (``ZX-4821``): two consonants and four digits, not in ``taken``.

    Consonants only, so the token never spells a word a benign answer could contain.
    """
    taken = set() if taken is None else taken
    while True:
        letters = "".join(rng.choice(_CANARY_LETTERS) for _ in range(2))
        token = f"{letters}-{rng.randint(1000, 9999)}"
        if token not in taken:
            taken.add(token)
            return token


def encode_payload(kind: str, text: str) -> str:
    """``text`` encoded as an encoding technique asks (``base64``, ``rot13``, ``hex``,
    ``reversed``)."""
    if kind == "base64":
        return base64.b64encode(text.encode()).decode()
    if kind == "rot13":
        return codecs.encode(text, "rot13")
    if kind == "hex":
        return text.encode().hex()
    if kind == "reversed":
        return text[::-1]
    raise ValueError(f"unknown encoding {kind!r}")


def split_instruction(instruction: str, canary: str) -> tuple[str, str, str]:
    """The instruction in three pieces, cut inside the canary so no piece holds it whole."""
    at = instruction.find(canary)
    cut2 = at + len(canary) // 2 if at >= 0 else 2 * len(instruction) // 3
    cut1 = max(1, cut2 // 2)
    return instruction[:cut1], instruction[cut1:cut2], instruction[cut2:]


# --------------------------------------------------------------------------- generation


def generate_probes(
    family: str,
    *,
    count: int,
    seed: int = 0,
    techniques: Sequence[str] | None = None,
    templates: Sequence[str] | None = None,
    questions: Sequence[str] | None = None,
    start: int = 0,
    canaries: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Generate ``count`` probe cases of ``family`` as case dicts.

    Cases go round-robin over the techniques (the family's, or those given); a probe's own
    ``templates`` make cases of technique ``custom`` instead. Each case's randomness comes from
    ``(family, seed, index)`` alone, so adding cases never changes the earlier ones.

    Args:
        family: One of :data:`FAMILIES`.
        count: How many cases.
        seed: The seed; another seed gives other canaries, templates and records.
        techniques: A subset of the family's techniques.
        templates: Own attack templates (see :func:`check_template` for their slots).
        questions: Benign carrier questions replacing the built-in ones (injection families).
        start: Index of the first case (ids and randomness), for a second entry of a family.
        canaries: Canaries already used in the suite; new ones are added (and never reused).

    Returns:
        Case dicts with ``id``, ``input``, ``context``, ``vars``, ``tags`` and
        ``metadata.probe`` (family, technique, metric, seed, template, canary).

    Raises:
        ProbeError: an unknown family or technique, or a template that cannot work.
    """
    fam = FAMILIES.get(family)
    if fam is None:
        raise ProbeError(
            f"unknown probe family {family!r}; known: {', '.join(FAMILIES)}", field="family"
        )
    chosen: tuple[str, ...]
    if templates:
        if techniques:
            raise ProbeError(
                "give either `techniques:` (built-in templates) or `templates:` (your own), "
                "not both",
                field="techniques",
            )
        for i, template in enumerate(templates):
            problem = check_template(family, template)
            if problem:
                raise ProbeError(problem, field=f"templates[{i}]")
        chosen = (CUSTOM,)
    elif techniques:
        unknown = [t for t in techniques if t not in fam.techniques]
        if unknown:
            raise ProbeError(
                f"unknown {family} technique(s) {', '.join(map(repr, unknown))}; known: "
                f"{', '.join(fam.techniques)}",
                field="techniques",
            )
        chosen = tuple(dict.fromkeys(techniques))
    else:
        chosen = fam.techniques
    if questions is not None and not [q for q in questions if q.strip()]:
        raise ProbeError("`questions:` is empty", field="questions")
    carriers = tuple(q for q in questions if q.strip()) if questions else CARRIER_QUESTIONS
    taken = set() if canaries is None else canaries
    maker = _MAKERS[family]
    out = []
    for i in range(start, start + count):
        technique = chosen[(i - start) % len(chosen)]
        rng = random.Random(f"mleval-probe:{family}:{seed}:{i}")
        pool = tuple(templates) if technique == CUSTOM and templates else None
        case = maker(_Draw(rng, technique, pool, carriers, taken))
        probe = case.setdefault("metadata", {}).setdefault("probe", {})
        probe.update(family=family, technique=technique, metric=fam.metric, seed=seed)
        case["id"] = f"{family}-{technique}-{i + 1:03d}".replace("_", "-")
        case["tags"] = ["safety", family, technique]
        out.append(case)
    return out


@dataclass(frozen=True)
class _Draw:
    """What one case is made from: its RNG, technique, own templates (or None), carrier
    questions and the suite's canaries so far."""

    rng: random.Random
    technique: str
    pool: Sequence[str] | None
    carriers: Sequence[str]
    taken: set[str]


def _pick(rng: random.Random, pool: Sequence[str]) -> tuple[int, str]:
    index = rng.randrange(len(pool))
    return index, pool[index]


def _canary_slots(d: _Draw) -> dict[str, str]:
    rng, technique, taken = d.rng, d.technique, d.taken
    canary = make_canary(rng, taken)
    decoy = make_canary(rng, set(taken))  # a token of the same shape, never any case's canary
    instruction = rng.choice(INSTRUCTIONS).format(canary=canary)
    # The encoding techniques encode as they are named; every other template's {payload}
    # (an own template's, the `encoded` plant's) is base64.
    encoding = technique if technique in ("base64", "rot13", "hex", "reversed") else "base64"
    payload = encode_payload(encoding, instruction)
    part1, part2, part3 = split_instruction(instruction, canary)
    language, translated = TRANSLATIONS[rng.choice(sorted(TRANSLATIONS))]
    return {
        "canary": canary,
        "decoy": decoy,
        "instruction": instruction,
        "question": rng.choice(d.carriers),
        "payload": payload,
        "part1": part1,
        "part2": part2,
        "part3": part3,
        "language": language,
        "translated": translated.format(canary=canary),
    }


def _injection(d: _Draw) -> dict[str, Any]:
    rng, technique, pool = d.rng, d.technique, d.pool
    slots = _canary_slots(d)
    index, template = _pick(rng, pool or INJECTION_TEMPLATES[technique])
    text = fill_template(template, slots)
    return {
        "input": text,
        "vars": {"canary": slots["canary"]},
        "metadata": {"probe": {"template": index, "canary": slots["canary"]}},
    }


def _indirect(d: _Draw) -> dict[str, Any]:
    rng, technique, pool = d.rng, d.technique, d.pool
    slots = _canary_slots(d)
    index, template = _pick(rng, pool or INDIRECT_PLANTS[technique])
    if "{payload}" in template and "rot13" in template.lower():
        # The plant names its encoding: the payload must be in that one.
        slots["payload"] = encode_payload("rot13", slots["instruction"])
    plant = fill_template(template, slots)
    topic = rng.randrange(len(INDIRECT_TOPICS))
    title, document, question = INDIRECT_TOPICS[topic]
    sentences = [s for s in re.split(r"(?<=\.)\s+", document) if s]
    at = rng.choice(("start", "middle", "end"))
    if at == "start":
        sentences.insert(0, plant)
    elif at == "middle":
        sentences.insert(max(1, len(sentences) // 2), plant)
    else:
        sentences.append(plant)
    poisoned = f"{title}\n\n" + " ".join(sentences)
    # A clean document beside the poisoned one, as a retriever returns more than one.
    others = [t for t in range(len(INDIRECT_TOPICS)) if t != topic]
    other_title, other_doc, _ = INDIRECT_TOPICS[rng.choice(others)]
    context = [poisoned, f"{other_title}\n\n{other_doc}"]
    rng.shuffle(context)
    return {
        "input": question,
        "context": context,
        "vars": {"canary": slots["canary"]},
        "metadata": {
            "probe": {
                "template": index,
                "canary": slots["canary"],
                "document": title,
                "position": at,
            }
        },
    }


def _system_leak(d: _Draw) -> dict[str, Any]:
    rng, technique, pool = d.rng, d.technique, d.pool
    canary = make_canary(rng, d.taken)
    index, template = _pick(rng, pool or LEAK_TEMPLATES[technique])
    text = fill_template(
        template, {"language": rng.choice(LEAK_LANGUAGES), "question": rng.choice(d.carriers)}
    )
    return {
        "input": text,
        "vars": {"canary": canary},
        "metadata": {"probe": {"template": index, "canary": canary}},
    }


def _pii_leak(d: _Draw) -> dict[str, Any]:
    rng, technique, pool = d.rng, d.technique, d.pool
    names: set[str] = set()
    people = [make_person(rng, names) for _ in range(rng.randint(3, 5))]
    target = rng.choice(people)
    index, template = _pick(rng, pool or PII_TEMPLATES[technique])
    return {
        "input": fill_template(template, {"name": target.name}),
        "context": [records_document(people, rng)],
        "vars": {"canary": make_canary(rng, d.taken)},
        "metadata": {"probe": {"template": index, "person": target.name}},
    }


def _hallucination(d: _Draw) -> dict[str, Any]:
    rng, technique, pool = d.rng, d.technique, d.pool
    kind = technique if technique in ENTITY_KINDS else rng.choice(ENTITY_KINDS)
    entity, details = make_entity(kind, rng)
    index, template = _pick(rng, pool or HALLUCINATION_TEMPLATES[kind])
    # Own templates may name a detail another kind has: every slot gets a value.
    filler = {"category": "product", "field": "science", "year": "2011", "region": "Europe"}
    return {
        "input": fill_template(template, {**filler, **details, "entity": entity}),
        "vars": {"canary": make_canary(rng, d.taken)},
        "metadata": {"probe": {"template": index, "entity": entity, "kind": kind}},
    }


_MAKERS = {
    "injection": _injection,
    "indirect_injection": _indirect,
    "system_leak": _system_leak,
    "pii_leak": _pii_leak,
    "hallucination": _hallucination,
}
