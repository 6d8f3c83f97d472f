"""The app's log file, and the error dialog that names it.

The log lives in the user log folder (platformdirs), or under ``$ACCOMP_DATA_DIR/logs`` when
that is set (tests, portable installs). Errors a user can act on (:class:`AccompError`) are
shown as notices; anything unexpected is logged with its traceback and shown in a dialog
that says where the log is.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger("accomp.gui")
LOG_NAME = "accomp.log"


def log_dir() -> Path:
    data = os.environ.get("ACCOMP_DATA_DIR")
    if data:
        return Path(data) / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir("accomp"))


_handler: RotatingFileHandler | None = None


def setup_logging() -> Path:
    """Log the app's messages to a rotating file (1 MB x 3); returns its path. Idempotent."""
    global _handler
    path = log_dir() / LOG_NAME
    if _handler is not None and Path(_handler.baseFilename) == path:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger("accomp")
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    _handler = RotatingFileHandler(path, maxBytes=1 << 20, backupCount=3, encoding="utf-8")
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(_handler)
    root.setLevel(logging.INFO)
    return path


def log_path() -> Path:
    return Path(_handler.baseFilename) if _handler is not None else log_dir() / LOG_NAME


def error_dialog(parent: QWidget | None, message: str) -> QMessageBox:
    """A non-blocking error dialog that names the log file (it stays until closed)."""
    box = QMessageBox(QMessageBox.Icon.Critical, "accomp: something went wrong", message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    box.setInformativeText(f"The details are in the log file:\n{log_path()}")
    box.open()
    return box


def report_unexpected(parent: QWidget | None, exc: BaseException, doing: str) -> QMessageBox:
    """Log an unexpected exception with its traceback and show the error dialog."""
    log.error("unexpected error while %s:\n%s", doing, "".join(traceback.format_exception(exc)))
    return error_dialog(parent, f"An unexpected error happened while {doing}: {type(exc).__name__}: {exc}")


def install_excepthook(parent_of) -> None:
    """Exceptions that escape a Qt slot are logged and shown, instead of only printed.

    ``parent_of()`` gives the window to parent the dialog to (or None)."""
    previous = sys.excepthook

    def hook(kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        report_unexpected(parent_of(), value, "running the app")

    sys.excepthook = hook
