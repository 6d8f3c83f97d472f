"""DFSCD: data-free streaming consistency distillation of the teacher into a student.

Three separately named models take part: ``teacher`` (frozen, bidirectional, writes the
material and the ODE trajectories), ``student`` (online, causal, LoRA adapters trained)
and ``target`` (the EMA copy of the student that gives consistency targets).
"""

from __future__ import annotations

import copy
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from accomp.distill.losses import TERMS
from accomp.distill.trajectories import Songs, chunk_trajectory, student_rollout, write_songs
from accomp.model.checkpoint import load_run_state, run_state_path, save_run_state
from accomp.model.generate import SamplerSettings
from accomp.model.planner import Planner
from accomp.model.student import Student
from accomp.model.teacher import Teacher


@dataclass(frozen=True)
class DistillConfig:
    steps: int = 1500
    batch: int = 16
    chunk: int = 16  # frames per teacher trajectory
    levels: int = 12  # teacher ODE levels (Karras, rho 7) per trajectory
    guidance: float = 1.5
    lr: float = 1e-3
    ema: float = 0.95
    lora_rank: int = 8
    lora_alpha: float = 16.0
    objective: str = "consistency"  # or "regression": onto the teacher's clean chunk only
    regression_warmup: int = 100  # updates of regression that initialise the student
    rollout: float = 0.5  # share of trajectories whose context is the student's own rollout
    reuse: int = 4  # student updates per batch of teacher trajectories
    songs: int = 48  # teacher-written songs in the pool
    song_frames: int = 96
    refresh_songs: int = 300  # updates between new song pools
    w_latent: float = 1.0
    w_spectral: float = 0.5
    w_temporal: float = 0.5
    seed: int = 0
    minutes: float | None = None
    save_every: int = 50

    def weights(self) -> dict[str, float]:
        return {"latent": self.w_latent, "spectral": self.w_spectral, "temporal": self.w_temporal}


# --quick: a usable preset on a 2-core CPU within 15 minutes (12 of training, the rest
# writing songs and measuring the result); whichever of steps or minutes comes first.
QUICK = dict(steps=600, minutes=12.0, songs=32, levels=10, reuse=4, regression_warmup=60, refresh_songs=200)


@dataclass
class Batch:
    """Teacher trajectories for one window per example, reused for several updates."""

    lead: torch.Tensor  # (B, W, 2, K)
    past: torch.Tensor  # (B, W, 2, K): context, with the teacher's clean chunk at the end
    beat: torch.Tensor  # (B, W)
    style: torch.Tensor  # (B, S + 1)
    sigmas: torch.Tensor  # (levels + 1,)
    states: torch.Tensor  # (levels + 1, B, chunk, 2, K)
    chord: torch.Tensor | None = None  # (B, W, 24) the chord plan over the window


def make_batch(teacher: Teacher, student: Student, songs: Songs, cfg: DistillConfig, g: torch.Generator, use_rollout: bool) -> Batch:
    """1. draw prompts (songs the teacher wrote for the style mix) and a window in each;
    2. the context is the song's accompaniment or the student's own rollout over its lead,
    and the teacher runs its causal ODE for the window's last chunk."""
    W, T = student.kv_window, songs.lead.shape[1]
    idx = torch.randint(len(songs), (cfg.batch,), generator=g)
    songs = songs.take(idx)
    end = int(torch.randint(W, T + 1, (1,), generator=g)) if T > W else T
    window = slice(end - W, end)
    past = student_rollout(student, songs, end, g)[:, window] if use_rollout else songs.accomp[:, window]
    lead, beat, chord = songs.lead[:, window], songs.beat[:, window], songs.chord_at(window)
    sigmas, states = chunk_trajectory(teacher, lead, past, beat, songs.style, cfg.chunk, cfg.levels, cfg.guidance, g, chord)
    past = past.clone()
    past[:, -cfg.chunk :] = states[-1]
    return Batch(lead, past, beat, songs.style, sigmas, states, chord)


