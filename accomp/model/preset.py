"""Style presets: a student as low-rank adapters over a shared teacher, in one file.

A preset file is safetensors holding the student's trained tensors (the LoRA adapters
and any tensor it retrained) and a JSON header: format, version, the style (name and mix
weights), the teacher it adapts (file name and content hash), the kv window, the
distillation settings and metrics. Loading finds the teacher by hash: beside the preset,
in the bundled ``resources/teachers``, or in the user's teacher folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from accomp.config import RESOURCES
from accomp.errors import CheckpointError, PresetError
from accomp.model.checkpoint import atomic_save_tensors, copy_file_atomically, file_hash, load_teacher, read_tensors
from accomp.model.student import Student, merge_lora

PRESET_FORMAT = "accomp-preset"
PRESET_VERSION = 1


def bundled_teachers() -> Path:
    return RESOURCES / "teachers"


def bundled_presets() -> Path:
    return RESOURCES / "presets"


def user_dir(kind: str) -> Path:
    """User data folder for 'presets' or 'teachers' (ACCOMP_DATA_DIR overrides the root)."""
    import platformdirs

    root = Path(os.environ.get("ACCOMP_DATA_DIR") or platformdirs.user_data_dir("accomp"))
    return root / kind


def trained_tensors(student: Student) -> dict[str, torch.Tensor]:
    """The tensors a preset stores: everything that requires grad (adapters, retrained parts)."""
    return {name: p.detach() for name, p in student.named_parameters() if p.requires_grad}


def save_preset(student: Student, teacher_path: str | os.PathLike, path: str | os.PathLike, *, style: dict, **extra: Any) -> None:
    teacher_path = Path(teacher_path)
    header = {
        "format": PRESET_FORMAT,
        "format_version": PRESET_VERSION,
        "style": style,
        "teacher": {"file": teacher_path.name, "hash": file_hash(teacher_path)},
        "kv_window": student.kv_window,
        "lora_rank": student.lora_rank,
        "lora_alpha": student.lora_alpha,
        "trained": sorted(trained_tensors(student)),
        **extra,
    }
    atomic_save_tensors(trained_tensors(student), header, path)


def keep_teacher(teacher_path: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Make sure ``folder`` holds a file with ``teacher_path``'s content, and return it.

    A user's preset names its teacher by content hash. When an update of the app replaces
    the bundled teacher, the presets the user distilled from the old one would no longer
    load; a copy in the user's teacher folder (written once per teacher, through a
    temporary file and a rename) keeps them playable.
    """
    source, folder = Path(teacher_path), Path(folder)
    digest = file_hash(source)
    if folder.is_dir():
        for path in sorted(folder.glob("*.safetensors")):
            if path.is_file() and file_hash(path) == digest:
                return path
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{source.stem}-{digest}.safetensors"
    copy_file_atomically(source, target)
    return target


def update_preset_header(path: str | os.PathLike, **changes: Any) -> None:
    """Rewrite a preset's header fields (atomically), keeping its tensors."""
    path = Path(path)
    try:
        header, tensors = read_tensors(path, PRESET_FORMAT, PRESET_VERSION)
    except CheckpointError as exc:
        raise PresetError(str(exc)) from None
    atomic_save_tensors(tensors, {**header, **changes}, path)


def find_teacher(header: dict, preset_path: Path) -> Path:
    info = header.get("teacher") or {}
    name, digest = info.get("file"), info.get("hash")
    if not name or not digest:
        raise PresetError(f"{preset_path}: header names no teacher")
    candidates = [preset_path.parent / name, bundled_teachers() / name, user_dir("teachers") / name]
    for folder in (preset_path.parent, bundled_teachers(), user_dir("teachers")):
        if folder.is_dir():
            candidates += sorted(folder.glob("*.safetensors"))
    for path in candidates:
        if path.is_file() and file_hash(path) == digest:
            return path
    raise PresetError(f"{preset_path}: its teacher '{name}' (hash {digest}) is not beside it, bundled or in {user_dir('teachers')}")


