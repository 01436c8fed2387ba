"""The package's layers hold: contracts, no import cycles, private names kept in their folder.

docs/architecture.md draws the layers: glue (plugin, session, collection, API, CLI) imports services
(inference, retrieval, judges, finetune, report), which import core (results, targets, cases,
metrics, stats, errors); never the other way. import-linter checks the contracts in pyproject.toml;
the tests below add what a contract cannot say.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

PKG = "pytest_mleval"
ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / PKG
CORE = ("errors", "stats", "metrics", "cases", "targets", "results")
SERVICES = ("inference", "retrieval", "judges", "finetune", "report")
GLUE = (
    "plugin",
    "session",
    "collect",
    "api",
    "cli",
    "prestart",
    "hookspecs",
    "options",
    "context",
    "evalfiles",
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "broken" not in proc.stdout.lower().replace("0 broken", "")


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    # Imports inside functions count: a lazy import that closes a loop is still a loop a reader
    # has to untangle. Imports under TYPE_CHECKING do not run, so they do not count.
    graph = grimp.build_graph(PKG, exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_cycle_check_can_fail() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]


_NAMES_MODULE = re.compile(r"pytest_mleval\.(?P<mod>" + "|".join(SERVICES + GLUE) + r")\b")


@pytest.mark.parametrize("folder", CORE)
def test_core_never_names_a_service_or_glue_module(folder: str) -> None:
    # import-linter sees imports; a module path in a string (importlib, entry points written in
    # code, lazy registries) is an import it cannot see. Core reaches services only through the
    # entry points declared in pyproject.toml.
    paths = [SRC / f"{folder}.py"] if (SRC / f"{folder}.py").exists() else []
    paths += sorted((SRC / folder).rglob("*.py")) if (SRC / folder).is_dir() else []
    assert paths
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in paths
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _NAMES_MODULE.search(line)
    ]
    assert hits == []


def _folder(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _private_imports() -> list[str]:
    mods = _modules()
    found = []
    for name, path in mods.items():
        is_package = path.name == "__init__.py"
        here = _folder(name, is_package)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == PKG or node.module.startswith(PKG + ".")):
                target = node.module
            else:
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                module = full if full in mods else target
                there = _folder(module, mods.get(module, Path()).name == "__init__.py")
                private_module = any(
                    part.startswith("_") and not part.startswith("__") for part in module.split(".")
                )
                private_name = alias.name.startswith("_") and not alias.name.startswith("__")
                if (private_module or private_name) and there != here:
                    found.append(f"{name} imports {module}:{alias.name}")
    return found


def test_private_names_stay_in_their_folder() -> None:
    assert _private_imports() == []


def test_every_folder_has_a_public_face() -> None:
    for init in sorted(SRC.rglob("__init__.py")):
        if "templates" in init.parts:
            continue
        tree = ast.parse(init.read_text(encoding="utf-8"))
        names = {
            target.id
            for node in tree.body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        assert "__all__" in names, f"{init.relative_to(ROOT)} has no __all__"


def test_every_public_name_of_every_face_loads() -> None:
    # A face maps names to modules by string; a wrong entry fails only when someone uses it.
    import importlib

    for init in sorted(SRC.rglob("__init__.py")):
        package = importlib.import_module(_module_name(init))
        assert set(package.__all__) <= set(dir(package)), package.__name__
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
