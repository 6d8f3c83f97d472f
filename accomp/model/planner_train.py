"""Training, saving, loading and measuring the chord planner (`accomp planner train | eval`).

Training reads corpora with chord labels (POP909's annotations, template labels for the
rest), turns every piece into per-beat features once (key-relative, so transposition adds
nothing), and trains the bidirectional planner first, then the causal one on the labels
plus the bidirectional one's beliefs (a KL term: the offline model that sees the future
teaches the online one, as in ReaLchords). Seeded; the checkpoint header keeps the data
summary, the training record and the validation accuracies.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from accomp.config import CorpusChoice
from accomp.errors import CheckpointError, SettingsError
from accomp.model.checkpoint import atomic_save_tensors, file_hash, read_tensors
from accomp.model.planner import LIVE_TRACKER, TRAINING_TRACKER, Planner, PlannerConfig, TrackerRecipe, beat_lead, decide, features
from accomp.music.chords import N_CHORDS, NO_CHORD, transpose
from accomp.music.frames import Piece

PLANNER_FORMAT = "accomp-planner"
PLANNER_VERSION = 2  # 2: merged files (several pairs of networks); 1 is read as one pair
PLANNER_FILE = "planner.safetensors"  # the bundled planner in resources/planners
KL_WEIGHT = 1.0

# _SHIFT[s][j] = transpose(j, s): a distribution p over chords in one key frame is
# r = p[..., _SHIFT[-s % 12]] in a frame s semitones higher.
_SHIFT = torch.stack([torch.from_numpy(transpose(np.arange(N_CHORDS), s)) for s in range(12)])


@dataclass
class BeatData:
    """One piece as the planners see it."""

    causal: np.ndarray  # (N, F)
    whole: np.ndarray  # (N, F)
    causal_target: np.ndarray  # (N,) key-relative chord (causal key frame)
    whole_target: np.ndarray  # (N,) key-relative chord (piece key frame)
    shift: np.ndarray  # (N,) whole tonic - causal tonic (mod 12)
    chords: np.ndarray  # (N,) absolute chord per beat
    tonic: dict  # "causal" / "whole" -> (N,) the key frame's tonic per beat
    beat_lead: object


def piece_beats(piece: Piece, styles: tuple[str, ...], tracker: TrackerRecipe = LIVE_TRACKER) -> BeatData:
    """One labelled piece as the planners read it; its causal features from the key tracker
    ``tracker`` (training: :data:`TRAINING_TRACKER`; measuring: the live one)."""
    from accomp.music.labels import piece_chords

    style = np.zeros(len(styles) + 1)
    style[styles.index(piece.style) if piece.style in styles else -1] = 1.0
    bl = beat_lead(piece.tracks["lead"], piece.beat_in_bar, piece.spec.steps_per_beat, piece.spec.lowest_pitch, tracker=tracker)
    starts = np.flatnonzero(np.diff(bl.beats, prepend=-1))
    chords = piece_chords(piece)[starts].astype(np.int64)
    fc, tc = features(bl, style, causal=True)
    fw, tw = features(bl, style, causal=False)
    return BeatData(fc, fw, transpose(chords, -tc), transpose(chords, -tw), (tw - tc) % 12, chords, {"causal": tc, "whole": tw}, bl)


def _batch(data: list[BeatData], length: int, batch: int, rng: np.random.Generator, kind: str) -> tuple[torch.Tensor, ...]:
    """Random crops of ``length`` beats (shorter pieces padded, target -1 = ignore)."""
    F_ = data[0].causal.shape[1]
    x = np.zeros((batch, length, F_), np.float32)
    y = np.full((batch, length), -1, np.int64)
    shift = np.zeros((batch, length), np.int64)
    xw = np.zeros((batch, length, F_), np.float32)
    for i in range(batch):
        d = data[rng.integers(len(data))]
        n = len(d.causal)
        s = int(rng.integers(0, max(1, n - length + 1)))
        e = min(n, s + length)
        x[i, : e - s] = getattr(d, kind)[s:e]
        xw[i, : e - s] = d.whole[s:e]
        y[i, : e - s] = getattr(d, f"{kind}_target")[s:e]
        shift[i, : e - s] = d.shift[s:e]
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(shift), torch.from_numpy(xw)


def _fit(net, data, *, kind: str, minutes: float, steps: int, seed: int, log, teacher=None, batch: int = 32, length: int = 64) -> dict:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
    start, step, losses = time.monotonic(), 0, []
    deadline = start + minutes * 60
    net.train()
    while step < steps and time.monotonic() < deadline:
        lr = 2e-3 * 0.5 * (1 + math.cos(math.pi * min(1.0, (time.monotonic() - start) / (minutes * 60))))
        for group in opt.param_groups:
            group["lr"] = max(lr, 1e-5)
        x, y, shift, xw = _batch(data, length, batch, rng, kind)
        logits, _ = net(x)
        loss = F.cross_entropy(logits.reshape(-1, N_CHORDS), y.reshape(-1), ignore_index=-1)
        if teacher is not None:
            with torch.no_grad():
                p = teacher(xw)[0].softmax(-1)  # (B, N, C) in the piece's key frame
                idx = _SHIFT[(-shift) % 12]  # (B, N, C)
                target = torch.gather(p, -1, idx)
            mask = (y >= 0).float()
            kl = (target * (target.clamp_min(1e-8).log() - logits.log_softmax(-1))).sum(-1)
            loss = loss + KL_WEIGHT * (kl * mask).sum() / mask.sum().clamp_min(1)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 200 == 0:
            log(f"{kind}: step {step}, loss {np.mean(losses[-200:]):.3f}, {time.monotonic() - start:.0f} s")
    net.eval()
    return {"steps": step, "seconds": round(time.monotonic() - start, 1), "final_loss": round(float(np.mean(losses[-200:])), 4) if losses else None}


@torch.inference_mode()
def accuracies(planner: Planner, data: list[BeatData]) -> dict:
    """Exact chord accuracy per beat (beats whose label is a chord) of the live decision (every
    member's causal planner: :meth:`Planner.live_scores`), of the first pair's bidirectional
    planner (the one the distillation plans with) and of a
    finished melody's plan by all the file's networks (:meth:`Planner.song_plan`)."""
    hits = {"causal": 0, "bidirectional": 0, "song": 0}
    total = 0
    for d in data:
        named = d.chords != NO_CHORD
        total += int(named.sum())
        for name, kind in (("causal", "causal"), ("bidirectional", "whole")):
            x = torch.from_numpy(getattr(d, kind))[None]
            scores = planner.live_scores(x) if kind == "causal" else planner.whole(x)[0][0].numpy()
            pred = decide(scores, d.tonic[kind], d.beat_lead, causal=kind == "causal")
            hits[name] += int((pred == d.chords)[named].sum())
        hits["song"] += int((song_chords(planner, d) == d.chords)[named].sum())
    return {k: round(v / max(total, 1), 4) for k, v in hits.items()} | {"beats": total}


def song_chords(planner: Planner, d: BeatData) -> np.ndarray:
    """(N,) the chord per beat of :meth:`Planner.song_plan` for one piece's beats."""
    if not len(d.chords):
        return d.chords
    style = d.whole[0, -(len(planner.cfg.styles) + 1) :]  # the features end with the style mix
    return planner.song_beats(d.beat_lead, style)[0]


# ----------------------------------------------------------------------------- files


def save_planner(planner: Planner, path: str | os.PathLike, **extra) -> None:
    header = {"format": PLANNER_FORMAT, "format_version": PLANNER_VERSION, "model_config": planner.cfg.to_dict(), **extra}
    atomic_save_tensors(planner.state_dict(), header, path)


def load_planner(path: str | os.PathLike, styles: tuple[str, ...] | None = None) -> tuple[Planner, dict]:
    """A planner file, refused with a one-line CheckpointError when it is not one, is damaged,
    or does not match ``styles`` (its teacher's)."""
    header, tensors = read_tensors(path, PLANNER_FORMAT, PLANNER_VERSION)
    try:
        cfg = PlannerConfig.from_dict(header["model_config"])
        planner = Planner.create(cfg)
        planner.load_state_dict(tensors)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a usable planner ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    if cfg.n_chords != N_CHORDS:
        raise CheckpointError(f"{path}: planner has {cfg.n_chords} chords, this accomp's vocabulary has {N_CHORDS}")
    if styles is not None and tuple(styles) != cfg.styles:
        if sorted(styles) != sorted(cfg.styles):
            raise CheckpointError(f"{path}: planner styles {list(cfg.styles)} do not match its teacher's {list(styles)}")
        planner = _reorder_styles(planner, tuple(styles))
    return planner.eval(), header


def _reorder_styles(planner: Planner, styles: tuple[str, ...]) -> Planner:
    """The same planner with its style inputs in another order (the same names)."""
    cfg = planner.cfg
    n = cfg.n_features - len(cfg.styles) - 1  # the style columns come last, "no style" at the end
    order = [n + cfg.styles.index(name) for name in styles]
    columns = list(range(n)) + order + [cfg.n_features - 1]
    out = Planner.create(replace(cfg, styles=styles))
    tensors = planner.state_dict()
    for name in [k for k in tensors if k.endswith("inp.0.weight")]:  # every member's input layer
        tensors[name] = tensors[name][:, columns]
    out.load_state_dict(tensors)
    return out


def bundled_planner() -> Path:
    from accomp.model.preset import bundled_teachers

    return bundled_teachers().parent / "planners" / PLANNER_FILE


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True, kw_only=True)
class PlannerTrainOptions(CorpusChoice):
    out: str  # planner file to write (.safetensors)
    styles: str = "chorale,pop"  # the style vocabulary, comma separated
    hidden: int = 192  # GRU width
    dropout: float = 0.0
    minutes: float = 10.0  # wall-clock budget for both planners
    whole_share: float = 0.35  # share of the budget for the bidirectional planner
    steps: int = 100000  # at most this many updates per planner
    no_teacher: bool = False  # the causal planner on the labels alone
    seed: int = 0


