"""accomp: a desktop band mate driven by a streaming, distilled accompaniment model."""

__version__ = "0.1.0"
