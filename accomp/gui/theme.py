"""A dark stage theme: low glare, high contrast, big numbers readable from the piano stool."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#15171c"
PANEL = "#1e2128"
RAISED = "#2a2e37"
TEXT = "#e6e6e6"
MUTED = "#8a909c"
ACCENT = "#f0a830"  # amber: the lead, the beat, what is "on"
ACCOMP = "#3cc8e6"  # cyan: the accompaniment
DANGER = "#e5484d"
GOOD = "#46a758"

STYLESHEET = f"""
QWidget {{ color: {TEXT}; font-size: 11pt; }}
QWidget:disabled, QRadioButton:disabled, QCheckBox:disabled {{ color: #6b707c; }}
QMainWindow, QDialog {{ background: {BACKGROUND}; }}
QDockWidget::title {{ background: {PANEL}; padding: 4px 8px; font-weight: bold; }}
QGroupBox {{ border: 1px solid {RAISED}; border-radius: 6px; margin-top: 14px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: {MUTED}; }}
QPushButton, QToolButton {{ background: {RAISED}; border: 1px solid #3a3f4b; border-radius: 5px; padding: 5px 12px; }}
QPushButton:hover, QToolButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked, QToolButton:checked {{ background: {ACCENT}; color: #111; }}
QPushButton:disabled {{ color: #5c616c; }}
QPushButton#playButton {{ font-size: 16pt; font-weight: bold; min-width: 84px; min-height: 36px; }}
QPushButton#playButton:checked {{ background: {GOOD}; color: #fff; }}
QPushButton#panicButton {{ background: #5a1f22; font-weight: bold; }}
QPushButton#recordButton:checked {{ background: {DANGER}; color: #fff; }}
QLabel#bigTempo {{ font-size: 34pt; font-weight: bold; color: {TEXT}; }}
QLabel#bigBeat {{ font-size: 34pt; font-weight: bold; color: {ACCENT}; min-width: 110px; }}
QLabel#caption {{ color: {MUTED}; font-size: 9pt; }}
QLabel#bigChord {{ font-size: 34pt; font-weight: bold; color: {ACCOMP}; min-width: 120px; }}
QLabel#nextChord {{ font-size: 13pt; color: {MUTED}; }}
QLabel#keyLabel {{ font-size: 16pt; color: {ACCOMP}; }}
QLabel#heardPitch {{ font-size: 18pt; font-weight: bold; color: {ACCENT}; }}
QLabel#heardTempo {{ font-size: 18pt; font-weight: bold; }}
QLabel#listenStatus {{ font-weight: bold; }}
QLabel#latencyStats {{ font-size: 9pt; }}
QFrame#notice {{ background: #4a3a12; border: 1px solid {ACCENT}; border-radius: 5px; }}
QFrame#notice[level="error"] {{ background: #4a1c1f; border-color: {DANGER}; }}
QListWidget {{ background: {PANEL}; border: none; }}
QListWidget::item {{ border-bottom: 1px solid {RAISED}; }}
QListWidget::item:selected {{ background: #33404f; }}
QComboBox, QSpinBox, QDoubleSpinBox, QLineEdit {{ background: {PANEL}; border: 1px solid #3a3f4b; border-radius: 4px; padding: 3px; }}
QRadioButton::indicator {{ width: 12px; height: 12px; border-radius: 7px; border: 1px solid {MUTED}; background: {PANEL}; }}
QRadioButton::indicator:checked {{ border-color: {ACCENT};
    background: qradialgradient(cx: 0.5, cy: 0.5, radius: 0.5, fx: 0.5, fy: 0.5, stop: 0 {ACCENT}, stop: 0.45 {ACCENT}, stop: 0.6 {PANEL}); }}
QRadioButton::indicator:disabled {{ border-color: #4a4f5b; }}
QProgressBar {{ border: 1px solid #3a3f4b; border-radius: 4px; text-align: center; background: {PANEL}; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QTabBar::tab {{ background: {PANEL}; padding: 6px 14px; }}
QTabBar::tab:selected {{ background: {RAISED}; }}
"""


def apply_theme(app: QApplication) -> None:
    """Fusion with a dark palette and the stylesheet above; pyqtgraph in the same colours."""
    import pyqtgraph as pg

    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, BACKGROUND), (QPalette.ColorRole.WindowText, TEXT),
        (QPalette.ColorRole.Base, PANEL), (QPalette.ColorRole.AlternateBase, RAISED),
        (QPalette.ColorRole.Text, TEXT), (QPalette.ColorRole.Button, RAISED),
        (QPalette.ColorRole.ButtonText, TEXT), (QPalette.ColorRole.Highlight, ACCENT),
        (QPalette.ColorRole.HighlightedText, "#111111"), (QPalette.ColorRole.ToolTipBase, PANEL),
        (QPalette.ColorRole.ToolTipText, TEXT), (QPalette.ColorRole.PlaceholderText, MUTED),
    ):  # fmt: skip
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)
    font = QFont(app.font())
    font.setPointSize(11)
    app.setFont(font)
    app.setStyleSheet(STYLESHEET)
    pg.setConfigOptions(background=PANEL, foreground=MUTED, antialias=False)