def planner_train(options: PlannerTrainOptions) -> int:
    from accomp.config import DEFAULT_SPEC
    from accomp.model.pieces import load_pieces

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    if not 0.0 <= options.dropout < 1.0:
        raise SettingsError(f"--dropout must be in [0, 1), not {options.dropout}")
    cfg = PlannerConfig(styles=tuple(options.styles.split(",")), hidden=options.hidden, dropout=options.dropout)
    train, summary = load_pieces(options, DEFAULT_SPEC, "train")
    val, val_summary = load_pieces(options, DEFAULT_SPEC, "val")
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    tr = [piece_beats(p, cfg.styles, TRAINING_TRACKER) for p in train]
    va = [piece_beats(p, cfg.styles) for p in val]  # measured as they will decide
    log(f"planner: {len(tr)} training pieces ({sum(len(d.chords) for d in tr)} beats), {len(va)} validation")
    planner = Planner.create(cfg)
    whole = _fit(planner.whole, tr, kind="whole", minutes=options.minutes * options.whole_share, steps=options.steps, seed=options.seed, log=log)
    causal = _fit(planner.causal, tr, kind="causal", minutes=options.minutes * (1 - options.whole_share), steps=options.steps,
                  seed=options.seed + 1, log=log, teacher=None if options.no_teacher else planner.whole)  # fmt: skip
    metrics = _val_metrics(planner, va, val)
    log(f"validation chord accuracy: {json.dumps(metrics)}")
    save_planner(
        planner, options.out,
        data=summary | {"val": val_summary},
        training={"whole": whole, "causal": causal, "seed": options.seed, "teacher_kl": not options.no_teacher,
                  "command": "accomp " + " ".join(sys.argv[1:])},
        metrics=metrics,
    )  # fmt: skip
    print(f"wrote {options.out} ({file_hash(options.out)[:12]}): causal {metrics['val']['causal']:.3f}, "
          f"bidirectional {metrics['val']['bidirectional']:.3f}, whole-song plan {metrics['val']['song']:.3f} exact chord "
          f"accuracy on {metrics['val']['beats']} validation beats")  # fmt: skip
    return 0