def load_preset(path: str | os.PathLike, device: str | torch.device = "cpu", *, merge: bool = True,
                quantize: bool | None = None) -> tuple[Student, dict]:
    """(student ready to stream, header). ``merge`` folds the adapters into the weights and
    freezes the student for streaming (``quantize``: see :meth:`Student.freeze_for_streaming`)."""
    path = Path(path)
    try:
        header, tensors = read_tensors(path, PRESET_FORMAT, PRESET_VERSION)
    except CheckpointError as exc:
        raise PresetError(str(exc)) from None
    try:
        teacher, _, _ = load_teacher(find_teacher(header, path))
    except CheckpointError as exc:
        raise PresetError(f"{path}: its teacher cannot be loaded ({exc})") from None
    try:
        student = Student.from_teacher(
            teacher, lora_rank=int(header["lora_rank"]), lora_alpha=float(header["lora_alpha"]), kv_window=int(header["kv_window"])
        )
        style = np.asarray(header["style"]["weights"], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as exc:
        raise PresetError(f"{path}: invalid header ({exc})") from None
    params = dict(student.named_parameters())
    for name, value in tensors.items():
        if name not in params or params[name].shape != value.shape:
            raise PresetError(f"{path}: tensor '{name}' does not fit its teacher")
        if not torch.isfinite(value).all():
            raise PresetError(f"{path}: tensor '{name}' contains NaN or infinity")
        with torch.no_grad():
            params[name].copy_(value)
    if style.shape != (len(student.cfg.styles) + 1,) or not np.isclose(style.sum(), 1.0) or (style < 0).any():
        raise PresetError(f"{path}: style weights {style.tolist()} do not fit the teacher's styles")
    thresholds = header.get("thresholds") or {}
    try:
        student.onset_threshold = float(thresholds.get("onset", 0.0))
        student.sustain_threshold = float(thresholds.get("sustain", 0.0))
        density = thresholds.get("density") or {}
        student.density_target = float(density.get("target", 0.0))
        student.density_gain = float(density.get("gain", Student.density_gain))
        student.density_memory = int(density.get("memory", Student.density_memory))
        if not (np.isfinite([student.density_target, student.density_gain]).all() and 0.0 <= student.density_target <= 88.0
                and 0.0 <= student.density_gain <= 1.0 and student.density_memory >= 1):  # fmt: skip
            raise ValueError
    except (TypeError, ValueError, AttributeError):
        raise PresetError(f"{path}: invalid decision thresholds {thresholds}") from None
    if merge:
        merge_lora(student.net)
    student = student.to(device).eval().requires_grad_(False)
    if merge:
        student.freeze_for_streaming(quantize=quantize)
    return student, header


def list_presets() -> list[tuple[Path, dict | None, str | None]]:
    """Bundled then user presets: (path, header or None, error or None)."""
    out = []
    for folder in (bundled_presets(), user_dir("presets")):
        for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
            try:
                header, _ = read_tensors(path, PRESET_FORMAT, PRESET_VERSION)
                out.append((path, header, None))
            except CheckpointError as exc:
                out.append((path, None, str(exc)))
    return out


def _names_a_file(name_or_path: str) -> bool:
    """Whether a preset is given by its file (a path or a .safetensors name), not by name."""
    return Path(name_or_path).suffix == ".safetensors" or os.sep in name_or_path


def bundled_name(name: str) -> bool:
    """Whether a bundled preset is called ``name`` (``--preset NAME`` finds it before the user's)."""
    return (bundled_presets() / f"{name}.safetensors").is_file()


def resolve_preset(name_or_path: str) -> Path:
    """A preset by file path or by name (bundled first, then the user's)."""
    path = Path(name_or_path)
    if _names_a_file(name_or_path):
        if not path.is_file():
            raise PresetError(f"{path}: no such preset file")
        return path
    for folder in (bundled_presets(), user_dir("presets")):
        candidate = folder / f"{name_or_path}.safetensors"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for p, _, _ in list_presets()})
    raise PresetError(f"no preset named '{name_or_path}' (known: {', '.join(known) or 'none'})")