def distill_step(student: Student, target: Student, batch: Batch, cfg: DistillConfig, step: int, g: torch.Generator) -> tuple[torch.Tensor, dict]:
    """One update's loss (steps 1-2 are :func:`make_batch`)."""
    B, C, levels = batch.lead.shape[0], cfg.chunk, batch.states.shape[0] - 1
    regression = cfg.objective == "regression" or step < cfg.regression_warmup
    # 3. a level per example; the target is the EMA student one teacher step further down
    #    (the clean chunk at the bottom), or the clean chunk itself when regressing.
    i = torch.zeros(B, dtype=torch.long) if regression else torch.randint(0, levels, (B,), generator=g)
    ar = torch.arange(B)
    x = torch.zeros_like(batch.past)
    x[:, -C:] = batch.states[i, ar]
    sigma = batch.sigmas[i]
    pred = student.consistency(x, sigma, batch.lead, batch.past, batch.beat, batch.style, batch.chord)[:, -C:]
    clean = batch.states[-1]
    if regression:
        goal = clean
    else:
        with torch.no_grad():
            x_next = torch.zeros_like(batch.past)
            x_next[:, -C:] = batch.states[i + 1, ar]
            sigma_next = batch.sigmas[i + 1]
            bottom = sigma_next <= 0
            f_next = target.consistency(x_next, sigma_next.clamp(min=student.sigma_min), batch.lead, batch.past, batch.beat,
                                        batch.style, batch.chord)[:, -C:]
            goal = torch.where(bottom.view(-1, 1, 1, 1), clean, f_next)
    # 4. latent + spectral + temporal-difference terms, each switchable by its weight.
    terms = {name: fn(pred, goal) for name, fn in TERMS.items() if cfg.weights()[name] > 0}
    loss = sum(cfg.weights()[name] * value for name, value in terms.items())
    return loss, {name: round(v.item(), 5) for name, v in terms.items()}


def _all_reduce_grads(params: list[torch.nn.Parameter], world: int) -> None:
    for p in params:
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad /= world


class SavesShield:
    """Ctrl+C during a run, but not in the middle of writing its state: a SIGINT that comes
    while a save is on is held until the save is done, then raised (the GUI's cancel sends
    one; raised inside the write it could leave the write's temporary file behind). Only in
    the main thread and over Python's own Ctrl+C handler; elsewhere it does nothing."""

    def __init__(self) -> None:
        self._saving = False
        self._held = False
        self._before = None

    def arm(self) -> None:
        """From now on (until :meth:`disarm`), Ctrl+C waits for a save in progress."""
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._before = signal.signal(signal.SIGINT, self._interrupt)

    def disarm(self) -> None:
        if self._before is not None:
            signal.signal(signal.SIGINT, self._before)
            self._before = None

    def _interrupt(self, signum, frame) -> None:
        if self._saving:
            self._held = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def saving(self):
        self._saving = True
        try:
            yield
        finally:
            self._saving = False
        if self._held:
            self._held = False
            raise KeyboardInterrupt


