"""Field docstrings reach the JSON Schema and the reference page, read only when those are
built: a run's start parses no model's source for them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pydantic import BaseModel

from pytest_mleval.fielddocs import with_field_docs


class Inner(BaseModel):
    size: int = 1
    """How big."""
    plain: int = 0


class Base(BaseModel):
    kept: str = ""
    """From the base."""
    redeclared: str = ""
    """The base's word."""


class Outer(Base):
    inner: Inner
    """The nested one."""
    many: list[Inner] | None = None
    redeclared: str = ""
    """The subclass's word."""
    explicit: str = ""
    """Not this one."""

    def method(self) -> None:
        x: int = 1
        """A local's string, not a field's."""
        del x


Outer.model_fields["explicit"].description = "set by hand"


def test_field_docstrings_reach_model_fields_and_the_nested_schema() -> None:
    before = Outer.model_json_schema()
    assert "description" not in before["$defs"]["Inner"]["properties"]["size"]
    with_field_docs(Outer)
    schema = Outer.model_json_schema()
    props = schema["properties"]
    assert props["inner"]["description"] == "The nested one."
    assert props["kept"]["description"] == "From the base."
    assert props["redeclared"]["description"] == "The subclass's word."
    assert props["explicit"]["description"] == "set by hand"  # an explicit one is kept
    assert schema["$defs"]["Inner"]["properties"]["size"]["description"] == "How big."
    assert "description" not in schema["$defs"]["Inner"]["properties"]["plain"]
    assert Inner.model_fields["size"].description == "How big."
    # Validation is unchanged by the rebuild.
    assert Outer.model_validate({"inner": {"size": 3}}).inner.size == 3


def test_a_model_without_source_is_left_as_it_is() -> None:
    namespace: dict[str, object] = {"BaseModel": BaseModel}
    exec("class NoSource(BaseModel):\n    a: int = 1\n    'doc'\n", namespace)
    model = namespace["NoSource"]
    assert isinstance(model, type) and issubclass(model, BaseModel)
    with_field_docs(model)
    assert model.model_fields["a"].description is None


def test_the_package_models_read_no_source_at_import() -> None:
    """pydantic's use_attribute_docstrings parses each model's source at class creation
    (~0.1 s of every run's start): no model of the package asks for it, and collecting an
    eval file reads no source through inspect."""
    code = textwrap.dedent(
        """
        import inspect, sys
        calls = []
        real = inspect.getsource
        inspect.getsource = lambda *a, **k: calls.append(a) or real(*a, **k)
        real_lines = inspect.findsource
        inspect.findsource = lambda *a, **k: calls.append(a) or real_lines(*a, **k)
        import pytest_mleval.collect, pytest_mleval.results.compare
        import pytest_mleval.finetune.config, pytest_mleval.safety.probes
        from pydantic import BaseModel
        flagged = [
            m.__qualname__
            for name, mod in list(sys.modules.items()) if name.startswith("pytest_mleval")
            for m in vars(mod).values()
            if isinstance(m, type) and issubclass(m, BaseModel)
            and m.model_config.get("use_attribute_docstrings")
        ]
        print(len(calls), flagged)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "[]"], out.stdout + out.stderr
