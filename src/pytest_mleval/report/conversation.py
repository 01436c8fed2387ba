"""The conversation and trajectory of a case as the HTML report shows them: one step per
message, each assistant turn with its measures and tool calls (arguments, result or error),
and the case's images as thumbnails.

Pure functions from result records to JSON-ready data; the page renders them with DOM text
nodes only (``templates/report.js``). Everything here bounds what a run puts in the page:
long texts are cut (the results file keeps them), a long conversation shows its start and
its end, and image data stops being embedded once the report's budget for it is spent.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..conversation.images import IMAGE_REF_PREFIX
from ..conversation.messages import message_text

if TYPE_CHECKING:
    from ..conversation.trajectory import ToolCall, Trajectory, Turn
    from ..results.records import CaseResult, ImageRecord

__all__ = [
    "CASE_TEXT_BUDGET",
    "IMAGE_BUDGET",
    "MAX_STEPS",
    "TEXT_LIMIT",
    "ConversationPayload",
    "is_safe_image_url",
    "tool_totals",
]

TEXT_LIMIT = 8_000
"""Longest message text, tool argument or tool result shown whole in a case's steps."""

CASE_TEXT_BUDGET = 100_000
"""Characters of conversation text one case may put in the page (the stored output's own
default bound); past it each further text shows only its start."""

SPENT_LIMIT = 300
"""How much of each text shows once its case's budget is spent."""

MAX_STEPS = 200
"""Most messages shown per case: the first and the last half of that, with the gap noted."""

IMAGE_BUDGET = 24 * 1024 * 1024
"""Characters of image data (data URLs, each image once) one report embeds; later images show
as placeholders naming their source and size."""

# Only base64 raster images become an <img> source: no SVG (it is a document), no other
# scheme, nothing a browser would fetch or run. The page checks this again before use.
_SAFE_IMAGE_URL = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]*={0,2}")


def is_safe_image_url(url: object) -> bool:
    """Whether ``url`` may be an image's ``src`` in the report: a base64 PNG, JPEG, GIF or
    WebP ``data:`` URL and nothing else."""
    return isinstance(url, str) and _SAFE_IMAGE_URL.fullmatch(url) is not None


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [cut for the report: {len(text):,} characters in all]"


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, indent=2, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


