"""A benchmark's result as JSON (under ``benchmarks/results/`` by default), written to a
temporary file and renamed into place: an interrupted run never leaves half a file; and the
small pieces of output several benchmarks share."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from accomp.files import write_text


def write_result(path: str | os.PathLike, payload: dict) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(payload, indent=2) + "\n")
    return out


def machine(**versions: str) -> dict:
    """The machine a result was measured on: CPU, Python, the load average, and ``versions``."""
    return {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(), **versions,
            "load_average_1min": round(os.getloadavg()[0], 2)}  # fmt: skip


def print_table(rows: dict[str, dict], columns, *, width: int = 13, label: int = 24, heads=None) -> None:
    """One line per row name: its values in ``columns`` to three decimals (headed by ``heads``,
    default the column names cut to fit)."""
    heads = heads or [str(c)[: width - 1] for c in columns]
    print(f"{'':<{label}}" + "".join(f"{h:>{width}}" for h in heads))
    for name, row in rows.items():
        print(f"{name:<{label}}" + "".join(f"{row[c]:>{width}.3f}" for c in columns))
