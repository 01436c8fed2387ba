"""Field docstrings as field descriptions, read only where a person reads them.

The package's pydantic models document each field with the docstring under it. pydantic's
``use_attribute_docstrings`` reads those by parsing every model's source when its class is
created: ~0.1 s at every run's start, on the path to the first model call, for text only
``mleval schema`` and the metrics reference page show. :func:`with_field_docs` reads them
when such an output is built. Imports nothing beyond the standard library at import time.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["with_field_docs"]

# Models whose fields carry their docstrings (after the rebuild that put them in the schema).
_DONE: set[type[Any]] = set()


def with_field_docs(*models: type[BaseModel]) -> None:
    """Give the fields of these models, and of every model they contain, their docstrings.

    A field's docstring becomes its ``description`` where it has none, in ``model_fields``
    and in the JSON Schema, as ``use_attribute_docstrings`` would have made it. Each model is
    read once per process; a model whose fields (or whose nested models' fields) changed is
    rebuilt so that its schema shows them.

    Args:
        models: The models a schema or a reference page is about to be built from.
    """
    order: list[tuple[type[BaseModel], list[type[BaseModel]]]] = []
    seen: set[type[Any]] = set()

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        inner = [m for info in model.model_fields.values() for m in _models_in(info.annotation)]
        for m in inner:
            visit(m)
        order.append((model, inner))  # after the models it contains: they are rebuilt first

    for model in models:
        visit(model)
    changed: set[type[Any]] = set()
    for model, inner in order:
        own = model not in _DONE and _describe(model)
        _DONE.add(model)
        if own or any(m in changed for m in inner):
            # A model's schema holds a copy of its nested models' schemas, taken when it was
            # built: it is rebuilt after them.
            model.model_rebuild(force=True)
            changed.add(model)


def _describe(model: type[BaseModel]) -> bool:
    docs: dict[str, str] = {}
    # Base classes first: a field redeclared in a subclass takes the subclass's docstring.
    for cls in reversed(model.__mro__):
        if cls.__module__.startswith("pydantic") or cls is object:
            continue
        docs.update(_attribute_docstrings(cls))
    changed = False
    for name, info in model.model_fields.items():
        doc = docs.get(name)
        if doc and info.description is None:
            info.description = doc
            changed = True
    return changed


def _attribute_docstrings(cls: type[Any]) -> dict[str, str]:
    """``name: type`` lines of the class body followed by a string: name -> that string."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        if source.startswith((" ", "\t")):
            # A multi-line string less indented than the class body kept dedent from
            # removing the class's own indentation: parse it inside a function.
            source = "def _():\n" + source
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):  # no source (a REPL, a zip without .py)
        return {}
    node = tree.body[0] if tree.body else None
    if isinstance(node, ast.FunctionDef):
        node = node.body[0]
    if not isinstance(node, ast.ClassDef):
        return {}
    docs: dict[str, str] = {}
    for stmt, after in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (``list[Case]``, ``Judge | None``, ...)."""
    from pydantic import BaseModel

    found: list[type[BaseModel]] = []
    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            found.append(item)
        else:
            stack.extend(typing.get_args(item))
    return found
