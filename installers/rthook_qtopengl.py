"""PyInstaller runtime hook: stand-ins for PySide6.QtOpenGL and QtOpenGLWidgets, left out of the bundle.

pyqtgraph imports both when it is imported, for its optional OpenGL drawing (``useOpenGL``,
``enableExperimental``), which the app never turns on; their bindings take 9 MB. The
stand-ins are found only where the real modules are not (this finder comes last): their
names raise AttributeError (so ``from PySide6.QtOpenGL import X`` raises ImportError) and
``QOpenGLWidget``, which pyqtgraph subclasses at import, is a widget that refuses to be made.
"""

import importlib.abc
import importlib.machinery
import sys

_MISSING = ("PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets")
_WHY = "OpenGL drawing is not part of this bundle"


class _StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.machinery.ModuleSpec(name, self) if name in _MISSING else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        def missing(attr):
            raise AttributeError(f"{module.__name__}.{attr}: {_WHY}")

        module.__getattr__ = missing
        if module.__name__ == "PySide6.QtOpenGLWidgets":
            from PySide6.QtWidgets import QWidget

            class QOpenGLWidget(QWidget):
                def __init__(self, *args, **kwargs):
                    raise RuntimeError(f"QOpenGLWidget: {_WHY}")

            module.QOpenGLWidget = QOpenGLWidget


sys.meta_path.append(_StandIns())
