"""Sandboxed, bounded Jinja2 templates: prompts, system messages and vars of a case.

Templates come from eval files and datasets, so they are untrusted input: the sandbox refuses
attribute tricks, and everything that could make a render huge or endless is bounded before
it allocates (string and list multiplication, powers, padding and joining filters, ranges),
loops and calls check a deadline, and the rendered text has a size limit. A template that
crosses a limit is an error of its case, never a hang or a gigabyte in the results.
"""

from __future__ import annotations

import functools
import re
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from ..errors import TargetError
from .bounds import DEFAULT_MAX_PROMPT_CHARS, DEFAULT_RENDER_TIMEOUT_S, TemplateLimits

__all__ = [
    "DEFAULT_MAX_PROMPT_CHARS",
    "DEFAULT_RENDER_TIMEOUT_S",
    "MAX_RANGE",
    "BoundedSandbox",
    "TemplateLimitError",
    "TemplateLimits",
    "check_template",
    "render_template",
]

MAX_RANGE = 100_000
"""The most items ``range()`` may produce in a template (as jinja2's own sandbox)."""
_MAX_INT_BITS = 100_000  # ~30,000 digits: more than any prompt needs, computed in microseconds
_REFUSED_TAGS = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Extends: "extends",
}


class TemplateLimitError(SecurityError):
    """A template would cross a size or time limit."""


class _RenderState(threading.local):
    limits: TemplateLimits = TemplateLimits()
    deadline: float | None = None
    ticks: int = 0


_STATE = _RenderState()


def _tick() -> None:
    """Fail the render once its deadline has passed (the clock is read every 64th call)."""
    state = _STATE
    state.ticks += 1
    if state.deadline is None or state.ticks & 63:
        return
    if time.monotonic() > state.deadline:
        raise TemplateLimitError(
            f"rendering took longer than {state.limits.timeout_s:g} s "
            "(mleval_render_timeout); a loop or a macro runs too long"
        )


def _max_chars() -> int:
    return _STATE.limits.max_chars


def _too_big(size: int, what: str, unit: str = "characters") -> None:
    limit = _max_chars()
    if size > limit:
        raise TemplateLimitError(
            f"{what} would be {size:,} {unit}, over the limit of {limit:,} "
            "(mleval_max_prompt_chars)"
        )


def _text_size(value: Any, limit: int) -> int:
    """About how many characters ``str(value)`` has; stops counting once past ``limit``.

    Walks containers without building their text (a list holding the same long string a
    million times is measured, not printed); strings count their length, numbers a few.
    """
    total = 0
    stack = [value]
    seen = 0
    while stack and total <= limit:
        item = stack.pop()
        seen += 1
        if seen > limit:  # a deep or cyclic structure: far too much to print anyway
            return limit + 1
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 8
    return total


def _check_value(value: Any, what: str) -> None:
    limit = _max_chars()
    # _text_size stops counting past the limit: the size it names is a lower bound.
    _too_big(_text_size(value, limit), what, "characters or more")


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_NUMBERS = re.compile(r"\d+")


def _check_printf(fmt: str) -> None:
    for width, precision in _PRINTF_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*":
                raise TemplateLimitError("`%*` widths are refused in templates")
            if number:
                _too_big(int(number), "a %-format width")


def _check_format(fmt: str) -> None:
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format itself reports the malformed string
    for _, _, spec, _ in parsed:
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("nested format specs (`{:{width}}`) are refused in templates")
        for number in _FORMAT_NUMBERS.findall(spec):
            _too_big(int(number), "a format width")


def _is_seq(value: Any) -> bool:
    return isinstance(value, (str, list, tuple))


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if _is_seq(seq) and isinstance(count, int):
                unit = "characters" if isinstance(seq, str) else "items"
                _too_big(len(seq) * max(count, 0), f"{type(seq).__name__} * {count}", unit)
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > _MAX_INT_BITS
        ):
            raise TemplateLimitError("a number too large for a template")
    elif operator == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and abs(left) > 1
            and right * abs(left).bit_length() > _MAX_INT_BITS
        ):
            raise TemplateLimitError(f"{left} ** {right} is too large for a template")
    elif operator == "+":
        if _is_seq(left) and _is_seq(right):
            _too_big(len(left) + len(right), "the concatenation")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left)
        _check_value(right, "the %-format arguments")


