"""A benchmark's result as JSON (under ``benchmarks/results/`` by default), written to a
temporary file and renamed into place: an interrupted run never leaves half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_result(path: str | os.PathLike, payload: dict) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
