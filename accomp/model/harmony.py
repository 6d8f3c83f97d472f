"""How a preset decides its harmony: the chord planner it follows and the decision-time guard.

A preset distilled from a chord-conditioned teacher records, in its header's ``harmony``,
the planner file it was distilled with (name and hash) and the guard strength it was
calibrated with. :func:`load_harmony` finds that planner (the bundled folder, then the
user's planner folder, then beside the preset) and refuses one that does not match the
teacher with a one-line :class:`~accomp.errors.CheckpointError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from accomp.errors import CheckpointError, SettingsError
from accomp.model.planner import Guard, Planner

DEFAULT_GUARD = 1.0  # threshold offset (cells in [-1, 1]) for notes off the planned chord


@dataclass
class Harmony:
    """The planner and guard a stream runs with (``planner`` None: no plan, as before)."""

    planner: Planner | None
    guard: Guard | None
    planner_file: str = ""

    def record(self) -> dict:
        """What a preset header keeps of it."""
        from accomp.model.checkpoint import file_hash

        if self.planner is None:
            return {}
        return {"planner": {"file": Path(self.planner_file).name, "hash": file_hash(self.planner_file)},
                "guard": self.guard.strength if self.guard is not None else 0.0}  # fmt: skip


def guard_of(strength: float, source: str = "--guard") -> Guard | None:
    """The guard of ``strength`` (0: none, the guard off); ``source`` names where a strength
    that is negative or not a number came from in the one-line error."""
    if not (math.isfinite(strength) and strength >= 0):
        raise SettingsError(f"{source}: the guard's strength must be 0 (off) or more, got {strength:g}")
    return Guard(strength) if strength > 0 else None


def planner_folders(preset_path: Path | None = None) -> list[Path]:
    from accomp.model.planner_train import bundled_planner
    from accomp.model.preset import user_dir

    folders = [bundled_planner().parent, user_dir("planners")]
    return folders + ([preset_path.parent] if preset_path is not None else [])


def open_harmony(planner_file: str | Path | None, styles: tuple[str, ...], guard: float, *, chords: bool) -> Harmony:
    """The planner file (default: the bundled one) for a teacher with ``styles``; none at all
    when the teacher is not chord-conditioned."""
    from accomp.model.planner_train import bundled_planner, load_planner

    if not chords:
        return Harmony(None, None)
    path = Path(planner_file) if planner_file else bundled_planner()
    planner, _ = load_planner(path, styles)
    return Harmony(planner, guard_of(guard), str(path))


def load_harmony(header: dict, preset_path: Path, styles: tuple[str, ...], *, chords: bool, guard: float | None = None,
                 planner_file: str | Path | None = None) -> Harmony:
    """The harmony a preset header names (its planner found by content hash); ``guard``
    overrides its strength (0 = off), ``planner_file`` its planner."""
    from accomp.model.checkpoint import file_hash
    from accomp.model.planner_train import load_planner

    info = header.get("harmony") or {}
    if not chords:
        return Harmony(None, None)
    strength = guard
    if guard is None:
        try:
            strength = float(info.get("guard", 0.0))
        except (TypeError, ValueError):
            raise CheckpointError(f"{preset_path}: its guard strength {info.get('guard')!r} is not a number") from None
    checked = guard_of(strength, "--guard" if guard is not None else f"{preset_path}: its header")  # before the planner is read
    if planner_file:
        planner, _ = load_planner(Path(planner_file), styles)
        return Harmony(planner, checked, str(planner_file))
    wanted = info.get("planner") or {}
    name, digest = wanted.get("file"), wanted.get("hash")
    if not name or not digest:
        raise CheckpointError(f"{preset_path}: its teacher follows a chord plan but the preset names no planner")
    folders = planner_folders(preset_path)
    candidates = [folder / name for folder in folders]
    candidates += [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.safetensors"))]
    for candidate in candidates:
        if candidate.is_file() and file_hash(candidate) == digest:
            planner, _ = load_planner(candidate, styles)
            return Harmony(planner, checked, str(candidate))
    raise CheckpointError(f"{preset_path}: its chord planner '{name}' (hash {digest}) is not in "
                          f"{', '.join(str(f) for f in folders)}")