def _check_str_method(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Size checks of the str methods that can grow a string far beyond their inputs."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str):
        return
    values = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill") and values and isinstance(values[0], int):
        _too_big(values[0], f"str.{name}({values[0]})")
    elif name == "expandtabs":
        size = values[0] if values and isinstance(values[0], int) else 8
        _too_big(len(owner) + owner.count("\t") * max(size, 0), "str.expandtabs()")
    elif name == "replace" and len(values) >= 2 and _is_seq(values[0]) and _is_seq(values[1]):
        old, new = values[0], values[1]
        hits = owner.count(old) if old else len(owner) + 1
        _too_big(len(owner) + hits * max(len(new) - len(old), 0), "str.replace()")
    elif name == "join" and values:
        _check_joined(values[0], owner)


def _check_joined(items: Any, sep: str) -> Any:
    """Check the size of ``sep.join(items)`` first; returns the items (iterators as a list)."""
    if not isinstance(items, (list, tuple, str)):
        items = list(_guarded_iter(items))
    limit = _max_chars()
    _too_big(_text_size(list(items), limit) + len(sep) * max(len(items) - 1, 0), "the join")
    return items


def _guarded_iter(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _tick()
        yield item


def _guarded_range(*args: int) -> range:
    """``range`` of at most :data:`MAX_RANGE` items (a larger one is refused, not truncated)."""
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise TemplateLimitError(
            f"range() of {len(r):,} items is refused (the most is {MAX_RANGE:,})"
        )
    return r


def _guarded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
    from jinja2.utils import generate_lorem_ipsum

    if n > 100 or max > 1000:
        raise TemplateLimitError("lipsum() is limited to 100 paragraphs of 1000 words")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _filter_checks(name: str, args: list[Any], kwargs: Mapping[str, Any]) -> None:
    """Checks of the built-in filters whose output can be far larger than their input."""

    def arg(index: int, key: str, default: Any = None) -> Any:
        return kwargs.get(key, args[index] if len(args) > index else default)

    value = arg(0, "value")
    text = value if isinstance(value, str) else ""
    lines = text.count("\n") + 1
    if name == "center" and isinstance(arg(1, "width"), int):
        _too_big(arg(1, "width"), f"center({arg(1, 'width')})")
    elif name == "indent":
        width = arg(1, "width", 4)
        size = width if isinstance(width, int) else len(str(width))
        _too_big(len(text) + lines * max(size, 0), "the indented text")
    elif name == "wordwrap":
        width, wrap = arg(1, "width", 79), arg(4, "wrapstring") or "\n"
        if isinstance(width, int):
            _too_big(len(text) + (len(text) // max(width, 1) + 1) * len(str(wrap)), "wordwrap")
    elif name == "format" and isinstance(value, str):
        _check_printf(value)
        _check_value([*args[1:], *kwargs.values()], "the format arguments")
    elif name == "replace" and len(args) >= 3 and _is_seq(args[1]) and _is_seq(args[2]):
        old, new = args[1], args[2]
        hits = text.count(old) if old else len(text) + 1
        _too_big(len(text) + hits * max(len(new) - len(old), 0), "replace")
    elif name == "batch" and isinstance(arg(1, "linecount"), int):
        _too_big(arg(1, "linecount"), "batch() line count")
    elif name == "slice" and isinstance(arg(1, "slices"), int):
        if arg(1, "slices") > MAX_RANGE:
            raise TemplateLimitError(f"slice() into more than {MAX_RANGE:,} slices is refused")
    elif name == "sum" and not isinstance(arg(3, "start", 0), (int, float)):
        raise TemplateLimitError("sum() of strings or lists is refused (use join or list)")
    elif name == "tojson":
        indent = arg(1, "indent")
        if (isinstance(indent, int) and indent > 16) or (
            isinstance(indent, str) and len(indent) > 16
        ):
            raise TemplateLimitError("tojson() indent is limited to 16")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # Filters that take the environment, context or eval context get it as their first
    # argument (jinja2 marks them with jinja_pass_arg, which functools.wraps keeps).
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        own = list(args[skip:])
        if own:
            _check_value(own[0], f"the value given to the {name!r} filter")
        _filter_checks(name, own, kwargs)
        if name == "join" and own:
            own[0] = _check_joined(own[0], str(own[1] if len(own) > 1 else kwargs.get("d", "")))
            args = (*args[:skip], *own)
        result = func(*args, **kwargs)
        if isinstance(result, (str, list, tuple)):
            _too_big(len(result), f"the {name!r} filter's result")
        return result

    return guarded


@pass_context
def _loop_iter(context: Any, iterable: Any) -> Any:
    """Wraps every ``{% for %}`` iterable: loops check the render's deadline per item."""
    if isinstance(iterable, Undefined):
        return iterable  # so that loops over undefined names report them as before
    return _guarded_iter(iterable)


@pass_context
def _concat(context: Any, parts: list[Any]) -> str:
    """``a ~ b``: sizes checked before the parts are turned into text."""
    limit = _max_chars()
    _too_big(_text_size(parts, limit), "the `~` concatenation")
    return "".join(str(p) for p in parts)


class _GuardLoops(NodeTransformer):
    """Rewrites a parsed template: ``for`` iterables and ``~`` concatenations are guarded."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_mleval_loop", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(list(node.nodes), lineno=node.lineno)
        return nodes.Filter(parts, "_mleval_concat", [], [], None, None, lineno=node.lineno)


def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` value, before it becomes text: too large a value is refused."""
    _tick()
    if not isinstance(value, str):
        _check_value(value, "an output value")
    return value


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox with bounds on size and time, without loaders.

    ``include``, ``import`` and ``extends`` are refused when the template is parsed: eval-file
    templates never read other files.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=_finalize,
        )
        self.globals["range"] = _guarded_range
        self.globals["lipsum"] = _guarded_lipsum
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters["_mleval_loop"] = _loop_iter
        self.filters["_mleval_concat"] = _concat

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for kind, tag in _REFUSED_TAGS.items():
            for node in tree.find_all(kind):
                raise SecurityError(
                    f"`{{% {tag} %}}` (line {node.lineno}) is not allowed: "
                    "eval-file templates cannot load other templates or files"
                )
        guarded = _GuardLoops().visit(tree)
        assert isinstance(guarded, nodes.Template)
        guarded.set_environment(self)
        return guarded

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Binary operators, with sizes checked before the result is computed."""
        _tick()
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Calls from templates: deadline and size checks around the sandbox's own."""
        _tick()
        _check_str_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, (str, list, tuple)):
            _too_big(len(result), "a call's result")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Attribute access; ``str.format`` widths are checked before the call."""
        _tick()
        if isinstance(obj, str) and attribute in ("format", "format_map"):
            _check_format(obj)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Subscripts, with the deadline checked."""
        _tick()
        return super().getitem(obj, argument)


_ENV = BoundedSandbox()
_COMPILED: dict[str, Any] = {}  # source -> compiled template: every case renders the same few


def _compile(template: str) -> Any:
    compiled = _COMPILED.get(template)
    if compiled is None:
        compiled = _ENV.from_string(template)
        if len(_COMPILED) < 512:
            _COMPILED[template] = compiled
    return compiled


def render_template(
    template: str, variables: Mapping[str, Any], limits: TemplateLimits | None = None
) -> str:
    """Render a jinja2 template in the bounded sandbox.

    Attribute tricks such as ``__class__`` are refused, and so are ``include``, ``import``
    and ``extends``; a value or output over ``limits.max_chars`` characters, or a render
    over ``limits.timeout_s`` seconds, is refused before it is built.

    Raises:
        TargetError: syntax errors, undefined variables, sandbox refusals or a limit crossed
            (one line, never jinja2's traceback).
    """
    limits = limits or TemplateLimits()
    state = _STATE
    previous = (state.limits, state.deadline)
    state.limits = limits
    state.deadline = None if limits.timeout_s is None else time.monotonic() + limits.timeout_s
    try:
        out: list[str] = []
        total = 0
        for chunk in _compile(template).generate(**variables):
            total += len(chunk)
            _too_big(total, "the rendered text")
            _tick()
            out.append(chunk)
        return "".join(out)
    except TemplateLimitError as exc:
        raise TargetError(f"template refused: {exc}") from None
    except SecurityError as exc:
        raise TargetError(f"template refused by the sandbox: {exc}") from None
    except TemplateError as exc:
        raise TargetError(f"template error: {exc}") from None
    except RecursionError:
        raise TargetError("template error: recursion too deep (a macro calling itself?)") from None
    except MemoryError:
        raise TargetError("template error: out of memory while rendering") from None
    except Exception as exc:  # a template's own runtime error (1/0, a bad call): the case's
        raise TargetError(f"template error: {type(exc).__name__}: {exc}") from None
    finally:
        state.limits, state.deadline = previous


def check_template(template: str) -> str | None:
    """Syntax-check a template (and refuse ``include``/``import``/``extends``); returns the
    problem or ``None``."""
    try:
        _ENV.parse(template)
    except SecurityError as exc:
        return f"template refused by the sandbox: {exc}"
    except TemplateError as exc:
        return f"template syntax error: {exc}"
    return None
