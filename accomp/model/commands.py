"""`accomp teacher train | sample | eval`."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from accomp.config import ACCOMP, DEFAULT_SPEC, LEAD, MAX_BPM, MIDI_SUFFIXES, MIN_BPM, CorpusChoice, FrameSpec, check_tempo
from accomp.errors import CorpusError, MidiFileError, SettingsError, check_not_input, check_output
from accomp.model.hardware import init_distributed, pick_device
from accomp.model.pieces import load_pieces, read_lead
from accomp.music.frames import Piece, piece_to_midi, save_midi

# ----------------------------------------------------------------------------- evaluation


def eval_segments(pieces: list[Piece], steps: int, max_pieces: int | None, *, every: int | None = None) -> list[Piece]:
    """One segment of ``steps`` frames per piece, from the first bar where the lead plays (in
    more than 30% of the segment's steps); with ``every``, one at every ``every``-th bar line
    where it does, each named ``<piece id>@<first step>``."""
    out = []
    for p in pieces[: max_pieces or None]:
        if p.n_steps < steps:
            continue
        playing = p.tracks[LEAD][:, 1].any(axis=1)
        bars = np.flatnonzero(p.beat_in_bar == 0)
        if every:
            bars = bars[::every]
        starts = [int(s) for s in bars if s + steps <= p.n_steps and playing[s : s + steps].mean() > 0.3]
        for start in starts if every else starts[:1]:
            seg = p.crop(start, start + steps)
            seg.tracks = {LEAD: seg.tracks[LEAD], ACCOMP: seg.tracks[ACCOMP]}
            if every:
                seg.piece_id = f"{p.piece_id}@{start}"
            out.append(seg)
    if not out:
        raise CorpusError(f"no validation piece has {steps} steps with the lead playing")
    return out


def teacher_rows(teacher, pieces: list[Piece], settings, device, *, batch: int = 32, modes=("full view", "causal"),
                 planner=None, labelled: bool = False) -> dict[str, list[Piece]]:
    """Teacher accompaniments of the pieces' leads, in full view and/or causal mode; a
    chord-conditioned teacher voices the ``planner``'s plan (bidirectional in full view,
    causal in causal mode), or with ``labelled`` the pieces' own chord labels."""
    from accomp.music.labels import piece_chords

    from accomp.model.generate import generate, style_weights
    from accomp.music.evaluate import with_accomp

    suffix = ", labelled chords" if labelled else ""
    rows: dict[str, list[Piece]] = {f"teacher ({mode}{suffix})": [] for mode in modes}
    for causal, name in ((mode == "causal", f"teacher ({mode}{suffix})") for mode in modes):
        for i in range(0, len(pieces), batch):
            chunk = pieces[i : i + batch]
            style = np.stack([style_weights(teacher.cfg.styles, style=p.style) for p in chunk])
            chords = None
            if labelled:
                chords = np.stack([piece_chords(p) for p in chunk])
            elif planner is not None and teacher.cfg.chords:
                chords = np.stack([planner.plan(p.tracks[LEAD], p.beat_in_bar, p.spec.steps_per_beat, w, whole=not causal).chords
                                   for p, w in zip(chunk, style)])  # fmt: skip
            _, accomp, _ = generate(
                teacher,
                np.stack([p.beat_in_bar for p in chunk]),
                style,
                settings,
                lead=np.stack([p.tracks[LEAD] for p in chunk]),
                causal=causal,
                device=device,
                chords=chords,
            )
            rows[name].extend(with_accomp(p, a) for p, a in zip(chunk, accomp))
    return rows


def prompt_only_rows(teacher, styles: list[str], n: int, steps: int, settings, device, spec: FrameSpec) -> dict[str, list[Piece]]:
    from accomp.model.generate import generate, style_weights

    rows = {}
    beat = np.tile(np.arange(steps) % (4 * spec.steps_per_beat), (n, 1))
    for style in styles:
        w = np.stack([style_weights(teacher.cfg.styles, style=style)] * n)
        lead, accomp, _ = generate(teacher, beat, w, settings, device=device)
        rows[f"teacher prompt-only ({style})"] = [
            Piece(f"prompt-{style}-{i}", style, spec, {LEAD: lead[i], ACCOMP: accomp[i]}) for i in range(n)
        ]
    return rows