def run_distill(
    teacher: Teacher,
    style: np.ndarray,
    cfg: DistillConfig,
    out: Path,
    *,
    device: torch.device,
    on_progress: Callable[[dict], None],
    rank: int = 0,
    world: int = 1,
    planner: Planner | None = None,
) -> tuple[Student, dict]:
    """Train the adapters; returns the online student and the training record. A
    chord-conditioned teacher needs the ``planner`` for its songs' chord plans.

    State (adapters, EMA target, optimiser, step, RNG) goes to ``OUT.state.pt`` every
    ``save_every`` updates and on Ctrl-C; the same command resumes from it.
    """
    torch.manual_seed(cfg.seed + rank)
    g = torch.Generator().manual_seed(cfg.seed * 7919 + rank)
    teacher = teacher.to(device).eval().requires_grad_(False)
    student = Student.from_teacher(teacher, lora_rank=cfg.lora_rank, lora_alpha=cfg.lora_alpha).to(device)
    target = copy.deepcopy(student).requires_grad_(False)
    params = [p for p in student.parameters() if p.requires_grad]
    ema_pairs = [(pt, ps) for pt, ps in zip(target.parameters(), student.parameters()) if ps.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    state_path = run_state_path(out)
    step, elapsed, history = 0, 0.0, []
    saved = load_run_state(state_path, device, lambda s: s.get("config") == asdict(replace(cfg, minutes=None)))
    if saved is not None:
        student.load_state_dict(saved["student"])
        target.load_state_dict(saved["target"])
        opt.load_state_dict(saved["opt"])
        g.set_state(saved["rng"])
        step, elapsed, history = saved["step"], saved["elapsed"], saved["history"]
        on_progress({"event": "resumed", "step": step})
    settings = SamplerSettings(steps=cfg.levels, guidance=cfg.guidance, seed=cfg.seed * 31 + step + rank)

    shield = SavesShield()

    def save_state() -> None:
        if rank == 0:
            with shield.saving():
                save_run_state(state_path, student=student.state_dict(), target=target.state_dict(), opt=opt.state_dict(),
                               rng=g.get_state(), step=step, elapsed=elapsed, history=history,
                               config=asdict(replace(cfg, minutes=None)))  # fmt: skip

    t0 = time.perf_counter() - elapsed
    session_start, first_step = time.perf_counter(), step
    songs = None
    batch = None
    try:
        shield.arm()
        while step < cfg.steps:
            if cfg.minutes is not None and (time.perf_counter() - t0) / 60 >= cfg.minutes:
                on_progress({"event": "budget", "step": step, "minutes": cfg.minutes})
                break
            if songs is None or step % cfg.refresh_songs == 0:
                on_progress({"event": "songs", "step": step, "count": cfg.songs})
                songs = write_songs(teacher, style, cfg.songs, cfg.song_frames, replace(settings, seed=settings.seed + step), device, planner)
            if batch is None or step % cfg.reuse == 0:
                use_rollout = step >= cfg.regression_warmup and float(torch.rand(1, generator=g)) < cfg.rollout
                batch = make_batch(teacher, student, songs, cfg, g, use_rollout)
            loss, terms = distill_step(student, target, batch, cfg, step, g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if world > 1:
                _all_reduce_grads(params, world)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            with torch.no_grad():  # the EMA target follows the online student
                for pt, ps in ema_pairs:
                    pt.lerp_(ps, 1 - cfg.ema)
            step += 1
            elapsed = time.perf_counter() - t0
            if step % 10 == 0 or step == cfg.steps:
                history.append({"step": step, "loss": round(loss.item(), 5), **terms, "seconds": round(elapsed, 1)})
            per_step = (time.perf_counter() - session_start) / (step - first_step)
            eta = per_step * (cfg.steps - step)
            if cfg.minutes is not None:
                eta = min(eta, max(0.0, cfg.minutes * 60 - elapsed))
            on_progress({"event": "progress", "step": step, "total": cfg.steps, "loss": round(loss.item(), 5), "terms": terms,
                         "elapsed_s": round(elapsed, 1), "eta_s": round(eta, 1)})
            if step % cfg.save_every == 0:
                save_state()
    except KeyboardInterrupt:
        save_state()
        raise
    finally:
        shield.disarm()
    save_state()
    record = {
        "steps": step,
        "seconds": round(elapsed, 1),
        "config": asdict(cfg),
        "history": history[-50:],
        "command": " ".join(["accomp", *sys.argv[1:]]),
        "torch": torch.__version__,
        "world_size": world,
    }
    return student, record


def jsonl_progress(event: dict) -> None:
    print(json.dumps(event), flush=True)
