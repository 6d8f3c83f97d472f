"""What every platform's PyInstaller spec shares: the app's data, its modules, what to leave out.

The specs (installers/{linux,windows,macos}/accomp.spec) import this. The app finds its
models as in the source tree: accomp.model.preset puts ``resources`` two folders above
``accomp/model/preset.py``; frozen, that file is ``<bundle>/accomp/model/preset.pyc`` under
PyInstaller's ``sys._MEIPASS`` (``_internal`` beside the program), so the models go to
``resources`` there. A SoundFont given at build time goes to ``soundfonts``, where the
runtime hook ``rthook_soundfont.py`` points ``ACCOMP_SOUNDFONT`` at it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

ROOT = Path(__file__).resolve().parents[1]
ENTRY = str(ROOT / "installers" / "accomp_entry.py")
RUNTIME_HOOKS = [str(ROOT / "installers" / "rthook_soundfont.py"), str(ROOT / "installers" / "rthook_qtopengl.py")]

# Modules nothing in accomp uses (some are optional imports of its libraries).
EXCLUDES = [
    "tkinter", "_tkinter", "IPython", "jupyter_client", "notebook", "pytest", "_pytest", "pytestqt",
    "matplotlib",  # optional plotting in music21.graph and pyqtgraph's exporters
    # librosa is a test dependency only (accomp.listen.filterbanks has the two filter banks the
    # app used it for); numba (and its LLVM) is an optional speed-up in pyqtgraph.
    "librosa", "numba", "llvmlite", "sklearn",
    # SciPy (80 MB bundled) is a test dependency only too (accomp.listen.biquads has the filters
    # the app used it for); pyqtgraph, music21 and torch import it only in functions the app never calls.
    "scipy",
    "PIL",  # Pillow: optional image I/O in pyqtgraph and music21
    "tensorboard", "torch.utils.tensorboard", "torch.testing._internal.distributed",
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuick3D",
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtWebChannel",
    "PySide6.QtNetwork", "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtDesigner",
    "PySide6.QtMultimedia", "PySide6.QtPdf", "PySide6.Qt3DCore", "PySide6.QtCharts",
    "PySide6.QtDataVisualization", "PySide6.QtHelp", "PySide6.QtUiTools", "PySide6.QtXml",
    "PySide6.QtConcurrent", "PySide6.QtPrintSupport", "PySide6.QtSpatialAudio",
    # PySide6's OpenGL bindings (9 MB): pyqtgraph imports them when it is imported, for the
    # OpenGL drawing the app never turns on; the runtime hook rthook_qtopengl.py stands in.
    "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets",
    # ssl and _hashlib (OpenSSL's libcrypto and libssl, 5 MB): the app opens no network
    # connection (the standard library, requests and urllib3 import ssl only where it is
    # there) and hashlib falls back on Python's own hashes. sqlite3 (SQLite): only torch's
    # profiler reads a database, nvprof's traces.
    "ssl", "_ssl", "_hashlib", "sqlite3", "_sqlite3",
    # What torch imports only to compile or package models, which the app never does (4 MB in
    # the archive): networkx (torch.compile's partitioner), jinja2 (its code templates),
    # fsspec (distributed checkpoints), setuptools (building C++ extensions); and matplotlib's
    # mpl_toolkits and pydoc's help topics.
    "networkx", "jinja2", "markupsafe", "fsspec", "setuptools", "distutils", "pkg_resources",
    "mpl_toolkits", "pydoc_data",
    # Python's bindings to GNU readline (GPL-3.0) and Berkeley DB (Sleepycat): the interactive
    # prompt and dbm, which the app never uses; left out so that no GPL-only library is bundled.
    "readline", "_dbm", "dbm.ndbm", "_gdbm", "dbm.gnu",
]  # fmt: skip

# Files the hooks collect that the app never loads (paths inside the bundle, "/"-separated).
DROP_PREFIXES = (
    "torch/include/", "torch/test/", "torch/share/",  # C++ headers, tests, CMake files
    "PySide6/Qt/translations/", "PySide6/translations/",  # Qt's own UI translations (the app is English only)
    "PySide6/Qt/qml/", "PySide6/qml/", "PySide6/Qt/metatypes/", "PySide6/include/", "PySide6/typesystems/",
    "PySide6/scripts/", "PySide6/glue/", "PySide6/doc/", "PySide6/Qt/libexec/",
)  # fmt: skip
# The dist-info folders' RECORD files (every installed file with its hash; music21's alone is
# 0.8 MB): only uninstalling and importlib.metadata.files() read them, never the app.
DROP_METADATA = ("RECORD",)
KEEP = {"torch/bin/torch_shm_manager"}  # 'import torch' checks that it is there (Linux, macOS)


def _torch_modules_reading_their_source() -> list[str]:
    """torch's config modules (torch._dynamo.config, ...): torch.utils._config_module reads
    their source when they are imported (torch.optim's optimizers import torch._dynamo)."""
    root = Path(importlib.util.find_spec("torch").origin).parent
    return [
        ".".join(("torch", *path.relative_to(root).with_suffix("").parts))
        for path in root.rglob("*.py")
        if "testing" not in path.parts and "install_config_module(" in path.read_text(errors="replace")
    ]


# PyInstaller's torch hook keeps every torch module twice, compiled in the archive and as its
# .py source beside it (35 MB), for TorchScript, which reads Python source. The app only
# traces its student (torch.jit.trace, accomp.model.student): the source of the modules that
# tracing and the traced layers come from stays, and that of the config modules; the rest
# is kept compiled only.
MODULE_COLLECTION_MODE = {
    "torch": "pyz",
    **dict.fromkeys(("torch.jit", "torch.nn", "torch.ao", "torch._jit_internal", "torch.functional"), "pyz+py"),
    **dict.fromkeys(_torch_modules_reading_their_source(), "pyz+py"),
}


def datas(soundfont: str | None) -> list[tuple[str, str]]:
    found = [(str(ROOT / "resources"), "resources")]
    # music21's Bach chorales, for '--corpus chorales' (accomp.music.chorales finds them in music21).
    found += collect_data_files("music21", includes=["corpus/bach/*"])
    if soundfont and Path(soundfont).is_file():
        found.append((soundfont, "soundfonts"))
    return found


def hiddenimports() -> list[str]:
    # cli.py imports each command's module by name (importlib), which analysis cannot see.
    return collect_submodules("accomp")


def dest(entry) -> str:
    return entry[0].replace(os.sep, "/")


def keep(entry) -> bool:
    """False for the files no platform's bundle needs (DROP_PREFIXES, torch's other programs,
    the dist-info files in DROP_METADATA)."""
    path = dest(entry)
    if path in KEEP:
        return True
    folder, _, name = path.rpartition("/")
    if folder.endswith(".dist-info") and name in DROP_METADATA:
        return False
    return not (path.startswith(DROP_PREFIXES) or path.startswith("torch/bin/"))
