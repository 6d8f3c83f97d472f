"""Imports point one way (CONVENTIONS: layout).

Every package but `accomp.gui` never imports Qt, and `accomp.config` (with the CLI's own
modules) imports neither torch nor Qt. Each check runs in a fresh interpreter whose import
system refuses the forbidden packages, and records any attempt to import them together with
the module that made it.

Between accomp's own packages, imports go down :data:`LAYERS` only: the import graph is read
from the source (``ast``: every ``import``, at the top of a module or inside a function), so
a new arrow against the order, or an import circle between modules, fails here.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import accomp

QT = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "PySide2")
TORCH = ("torch",)
QT_FREE_PACKAGES = ("realtime", "music", "model", "devices", "synth", "listen", "distill", "engine")
# Bottom to top: a module may import from its own unit and from units on lower floors only.
# ("accomp" is the package's __init__, "files" the atomic-write helper.)
LAYERS = (
    ("accomp", "config", "errors", "files", "stop_signals"),
    ("realtime", "music"),
    ("model", "devices", "synth", "listen"),
    ("distill", "engine"),
    ("gui",),
    ("app",),  # the GUI's entry point
    ("cli",),  # the parser and its adapters: flags in, typed settings out (only here is argparse)
    ("__main__",),
)
LIGHT_MODULES = ("accomp", "accomp.config", "accomp.errors", "accomp.cli", "accomp.cli.engine", "accomp.cli.commands")

# argv: JSON list of blocked top-level names, JSON list of modules to import.
# stdout: JSON {"errors": {module: message}, "attempts": [[name, importer]], "loaded": [...]}.
PROBE = r"""
import importlib, json, sys

blocked = set(json.loads(sys.argv[1]))
attempts = []


def importer():
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "?")
        if not name.startswith(("importlib", "_frozen_importlib")):
            return name
        frame = frame.f_back
    return "?"


class Refuse:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            attempts.append([name, importer()])
            raise ImportError(f"{name} is made unavailable by this test", name=name)
        return None


sys.meta_path.insert(0, Refuse)
errors = {}
for module in json.loads(sys.argv[2]):
    try:
        importlib.import_module(module)
    except Exception as exc:
        errors[module] = f"{type(exc).__name__}: {exc}"
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in blocked)
print(json.dumps({"errors": errors, "attempts": attempts, "loaded": loaded}))
"""


def probe(blocked: tuple[str, ...], modules: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(blocked), json.dumps(modules)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def modules_of(package: str) -> list[str]:
    """Every module file under ``accomp/<package>``, as dotted names (none if it is empty)."""
    root = Path(accomp.__file__).parent
    files = sorted((root / package).rglob("*.py")) if (root / package).is_dir() else []
    names = []
    for file in files:
        parts = file.relative_to(root.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_probe_really_refuses_qt_and_torch():
    result = probe(QT + TORCH, ["PySide6.QtCore", "pyqtgraph", "torch"])
    assert set(result["errors"]) == {"PySide6.QtCore", "pyqtgraph", "torch"}
    assert all("made unavailable by this test" in message for message in result["errors"].values())
    assert result["loaded"] == []


def test_music_has_modules_to_check():
    assert "accomp.music.frames" in modules_of("music")


@pytest.mark.parametrize("package", QT_FREE_PACKAGES)
def test_layer_imports_without_qt(package):
    modules = modules_of(package)
    if not modules:
        pytest.skip(f"accomp/{package} has no modules yet")
    result = probe(QT, modules)
    assert result["errors"] == {}, f"modules that need Qt or fail to import: {result['errors']}"
    ours = [attempt for attempt in result["attempts"] if attempt[1].partition(".")[0] == "accomp"]
    assert ours == [], f"accomp modules that try to import Qt: {ours}"
    assert result["loaded"] == []


def test_config_and_cli_import_neither_torch_nor_qt():
    result = probe(QT + TORCH, list(LIGHT_MODULES))
    assert result["errors"] == {}
    assert result["attempts"] == [], f"imports of torch or Qt: {result['attempts']}"
    assert result["loaded"] == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the accomp modules it imports (anywhere in it, or names as a string for
    importlib), from the source."""
    root = Path(accomp.__file__).parent
    modules = {}
    for file in root.rglob("*.py"):
        parts = file.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    graph: dict[str, set[str]] = {}
    for name, file in modules.items():
        found = set()
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").partition(".")[0] == "accomp":
                for alias in node.names:  # `from accomp.x import y`: y may be a module of its own
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.Constant) and node.value in modules and node.value != "accomp":
                found.add(node.value)  # a module named for importlib (the CLI's lazy subcommands)
        graph[name] = found - {name}
    return graph


def unit(module: str) -> str:
    """The package (or top-level module) of accomp that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "accomp"


def test_every_unit_has_a_floor():
    units = {unit(m) for m in import_graph()}
    placed = {u for floor in LAYERS for u in floor}
    assert units <= placed, f"give these a floor in LAYERS: {sorted(units - placed)}"


def test_imports_go_down_the_floors_only():
    floor = {u: i for i, units in enumerate(LAYERS) for u in units}
    against = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if unit(target) != unit(module) and floor[unit(target)] >= floor[unit(module)]
    )
    assert against == [], "imports against the layer order:\n" + "\n".join(against)


def test_no_import_circles_between_modules():
    graph = import_graph()
    circles = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> None:  # Tarjan: strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert circles == [], f"import circles: {circles}"


def test_the_graph_sees_lazy_imports():
    graph = import_graph()
    assert "accomp.engine.session" in graph["accomp.engine.commands"]  # imported inside play()
    assert "accomp.cli.engine" in graph["accomp.cli.parser"]  # named in a string: _lazy("accomp.cli.engine", ...)


def test_only_the_cli_reads_argparse():
    """Below :mod:`accomp.cli` commands take typed settings: no module imports argparse or
    takes an ``argparse.Namespace``."""
    root = Path(accomp.__file__).parent
    found = []
    for file in sorted(root.rglob("*.py")):
        if file.relative_to(root).parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if "argparse" in names or (isinstance(node, ast.Attribute) and node.attr == "Namespace"):
                found.append(f"{file.relative_to(root.parent)}:{node.lineno}")
    assert found == [], "argparse below the CLI: " + ", ".join(found)
