"""The desktop app: a PySide6 + pyqtgraph shell over the headless engine.

Nothing here does what the CLI cannot; the engine, models and distillation never import Qt.
Engine threads never touch a widget: the window reads the engine's snapshots on a timer.
"""