def _val_metrics(planner: Planner, va: list[BeatData], val: list[Piece]) -> dict:
    """:func:`accuracies` on the validation pieces, all together and per style."""
    by_style = {style: accuracies(planner, [d for d, p in zip(va, val) if p.style == style])
                for style in sorted({p.style for p in val})}  # fmt: skip
    return {"val": accuracies(planner, va), "val_by_style": by_style}


@dataclass(frozen=True, kw_only=True)
class PlannerMergeOptions(CorpusChoice):
    planners: list[str]  # planner files; all decide live, the first one's bidirectional planner plans the distillation's leads
    out: str  # planner file to write (.safetensors)


def planner_merge(options: PlannerMergeOptions) -> int:
    """`accomp planner merge`: one file of planners trained apart (the same recipe with
    another seed, say). Their causal planners decide live together (:meth:`Planner.live_scores`),
    the first file's bidirectional one plans the distillation's leads as it did alone, and a
    finished melody is planned by all of them together (:meth:`Planner.song_plan`). Measured on
    the corpora's validation split, like a trained one."""
    from accomp.config import DEFAULT_SPEC
    from accomp.model.pieces import load_pieces

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    if len(options.planners) < 2:
        raise SettingsError("planner merge: name at least two planner files")
    first, first_header = load_planner(options.planners[0])
    shape = lambda cfg: (cfg.hidden, cfg.layers, cfg.n_chords)  # noqa: E731 (dropout is training's alone)
    pairs, members = [], []
    for i, path in enumerate(options.planners):
        planner, header = (first, first_header) if i == 0 else load_planner(path)
        if sorted(planner.cfg.styles) != sorted(first.cfg.styles):
            raise CheckpointError(f"{path}: planner styles {list(planner.cfg.styles)} are not {options.planners[0]}'s "
                                  f"{list(first.cfg.styles)}; only planners of the same styles merge")  # fmt: skip
        if planner.cfg.styles != first.cfg.styles:
            planner = _reorder_styles(planner, first.cfg.styles).eval()  # the same styles in the first one's order
        if shape(planner.cfg) != shape(first.cfg):
            raise CheckpointError(f"{path}: a planner of another shape (width {planner.cfg.hidden}, {planner.cfg.layers} "
                                  f"layers) than {options.planners[0]} (width {first.cfg.hidden}, {first.cfg.layers} layers)")  # fmt: skip
        pairs += planner.pairs
        members.append({"file": Path(path).name, "hash": file_hash(path), "training": header.get("training"),
                        "metrics": header.get("metrics"), "data": header.get("data")})  # fmt: skip
    merged = Planner(replace(first.cfg, members=len(pairs)), *pairs[0], tuple(pairs[1:]))
    val, val_summary = load_pieces(options, DEFAULT_SPEC, "val")
    metrics = _val_metrics(merged, [piece_beats(p, first.cfg.styles) for p in val], val)
    save_planner(merged, options.out, data=(first_header.get("data") or {}) | {"val": val_summary},
                 training={"merged": members, "command": "accomp " + " ".join(sys.argv[1:])}, metrics=metrics)  # fmt: skip
    v = metrics["val"]
    print(f"wrote {options.out} ({file_hash(options.out)[:12]}): {len(pairs)} pairs; exact chord accuracy on {v['beats']} "
          f"validation beats: live {v['causal']:.3f}, whole-song plan {v['song']:.3f}")  # fmt: skip
    return 0