class Interner:
    """Indexes repeated strings so each is sent once; records hold their indexes."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        idx = self._index.get(value)
        if idx is None:
            idx = self._index[value] = len(self.items)
            self.items.append(value)
        return idx


class ConversationPayload:
    """Builds the conversation part of the report's case payload for a whole run.

    Texts go into ``texts`` and images into ``images`` once each (a suite's system message,
    a scripted tool result or an image shared by many cases is sent once); case records hold
    indexes into them.
    """

    def __init__(self) -> None:
        self.intern_text = Interner()
        """The index of a text in ``texts`` (added on first use)."""
        self.images: list[dict[str, Any]] = []
        self._image_index: dict[str, int] = {}
        self.image_data: list[str] = []
        self._data_index: dict[str, int] = {}
        self._image_chars = 0

    # ------------------------------------------------------------------ interning

    @property
    def texts(self) -> list[str]:
        """The interned texts, in index order."""
        return self.intern_text.items

    def intern_image(self, rec: dict[str, Any]) -> int:
        """The index of a thumbnail record in ``images`` (added on first use)."""
        key = json.dumps(rec, sort_keys=True)
        idx = self._image_index.get(key)
        if idx is None:
            idx = self._image_index[key] = len(self.images)
            self.images.append(rec)
        return idx

    def _data(self, sha: str, url: str) -> int | None:
        idx = self._data_index.get(sha)
        if idx is not None:
            return idx
        if self._image_chars + len(url) > IMAGE_BUDGET:
            return None
        self._image_chars += len(url)
        idx = self._data_index[sha] = len(self.image_data)
        self.image_data.append(url)
        return idx

    def image_record(self, image: ImageRecord) -> int:
        """The index of one image's thumbnail record: its data when it can be shown, else why
        not (``why``), with its source, type and size either way."""
        rec: dict[str, Any] = {"src": image.source, "mime": image.mime, "size": _size(image.size)}
        if image.data_url is None:
            # Too large to keep (the caption says how large).
            rec["why"] = "its data is not kept in the results"
        elif not is_safe_image_url(image.data_url):
            rec["why"] = "not shown: its data is not a base64 PNG, JPEG, GIF or WebP data URL"
        else:
            data = self._data(image.sha256, image.data_url)
            if data is None:
                budget = _size(IMAGE_BUDGET)
                rec["why"] = f"not embedded: the report's image budget ({budget}) is spent"
            else:
                rec["d"] = data
        return self.intern_image(rec)

    # ------------------------------------------------------------------ one case

    def case_fields(self, case: CaseResult) -> dict[str, Any]:
        """The case record's conversation keys (none for a case without one).

        ``img`` the case's images (indexes into ``images``), ``cv`` the steps, ``stop`` why a
        tool loop ended when it did not end with an answer, ``tr`` [turns, tool calls, failed
        tool calls] of a trajectory.
        """
        out: dict[str, Any] = {}
        by_sha: dict[str, int] = {}
        if case.images:
            out["img"] = []
            for image in case.images:
                idx = self.image_record(image)
                by_sha.setdefault(image.sha256, idx)
                out["img"].append(idx)
        traj = case.trajectory
        messages = traj.messages if traj is not None else case.messages
        if traj is None and not messages:
            return out
        steps = _Steps(self, _Budget(), by_sha).build(messages or [], traj)
        if steps:
            out["cv"] = steps
        if traj is not None:
            out["tr"] = [len(traj.turns), len(traj.tool_calls), len(traj.tool_errors)]
            if traj.stop_reason != "answer":
                out["stop"] = _stop_text(traj)
        return out


def _stop_text(traj: Trajectory) -> str:
    n = len(traj.turns)
    if traj.stop_reason == "max_turns":
        return f"cut off at max_turns after {n} turn(s): the model had not answered"
    if traj.stop_reason == "error":
        return f"stopped by an error after {n} turn(s)"
    return f"stopped: {traj.stop_reason} after {n} turn(s)"


class _Budget:
    """The characters of text one case has left to put in the page."""

    def __init__(self) -> None:
        self.left = CASE_TEXT_BUDGET

    def take(self, text: str) -> str:
        limit = TEXT_LIMIT if self.left > 0 else SPENT_LIMIT
        shown = _cut(text, min(limit, max(self.left, SPENT_LIMIT)))
        self.left -= len(shown)
        return shown


class _Steps:
    """The steps of one case: messages in order, assistant turns with their tool calls."""

    def __init__(
        self, payload: ConversationPayload, budget: _Budget, by_sha: dict[str, int]
    ) -> None:
        self.payload = payload
        self.budget = budget
        self.by_sha = by_sha

    def text(self, value: str) -> int:
        return self.payload.intern_text(self.budget.take(value))

    def build(
        self, messages: Sequence[Mapping[str, Any]], traj: Trajectory | None
    ) -> list[dict[str, Any]]:
        turns = list(traj.turns) if traj is not None else []
        assistant = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
        # The turns are the model's replies after the case's own messages: the last
        # assistant messages, in order.
        matched = min(len(turns), len(assistant))
        turn_at = dict(zip(assistant[len(assistant) - matched :], turns[:matched], strict=True))
        extra_turns = turns[matched:]
        answered = {call.id for t in turn_at.values() for call in t.tool_calls if call.id}
        shown: list[tuple[Mapping[str, Any], Turn | None]] = [
            (m, turn_at.get(i))
            for i, m in enumerate(messages)
            # A tool message the loop recorded is shown under its call.
            if not (m.get("role") == "tool" and str(m.get("tool_call_id") or "") in answered)
        ]
        # A trajectory with more turns than assistant messages: never drop the turns.
        shown += [({"role": "assistant", "content": t.text}, t) for t in extra_turns]
        # A long conversation shows its start and its end; the middle is never rendered,
        # so it costs the page nothing.
        if len(shown) > MAX_STEPS:
            half = MAX_STEPS // 2
            head = [self.message(m, t) for m, t in shown[:half]]
            tail = [self.message(m, t) for m, t in shown[-half:]]
            return [*head, {"gap": len(shown) - 2 * half}, *tail]
        return [self.message(m, t) for m, t in shown]

    def message(self, m: Mapping[str, Any], turn: Turn | None) -> dict[str, Any]:
        step: dict[str, Any] = {"ro": str(m.get("role") or "?")}
        content = m.get("content")
        text = message_text(content) if content is not None else ""
        if turn is not None and not text and turn.text:
            text = turn.text
        if text:
            step["tx"] = self.text(text)
        if isinstance(m.get("name"), str) and m["name"]:
            step["nm"] = m["name"]
        images, others = self.parts(content)
        if images:
            step["im"] = images
        if others:
            step["pt"] = others
        if turn is not None:
            step["tn"] = _turn_info(turn)
            calls = [self.call(c) for c in turn.tool_calls]
        else:
            calls = [self.raw_call(c) for c in m.get("tool_calls") or () if isinstance(c, Mapping)]
        if calls:
            step["tc"] = calls
        return step

    def parts(self, content: Any) -> tuple[list[int], list[str]]:
        """Image references resolved to the case's thumbnails; other non-text parts named."""
        images: list[int] = []
        others: list[str] = []
        if not isinstance(content, list):
            return images, others
        for part in content:
            if not isinstance(part, Mapping):
                continue
            kind = str(part.get("type") or "")
            if kind == "text" or ("text" in part and not kind):
                continue
            if kind != "image_url":
                others.append(kind or "unknown")
                continue
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            images.append(self.image_ref(url))
        return images, others

    def image_ref(self, url: Any) -> int:
        text = url if isinstance(url, str) else ""
        if text.startswith(IMAGE_REF_PREFIX):
            sha = text[len(IMAGE_REF_PREFIX) :]
            idx = self.by_sha.get(sha)
            if idx is not None:
                return idx
            why = "not in the case's images (the results did not keep it)"
            return self.payload.intern_image({"src": f"{IMAGE_REF_PREFIX}{sha[:16]}…", "why": why})
        # A URL left in the messages: never loaded, only named.
        shown = text if len(text) <= 80 else text[:80] + "…"
        why = "not loaded: not one of the case's images"
        return self.payload.intern_image({"src": shown or "?", "why": why})

    def call(self, call: ToolCall) -> dict[str, Any]:
        args = call.arguments_raw if call.arguments is None else _pretty(call.arguments)
        rec: dict[str, Any] = {"n": call.name, "a": self.text(args)}
        if call.id:
            rec["id"] = call.id
        if call.error is not None:
            rec["er"] = self.text(call.error)
        if call.result is not None:
            rec["r"] = self.text(_pretty(call.result))
        if call.latency_ms is not None:
            rec["lat"] = call.latency_ms
        return rec

    def raw_call(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A tool call of a message no turn stands for (the case's own conversation)."""
        function = raw.get("function")
        fn: Mapping[str, Any] = function if isinstance(function, Mapping) else {}
        args = fn.get("arguments")
        text = args if isinstance(args, str) else _pretty(args)
        with contextlib.suppress(TypeError, ValueError):
            text = _pretty(json.loads(text))
        rec: dict[str, Any] = {"n": str(fn.get("name") or "?"), "a": self.text(text)}
        if raw.get("id"):
            rec["id"] = str(raw["id"])
        return rec


def _turn_info(turn: Turn) -> dict[str, Any]:
    info: dict[str, Any] = {"i": turn.index}
    usage = turn.usage or {}
    optional: dict[str, Any] = {
        "lat": turn.latency_ms,
        "cost": turn.cost_usd,
        "ca": turn.cached or None,
        "mo": turn.model,
        "fr": turn.finish_reason,
    }
    if usage:
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        total = int(usage.get("total_tokens") or prompt + completion)
        optional["tok"] = [prompt, completion, total]
    info.update({k: v for k, v in optional.items() if v is not None})
    return info


def tool_totals(cases: Sequence[CaseResult]) -> tuple[int, int, int]:
    """(tool calls, failed tool calls, cases cut off at ``max_turns``) over ``cases``."""
    calls = errors = cut = 0
    for c in cases:
        if c.trajectory is None:
            continue
        calls += len(c.trajectory.tool_calls)
        errors += len(c.trajectory.tool_errors)
        cut += c.trajectory.stop_reason == "max_turns"
    return calls, errors, cut
