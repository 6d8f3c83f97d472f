"""Model files: safetensors weights plus a JSON header, validated on load.

The header lives in the safetensors metadata under the key ``accomp`` and always holds
``format`` (what the file is), ``format_version``, ``frame_spec`` and ``model_config``;
training commands add ``data`` (summary of what they read), ``training`` (steps, time,
hardware, seed, command) and ``metrics``. Files are written to a temporary name beside
the target and moved into place, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from accomp.config import FrameSpec
from accomp.errors import CheckpointError
from accomp.files import replacing
from accomp.model.teacher import Teacher, TeacherConfig

HEADER_KEY = "accomp"
TEACHER_FORMAT = "accomp-teacher"
TEACHER_VERSION = 1


def copy_file_atomically(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy ``source`` to ``target`` through a temporary file beside it and a rename."""
    with replacing(target) as tmp:
        shutil.copyfile(source, tmp)


def atomic_save_tensors(tensors: dict[str, torch.Tensor], header: dict[str, Any], path: str | os.PathLike) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    try:
        with replacing(path) as tmp:
            save_file(tensors, str(tmp), metadata={HEADER_KEY: json.dumps(header, sort_keys=True)})
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot write ({exc.strerror or exc})") from None


def run_state_path(out: str | os.PathLike) -> Path:
    """Where a resumable run (teacher training, distillation) that writes ``out`` keeps its state."""
    out = Path(out)
    return out.with_name(out.name + ".state.pt")


def load_run_state(path: Path, device, same_settings: Callable[[dict], bool]) -> dict | None:
    """The saved state of a resumable run, None when there is none. Tensors and plain data
    only (a planted pickle never runs); CheckpointError when the file is torn or foreign, or
    ``same_settings(state)`` says it was made with other settings."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # a torn or foreign state file: say so, do not guess
        raise CheckpointError(f"{path}: cannot resume ({type(exc).__name__}); delete it to start over") from None
    if not same_settings(state):
        raise CheckpointError(f"{path}: was made with other settings; delete it to start over")
    return state


def save_run_state(path: Path, **state) -> None:
    """Save a resumable run's state (atomically: a run killed while saving resumes from the last one)."""
    with replacing(path) as tmp:
        torch.save(state, tmp)


def read_tensors(path: str | os.PathLike, expected_format: str, max_version: int) -> tuple[dict, dict[str, torch.Tensor]]:
    """Header and tensors of an accomp model file, or a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable model file (truncated or not safetensors: {reason})") from None
    if HEADER_KEY not in meta:
        raise CheckpointError(f"{path}: not an accomp model file (no '{HEADER_KEY}' header)")
    try:
        header = json.loads(meta[HEADER_KEY])
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: corrupt header (not JSON)") from None
    fmt = header.get("format")
    if fmt != expected_format:
        raise CheckpointError(f"{path}: is a '{fmt}' file, expected '{expected_format}'")
    version = header.get("format_version")
    if not isinstance(version, int) or version > max_version or version < 1:
        raise CheckpointError(f"{path}: format version {version} is not supported (this accomp reads up to {max_version})")
    return header, tensors


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def save_teacher(model: Teacher, spec: FrameSpec, path: str | os.PathLike, **extra: Any) -> None:
    header = {
        "format": TEACHER_FORMAT,
        "format_version": TEACHER_VERSION,
        "frame_spec": spec.to_dict(),
        "model_config": model.cfg.to_dict(),
        **extra,
    }
    atomic_save_tensors(model.state_dict(), header, path)


def load_teacher(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Teacher, FrameSpec, dict]:
    """(model in eval mode, frame spec, header). Validates config and every tensor."""
    header, tensors = read_tensors(path, TEACHER_FORMAT, TEACHER_VERSION)
    try:
        spec = FrameSpec.from_dict(header["frame_spec"])
        cfg = TeacherConfig.from_dict(header["model_config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid header ({exc})") from None
    if cfg.n_keys != spec.n_keys:
        raise CheckpointError(f"{path}: model has {cfg.n_keys} keys but its frame spec {spec.n_keys}")
    model = Teacher(cfg)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or extra or wrong:
        detail = (missing and f"missing {missing[:3]}") or (extra and f"unexpected {extra[:3]}") or f"wrong shape {wrong[:3]}"
        raise CheckpointError(f"{path}: weights do not match the model config ({detail})")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    if not all(torch.isfinite(v).all() for v in tensors.values() if v.is_floating_point()):
        raise CheckpointError(f"{path}: weights contain NaN or infinity")
    return model.to(device).eval(), spec, header