def quick_metrics(teacher, val: list[Piece], device, *, n: int = 16, steps: int = 64) -> dict:
    """A small validation table for the checkpoint header (full view and causal)."""
    from accomp.model.generate import SamplerSettings
    from accomp.music.evaluate import evaluate_pieces, reference_rows

    segs = eval_segments(val[::max(1, len(val) // n)], steps, n)
    rows = {**reference_rows(segs), **teacher_rows(teacher, segs, SamplerSettings(), device)}
    if teacher.cfg.chords:
        rows.update(teacher_rows(teacher, segs, SamplerSettings(), device, modes=("full view",), labelled=True))
    table = evaluate_pieces(rows, segs)
    return {"pieces": len(segs), "steps": steps, "table": table}


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True, kw_only=True)
class TeacherTrainOptions(CorpusChoice):
    out: str  # checkpoint file to write (.safetensors)
    size: str = "auto"  # tiny, small, base; auto: base on CUDA, small on CPU
    window: int = 64  # frames per training window
    hop: int = 32  # frames between training window starts
    steps: int = 4000
    batch: int = 32
    lr: float = 1e-3
    minutes: float | None = None  # stop after this much wall-clock time
    val_every: int = 250
    no_metrics: bool = False  # skip the validation metrics at the end
    init: str | None = None  # start from this teacher's weights
    no_chords: bool = False  # no chord-plan conditioning
    seed: int = 0
    device: str = "auto"


def teacher_train(options: TeacherTrainOptions) -> int:
    from accomp.model.teacher import SIZES, TeacherConfig
    from accomp.model.train import TrainConfig, TrainData, train_teacher
    from accomp.music.corpora import make_windows

    device, world, rank = init_distributed(options.device)
    out = Path(options.out)
    if not out.parent.is_dir():
        raise CorpusError(f"{out.parent}: output folder does not exist")
    spec = DEFAULT_SPEC
    train_pieces, summary = load_pieces(options, spec, "train")
    val_pieces, val_summary = load_pieces(options, spec, "val", allow_empty=True)
    if not val_pieces:  # a small folder may have no piece in the validation split
        print("accomp: notice: no validation pieces (corpus too small); validating on training pieces", file=sys.stderr)
        val_pieces, val_summary = train_pieces, {"corpora": "same as training (no validation pieces)"}
    styles = tuple(sorted({p.style for p in train_pieces}))
    size = options.size if options.size != "auto" else ("base" if device.type == "cuda" else "small")
    cfg = TeacherConfig(**SIZES[size], window=options.window, styles=styles, chords=not options.no_chords)
    init_weights = None
    if options.init:
        from accomp.model.checkpoint import file_hash, load_teacher

        start, _, start_header = load_teacher(options.init)
        ignored = {"noise": None, "chords": None}  # a teacher without chord layers may gain them
        if start.cfg.to_dict() | ignored != cfg.to_dict() | ignored:
            raise CorpusError(f"{options.init}: its model config differs from this run's (size, window or styles)")
        init_weights = start.state_dict()
        summary["initialised_from"] = {"file": Path(options.init).name, "hash": file_hash(options.init),
                                       "steps": start_header.get("training", {}).get("steps")}
    rng = np.random.default_rng(options.seed)
    train = TrainData.from_windows(make_windows(train_pieces, cfg.window, options.hop, rng=rng), styles)
    val = TrainData.from_windows(make_windows(val_pieces, cfg.window, cfg.window, rng=rng), styles)
    summary.update(
        val=val_summary["corpora"], windows_train=len(train), windows_val=len(val), window=cfg.window, hop=options.hop,
        styles=list(styles), augmentation=f"random transposition up to +-{6} semitones, kept on the keyboard",
        chord_labels=_label_summary(train_pieces),
    )
    if rank == 0:
        print(f"teacher '{size}' on {device}: {len(train)} training windows, {len(val)} validation windows, styles {', '.join(styles)}", file=sys.stderr)
    tc = TrainConfig(steps=options.steps, batch=options.batch, lr=options.lr, seed=options.seed, minutes=options.minutes,
                     val_every=options.val_every, save_every=options.val_every)
    torch.manual_seed(options.seed)
    record = train_teacher(
        cfg, tc, spec, train, val, out, summary, device=device, rank=rank, world=world,
        final_metrics=(lambda ema: quick_metrics(ema, val_pieces, device)) if not options.no_metrics else None,
        init_weights=init_weights,
    )
    if rank == 0:
        print(f"wrote {out} after {record['steps']} steps in {record['seconds'] / 60:.1f} min on {record['hardware']}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


def _label_summary(pieces: list[Piece]) -> dict:
    """Where the training pieces' chord labels came from, and how many beats have a chord."""
    from accomp.music.labels import piece_chords

    sources: dict[str, int] = {}
    for p in pieces:
        piece_chords(p)
        sources[p.chord_source] = sources.get(p.chord_source, 0) + 1
    steps = sum(p.n_steps for p in pieces)
    named = sum(int((p.chords > 0).sum()) for p in pieces)
    return {"sources": sources, "share_of_steps_with_a_chord": round(named / max(steps, 1), 4),
            "mapped_to_nearest": sum(p.chords_mapped for p in pieces)}


@dataclass(frozen=True, kw_only=True)
class SamplerOptions:
    steps: int = 12  # sampler steps
    guidance: float = 1.5  # classifier-free guidance on style (1 = off)
    lead_guidance: float = 1.0  # ... on the given lead
    chunk: int = 16  # causal mode: frames generated per chunk
    seed: int = 0
    device: str = "auto"


@dataclass(frozen=True, kw_only=True)
class TeacherSampleOptions(SamplerOptions):
    teacher: str  # checkpoint
    output: str  # MIDI file to write
    style: str | None = None  # one style of the teacher, or
    mix: str | None = None  # a weighted style mix, e.g. pop=0.7,chorale=0.3
    lead: str | None = None  # MIDI file with the lead; None: the teacher writes one too
    causal: bool = False  # chunk by chunk
    bars: int | None = None  # None: the lead's length, or 8
    tempo: float = 100.0  # of a prompt-only sample


MAX_SAMPLE_BARS = 1000  # the longest sample (40 minutes at 100 bpm in 4/4; each bar about 0.01 s a sampler step on a CPU)


def teacher_sample(options: TeacherSampleOptions) -> int:
    from accomp.model.checkpoint import load_teacher
    from accomp.model.generate import SamplerSettings, generate, style_weights

    try:
        check_tempo(options.tempo)
    except ValueError:
        raise SettingsError(f"--tempo {options.tempo:g}: give {MIN_BPM:g}..{MAX_BPM:g} bpm") from None
    if options.bars is not None and options.bars > MAX_SAMPLE_BARS:
        raise SettingsError(f"--bars {options.bars}: at most {MAX_SAMPLE_BARS}")
    out = check_output(options.output, MIDI_SUFFIXES, "MIDI", MidiFileError)
    check_not_input({"-o": out}, {"lead": options.lead}, "the sample", MidiFileError)
    device = pick_device(options.device)
    teacher, spec, _ = load_teacher(options.teacher, device)
    weights = style_weights(teacher.cfg.styles, style=options.style if not options.mix else None, mix=options.mix)
    settings = SamplerSettings(steps=options.steps, guidance=options.guidance, lead_guidance=options.lead_guidance, chunk=options.chunk,
                               seed=options.seed)
    if options.lead:
        base = read_lead(options.lead, spec)
        if options.bars:
            base = base.crop(0, min(base.n_steps, options.bars * 4 * spec.steps_per_beat))
        lead_in = base.tracks[LEAD][None]
    else:
        n = (options.bars or 8) * 4 * spec.steps_per_beat
        base = Piece("prompt", "mix", spec, {LEAD: np.zeros((n, 2, spec.n_keys), np.uint8)}, tempos=[(0.0, round(60e6 / options.tempo))])
        lead_in = None
    t0 = time.perf_counter()
    lead, accomp, nfe = generate(teacher, base.beat_in_bar[None], weights[None], settings, lead=lead_in, causal=options.causal, device=device)
    seconds = time.perf_counter() - t0
    piece = Piece(base.piece_id, "generated", spec, {LEAD: lead[0], ACCOMP: accomp[0]}, tempos=base.tempos, meters=base.meters)
    save_midi(piece_to_midi(piece), out)
    bars = piece.n_steps / (4 * spec.steps_per_beat)
    print(f"wrote {out}: {bars:.0f} bars, {nfe} network evaluations, {seconds:.1f} s ({seconds / bars:.2f} s per bar)")
    return 0


@dataclass(frozen=True, kw_only=True)
class TeacherEvalOptions(SamplerOptions, CorpusChoice):
    teacher: str  # checkpoint
    planner: str | None = None  # None: the bundled one
    split: str = "val"
    max_pieces: int = 64
    bars: int = 8  # per evaluated segment
    json: str | None = None  # also write the table here


def teacher_eval(options: TeacherEvalOptions) -> int:
    from accomp.model.checkpoint import load_teacher
    from accomp.model.harmony import open_harmony
    from accomp.model.generate import SamplerSettings
    from accomp.music.evaluate import evaluate_pieces, format_table, reference_rows, write_json

    device = pick_device(options.device)
    teacher, spec, header = load_teacher(options.teacher, device)
    pieces, summary = load_pieces(options, spec, options.split)
    segs = eval_segments(pieces, options.bars * 4 * spec.steps_per_beat, options.max_pieces)
    settings = SamplerSettings(steps=options.steps, guidance=options.guidance, lead_guidance=options.lead_guidance, chunk=options.chunk,
                               seed=options.seed)
    t0 = time.perf_counter()
    harmony = open_harmony(options.planner, teacher.cfg.styles, 0.0, chords=teacher.cfg.chords)
    rows = {**reference_rows(segs), **teacher_rows(teacher, segs, settings, device, planner=harmony.planner)}
    if teacher.cfg.chords:  # how faithfully the texture voices a given plan: the human chords
        rows.update(teacher_rows(teacher, segs, settings, device, modes=("full view",), labelled=True))
    styles = sorted({p.style for p in segs})
    table = evaluate_pieces(rows, segs)
    for style in styles:
        prompt = prompt_only_rows(teacher, [style], len(segs), segs[0].n_steps, settings, device, spec)
        table.update(evaluate_pieces(prompt, None, reference_set=[p for p in segs if p.style == style]))
    seconds = time.perf_counter() - t0
    title = f"{len(segs)} {options.split} pieces x {options.bars} bars; {settings.sampler} {settings.steps} steps, guidance {settings.guidance}"
    title += f", lead guidance {settings.lead_guidance}" if settings.lead_guidance != 1 else ""
    print(format_table(table, title))
    print(f"({seconds:.0f} s)")
    if options.json:
        write_json(options.json, {"rows": table, "n_pieces": len(segs), "split": options.split, "corpora": summary["corpora"],
                               "teacher": str(options.teacher), "settings": settings.__dict__, "bars": options.bars})
    return 0
