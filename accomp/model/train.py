"""`accomp teacher train`: seeded, logged, resumable denoiser training (CPU, CUDA, torchrun).

The run keeps a state file ``OUT.state.pt`` (weights, EMA, optimiser, step, RNG) written
atomically every ``--save-every`` steps and on Ctrl-C; starting the same command again
resumes from it. The final checkpoint holds the EMA weights and a header with the data
summary, the training record (steps, time, hardware, seed, command) and metrics.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from accomp.config import FrameSpec
from accomp.errors import CheckpointError
from accomp.model.checkpoint import load_run_state, run_state_path, save_run_state, save_teacher
from accomp.model.diffusion import edm_loss_weight, sample_training_sigma
from accomp.model.masks import MaskConfig, draw_shifts, make_cond, shift_chords, shift_keys
from accomp.music.chords import N_CHORDS
from accomp.music.chords import features as chord_features
from accomp.model.teacher import Teacher, TeacherConfig, count_parameters


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 4000
    batch: int = 32
    lr: float = 1e-3
    warmup: int = 300
    weight_decay: float = 0.01
    ema: float = 0.999
    seed: int = 0
    val_every: int = 250
    save_every: int = 250
    minutes: float | None = None  # stop early when the wall-clock budget is spent


@dataclass
class TrainData:
    """Windows as tensors, one style index each, plus the active key range per window."""

    x: torch.Tensor  # (N, W, R, 2, K) uint8
    beat: torch.Tensor  # (N, W) int16
    style: torch.Tensor  # (N,) long
    lo: torch.Tensor  # (N,) lowest active key
    hi: torch.Tensor  # (N,) highest active key
    chords: torch.Tensor  # (N, W) long chord label per frame (accomp.music.chords)

    @classmethod
    def from_windows(cls, windows, styles: tuple[str, ...]) -> "TrainData":
        x = torch.from_numpy(np.stack([windows.lead, windows.accomp], axis=2))
        active = x.amax(dim=(1, 2, 3)) > 0  # (N, K)
        keys = torch.arange(x.shape[-1])
        lo = torch.where(active, keys, x.shape[-1]).amin(dim=1)
        hi = torch.where(active, keys, -1).amax(dim=1)
        style = torch.tensor([styles.index(s) for s in windows.style], dtype=torch.long)
        return cls(x, torch.from_numpy(windows.beat_in_bar), style, lo, hi, torch.from_numpy(windows.chords.astype(np.int64)))

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device) -> "TrainData":
        """The windows on ``device`` (a GPU then gathers its own batches); ``lo``/``hi``
        stay on the CPU, where the transpositions are drawn."""
        return TrainData(self.x.to(device), self.beat.to(device), self.style.to(device), self.lo, self.hi, self.chords.to(device))


class Batcher:
    """Draws batches with every style equally likely, whatever its window count."""

    def __init__(self, data: TrainData, n_styles: int, g: torch.Generator) -> None:
        self.data, self.g = data, g
        style = data.style.cpu()
        counts = torch.bincount(style, minlength=n_styles).float()
        self.p = torch.where(counts > 0, 1.0 / counts.clamp(min=1), torch.zeros_like(counts))[style]

    def draw(self, batch: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        idx = torch.multinomial(self.p, batch, replacement=True, generator=self.g)
        d, di = self.data, idx.to(self.data.x.device)
        x = d.x[di].to(device).float() * 2 - 1
        chord = CHORD_TABLE.to(device)[d.chords[di].to(device)]  # (B, W, 24)
        return x, d.beat[di].long().to(device), d.style[di].to(device), d.lo[idx], d.hi[idx], chord


CHROMA_WEIGHT = 0.2
CHORD_TABLE = torch.from_numpy(chord_features(np.arange(N_CHORDS))).float()  # (N_CHORDS, 24)


def chroma_error(d: torch.Tensor, x0: torch.Tensor, fold: torch.Tensor) -> torch.Tensor:
    """L1 distance of the sounding pitch-class profile per frame and track, (B, T, R).

    On sparse rolls the squared error over all cells barely rewards getting the harmony
    right (most cells are off whatever the lead); this term does, directly.
    """
    def profile(x: torch.Tensor) -> torch.Tensor:
        mass = ((x[..., 1, :].clamp(-1, 1) + 1) / 2) @ fold  # (B, T, R, 12)
        return mass / (mass.sum(-1, keepdim=True) + 1.0)

    return (profile(d) - profile(x0)).abs().sum(-1)


def denoiser_loss(
    model: torch.nn.Module, x0: torch.Tensor, beat: torch.Tensor, style: torch.Tensor, mc: MaskConfig, g: torch.Generator,
    noise_g: torch.Generator | None = None, chord: torch.Tensor | None = None,
) -> torch.Tensor:
    """EDM-weighted squared error on the cells that are neither given nor hidden, plus a
    pitch-class profile term on the same frames. ``noise_g``: a generator on ``x0``'s
    device for the noise itself (on a GPU, drawing it on the CPU costs more than the step)."""
    base: Teacher = getattr(model, "module", model)  # unwrap DistributedDataParallel
    cfg = base.cfg
    cond = make_cond(x0, beat, style, len(cfg.styles), mc, g, chord if cfg.chords else None)
    sigma = sample_training_sigma(x0.shape[0], cfg.noise, g).to(x0.device)
    if noise_g is not None:
        noise = torch.randn(x0.shape, generator=noise_g, device=x0.device)
    else:
        noise = torch.randn(x0.shape, generator=g).to(x0.device)
    x = x0 + sigma.view(-1, 1, 1, 1, 1) * noise
    d = base.denoise(x, sigma, cond, net=model)
    target = (~cond.given[..., None, None] & cond.visible[..., None, None, None]).float()
    cells_per_track = x0.shape[-1] * x0.shape[-2]
    err = ((d - x0) ** 2 * target).sum(dim=(1, 2, 3, 4)) / (target.sum(dim=(1, 2, 3, 4)) * cells_per_track).clamp(min=1)
    frames = target[..., 0, 0]  # (B, T, R)
    chroma = (chroma_error(d, x0, base.fold) * frames).sum(dim=(1, 2)) / frames.sum(dim=(1, 2)).clamp(min=1)
    return (edm_loss_weight(sigma, cfg.noise.sigma_data) * err).mean() + CHROMA_WEIGHT * chroma.mean()


@torch.no_grad()
def validation_loss(model: Teacher, val: TrainData, mc: MaskConfig, device: torch.device, batches: int = 8) -> float:
    """Same loss on fixed validation batches (fixed seed: comparable across the run)."""
    g = torch.Generator().manual_seed(1234)
    batcher = Batcher(val, len(model.cfg.styles), g)
    losses = []
    for _ in range(batches):
        x0, beat, style, _, _, chord = batcher.draw(32, device)
        losses.append(denoiser_loss(model, x0, beat, style, mc, g, chord=chord).item())
    return float(np.mean(losses))


def lr_at(step: int, tc: TrainConfig) -> float:
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    progress = (step - tc.warmup) / max(1, tc.steps - tc.warmup)
    return tc.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def hardware() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()} (CUDA)"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def train_teacher(
    cfg: TeacherConfig,
    tc: TrainConfig,
    spec: FrameSpec,
    train: TrainData,
    val: TrainData,
    out: Path,
    data_summary: dict,
    *,
    device: torch.device,
    rank: int = 0,
    world: int = 1,
    final_metrics=None,
    init_weights: dict[str, torch.Tensor] | None = None,
) -> dict:
    """Train, write ``out`` (EMA weights + header) and return the header's training record."""
    torch.manual_seed(tc.seed + rank)
    g = torch.Generator().manual_seed(tc.seed * 1000 + rank)
    noise_g = None
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 matrix products
        noise_g = torch.Generator(device=device).manual_seed(tc.seed * 1000 + rank + 1)
        train, val = train.to(device), val.to(device)
    model = Teacher(cfg).to(device)
    if init_weights is not None:  # fine-tuning: start from an earlier teacher's weights
        missing, unexpected = model.load_state_dict(init_weights, strict=False)
        if unexpected or any(not k.startswith("chord_") for k in missing):  # only new chord layers may be missing
            raise CheckpointError(f"the --init weights do not fit this model ({(unexpected or missing)[0]})")
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.99))
    state_path = run_state_path(out)
    step, elapsed, history = 0, 0.0, []
    state = load_run_state(state_path, device, lambda s: s["model_config"] == cfg.to_dict() and s["train_config"]["seed"] == tc.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        g.set_state(state["rng"])
        if noise_g is not None and state.get("rng_noise") is not None:
            noise_g.set_state(state["rng_noise"].cpu())
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        if rank == 0:
            print(f"resuming from step {step} ({state_path})", file=sys.stderr)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    mc = MaskConfig()
    batcher = Batcher(train, len(cfg.styles), g)

    def save_state() -> None:
        if rank == 0:
            save_run_state(
                state_path, model=model.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), rng=g.get_state(),
                rng_noise=noise_g.get_state() if noise_g is not None else None,
                step=step, elapsed=elapsed, history=history, model_config=cfg.to_dict(), train_config=asdict(tc),
            )

    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    bar = tqdm(total=tc.steps, initial=step, desc="teacher", unit="step", disable=rank != 0, dynamic_ncols=True)
    t0 = time.perf_counter() - elapsed
    try:
        while step < tc.steps:
            if tc.minutes is not None and (time.perf_counter() - t0) / 60 >= tc.minutes:
                bar.write(f"time budget of {tc.minutes} min spent at step {step}")
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(step, tc)
            x0, beat, style, lo, hi, chord = batcher.draw(tc.batch, device)
            shift = draw_shifts(lo, hi, x0.shape[-1], mc.max_transpose, g)
            x0, chord = shift_keys(x0, shift), shift_chords(chord, shift)
            loss = denoiser_loss(net, x0, beat, style, mc, g, noise_g, chord=chord)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                decay = min(tc.ema, (1 + step) / (10 + step))
                torch._foreach_lerp_(ema_params, model_params, 1 - decay)
            step += 1
            elapsed = time.perf_counter() - t0
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if step % tc.val_every == 0 or step == tc.steps:
                vl = validation_loss(ema, val, mc, device)
                history.append({"step": step, "train_loss": round(loss.item(), 5), "val_loss": round(vl, 5), "seconds": round(elapsed, 1)})
                if rank == 0:
                    bar.write(json.dumps(history[-1]))
            if step % tc.save_every == 0:
                save_state()
    except KeyboardInterrupt:
        save_state()
        bar.close()
        raise
    bar.close()
    record = {
        "steps": step,
        "seconds": round(elapsed, 1),
        "hardware": hardware(),
        "world_size": world,
        "parameters": count_parameters(model),
        "train_config": asdict(tc),
        "history": history,
        "command": " ".join(["accomp", *sys.argv[1:]]) if sys.argv else "",
        "torch": torch.__version__,
    }
    if rank == 0:
        save_state()
        metrics = final_metrics(ema) if final_metrics is not None else {}
        save_teacher(ema, spec, out, data=data_summary, training=record, metrics=metrics)
        state_path.unlink(missing_ok=True)
    return record
