"""Where the models run: the torch device a command asked for, and the set-up of a run
under ``torchrun`` (one process per GPU, or several CPU processes with gloo)."""

from __future__ import annotations

import os

import torch

from accomp.errors import SettingsError


def pick_device(name: str | None = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise SettingsError(f"unknown torch device '{name}' ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError(f"torch device '{name}' asked for, but this torch build or machine has no CUDA")
    return device


def init_distributed(name: str | None) -> tuple[torch.device, int, int]:
    """(device, world size, rank): under torchrun, joins the process group and takes this
    process's own GPU; alone, just the device asked for."""
    device = pick_device(name)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    return device, world, rank
