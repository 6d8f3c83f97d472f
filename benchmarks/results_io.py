"""A benchmark's result as JSON (under ``benchmarks/results/`` by default), written to a
temporary file and renamed into place: an interrupted run never leaves half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from accomp.files import write_text


def write_result(path: str | os.PathLike, payload: dict) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(payload, indent=2) + "\n")
    return out