def is_bundled(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one of the presets that come with accomp."""
    return Path(path).resolve().parent == bundled_presets().resolve()


def preset_to_change(name_or_path: str, how: str) -> Path:
    """The preset file a command rewrites: one of the user's, by name or file, or any file
    named by its path; a bundled preset named by its name is refused (it is shared by all who
    use this copy of accomp, and a maintainer rebuilding it names its file), the one-line error
    ending in ``how``, the way to go on."""
    path = resolve_preset(name_or_path)
    if not _names_a_file(name_or_path) and is_bundled(path):
        raise PresetError(f"'{name_or_path}' is a bundled preset, shared by all who use this copy of accomp: {how} "
                          f"(to change the bundled file itself, give its path: {path})")
    return path


def user_preset_path(name: str, flag: str) -> Path:
    """Where the user's preset called ``name`` (given with ``flag``) is kept: a file name of 1
    to 60 characters, not one a bundled preset has (``--preset NAME`` finds the bundled one first)."""
    stem = name.strip()
    if not stem or len(stem) > 60 or stem != Path(stem).name or stem.startswith(".") or stem.endswith(".safetensors"):
        raise PresetError(f"{flag} '{name}' cannot name a preset: give 1 to 60 characters, without '/' or a leading '.'")
    if bundled_name(stem):
        raise PresetError(f"'{stem}' is the name of a bundled preset: give yours another with {flag}")
    return user_dir("presets") / f"{stem}.safetensors"


# ----------------------------------------------------------------------------- its sound


def accomp_program(header: dict | None) -> int | None:
    """The General MIDI program (0-based) a preset names for its accompaniment (its header's
    ``"instruments": {"accomp": N}``), or None. PresetError when it names a wrong one."""
    entry = (header or {}).get("instruments") or {}
    program = entry.get("accomp") if isinstance(entry, dict) else None
    if program is None:
        return None
    if not isinstance(program, int) or isinstance(program, bool) or not 0 <= program < 128:
        raise PresetError(f"the preset's accompaniment instrument {program!r} is not a General MIDI program 0..127")
    return program


@dataclass(frozen=True)
class SoundOptions:
    """What `accomp preset sound` changes in a preset (None: keep it)."""

    preset: str  # a name or a file
    name: str | None = None  # the name the window and the recordings show
    accomp_program: int | None = None  # General MIDI program of the accompaniment
    bass: bool | None = None
    drums: str | None = None  # a pattern name, or off
    bass_program: int | None = None
    save_as: str | None = None  # a preset of the user's, this name, made from it with the changes


def set_sound(options: SoundOptions) -> int:
    """`accomp preset sound PRESET ...`: the sound a preset carries (its display name, the
    accompaniment's instrument, its band), written into its header; what is not given stays.
    With ``save_as``, into a copy: a preset of the user's (the way to change a bundled one)."""
    from dataclasses import asdict, replace

    from accomp.errors import SettingsError
    from accomp.music.band import band_from_header, drums_choice

    if options.save_as is not None:
        source, path = resolve_preset(options.preset), user_preset_path(options.save_as, "--save-as")
        if path.exists():
            raise PresetError(f"{path}: you have a preset of that name already; give --save-as another")
    else:
        source = path = preset_to_change(options.preset, "--save-as NAME keeps the sound as a preset of your own")
    header, tensors = read_tensors(source, PRESET_FORMAT, PRESET_VERSION)
    changes: dict[str, Any] = {}
    if options.name is not None:
        if not options.name.strip() or len(options.name) > 60:
            raise SettingsError("--name: give 1 to 60 characters")
        changes["style"] = {**header.get("style", {}), "name": options.name.strip()}
    if options.accomp_program is not None:
        if not 0 <= options.accomp_program < 128:
            raise SettingsError(f"--accomp-program {options.accomp_program}: give a General MIDI program 0..127")
        changes["instruments"] = {**(header.get("instruments") or {}), "accomp": options.accomp_program}
    band = band_from_header(header)
    if options.bass is not None:
        band = replace(band, bass=options.bass)
    if options.drums is not None:
        band = replace(band, drums=drums_choice(options.drums))
    if options.bass_program is not None:
        band = replace(band, bass_program=options.bass_program)  # Band checks its range
    if any(v is not None for v in (options.bass, options.drums, options.bass_program)):
        changes["band"] = {k: v for k, v in asdict(band).items() if v is not None}
    if options.save_as is not None:
        changes.setdefault("style", {**header.get("style", {}), "name": path.stem})  # unless --name gave one
        # its teacher kept in the user's folder too, as a distilled preset's is: an update that
        # replaces the bundled teacher leaves it playable
        keep_teacher(find_teacher(header, source), user_dir("teachers"))
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save_tensors(tensors, {**header, **changes}, path)
        header = {**header, **changes}
    elif changes:
        update_preset_header(path, **changes)
        header = {**header, **changes}
    band = band_from_header(header)
    program = accomp_program(header)
    parts = ", ".join(p for p in ("bass" if band.bass else "", f"{band.drums} drums" if band.drums else "") if p) or "no rhythm section"
    print(f"{path.name}: '{header.get('style', {}).get('name', path.stem)}', accompaniment on GM program "
          f"{'(the player chooses)' if program is None else program}, {parts}{'' if changes else ' (unchanged)'}")  # fmt: skip
    return 0