@dataclass(frozen=True, kw_only=True)
class PlannerEvalOptions(CorpusChoice):
    planner: str | None = None  # None: the bundled one
    split: str = "val"
    json: str | None = None  # also write the table here


def planner_eval(options: PlannerEvalOptions) -> int:
    """`accomp planner eval`: exact chord accuracy per beat, per corpus, of both planners and
    the two baselines (repeat the last true chord; the rule-based harmonizer)."""
    from accomp.config import DEFAULT_SPEC
    from accomp.model.pieces import load_pieces
    from accomp.music.chord_baselines import planner_baselines
    from accomp.music.evaluate import write_json

    path = Path(options.planner) if options.planner else bundled_planner()
    planner, header = load_planner(path)
    pieces, _ = load_pieces(options, DEFAULT_SPEC, options.split)
    table: dict[str, dict[str, float]] = {}
    for style in sorted({p.style for p in pieces}):
        chosen = [p for p in pieces if p.style == style]
        mine = accuracies(planner, [piece_beats(p, planner.cfg.styles) for p in chosen])
        table[f"{style} ({len(chosen)} pieces, {mine['beats']} beats)"] = {
            "causal planner": mine["causal"], "bidirectional planner": mine["bidirectional"], "whole-song plan": mine["song"],
            **planner_baselines(chosen)}  # fmt: skip
    columns = ["causal planner", "bidirectional planner", "whole-song plan", "repeat last chord", "rule-based harmonizer"]
    width = max(len(k) for k in table) + 2
    print(f"exact chord accuracy per beat ({options.split} split; planner {path.name})")
    print(" " * width + "".join(f"{c:>24}" for c in columns))
    for name, row in table.items():
        print(f"{name:<{width}}" + "".join(f"{row[c]:>24.3f}" for c in columns))
    if options.json:
        write_json(options.json, {"planner": path.name, "split": options.split, "rows": table})
    return 0
