"""Imports point one way (CONVENTIONS: layout).

`accomp.music`, `accomp.model`, `accomp.engine` and `accomp.distill` never import Qt, and
`accomp.config` (with the CLI's own modules) imports neither torch nor Qt. Each check runs in
a fresh interpreter whose import system refuses the forbidden packages, and records any
attempt to import them together with the module that made it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import accomp

QT = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "PySide2")
TORCH = ("torch",)
QT_FREE_PACKAGES = ("music", "model", "engine", "distill")
LIGHT_MODULES = ("accomp", "accomp.config", "accomp.errors", "accomp.cli")

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
