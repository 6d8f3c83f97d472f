"""The Linux bundle, when one is built (installers/linux/build.sh); skipped otherwise.

Quick checks of the unpacked build folder only; installers/linux/smoke.sh is the full test
(moved elsewhere, another user, render, distil, the window).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BUNDLE = Path(__file__).resolve().parents[1] / "build" / "accomp-linux-x86_64"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or not (BUNDLE / "accomp").is_file(),
                                reason="no Linux bundle built (installers/linux/build.sh)")  # fmt: skip


def test_bundle_has_the_models_where_the_source_tree_looks() -> None:
    internal = BUNDLE / "_internal"
    for name in ("resources/teachers/teacher.safetensors", "resources/planners/planner.safetensors",
                 "resources/presets/pop.safetensors", "resources/presets/chorale.safetensors"):  # fmt: skip
        assert (internal / name).is_file(), name
    for plugin in ("libqxcb.so", "libqoffscreen.so"):
        assert (internal / "PySide6/Qt/plugins/platforms" / plugin).is_file(), plugin
    assert (internal / "libportaudio.so.2").is_file()
    assert (BUNDLE / "accomp.desktop").is_file() and (BUNDLE / "accomp.png").is_file()


def test_bundle_runs_with_a_clean_environment(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    out = subprocess.run([str(BUNDLE / "accomp"), "--version"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("accomp ")
    # The window's "Distill new style" starts sys.executable -m accomp ...: the frozen entry accepts it.
    out = subprocess.run([str(BUNDLE / "accomp-bin"), "-m", "accomp", "--version"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr


def test_bundle_leaves_out_what_the_app_does_not_use() -> None:
    internal = BUNDLE / "_internal"
    assert not (internal / "scipy").exists() and not (internal / "scipy.libs").exists()  # accomp.listen.biquads
    assert not list((internal / "PySide6").glob("QtOpenGL*"))  # installers/rthook_qtopengl.py stands in
    assert not list(internal.glob("libcrypto.so*")) and not list(internal.glob("libQt6Network.so*"))
    icu_data = next((internal / "PySide6/Qt/lib").glob("libicudata.so.*"))
    assert icu_data.stat().st_size < 12_000_000  # trimmed by installers/linux/icu_data.py (32 MB whole)
