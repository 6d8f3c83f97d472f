"""`accomp distill` and `accomp student eval`.

``distill`` opens no dataset: its metrics compare the student with the teacher on leads
the teacher itself wrote. ``student eval`` is where corpora come in, to compare with
human playing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from accomp.config import ACCOMP, LEAD, CorpusChoice
from accomp.distill.stream import plan_leads, stream_accompaniment
from accomp.errors import PresetError
from accomp.model.generate import SamplerSettings, generate, style_weights
from accomp.model.hardware import init_distributed, pick_device
from accomp.model.harmony import DEFAULT_GUARD


def data_free_metrics(teacher, student, style: np.ndarray, spec, *, n: int = 16, bars: int = 4, seed: int = 1, calibrate: bool = True,
                      harmony=None) -> dict:
    """Student vs teacher (causal) on leads the teacher wrote: no dataset is opened.

    With ``calibrate`` the student's decision thresholds are first fitted (on a second set
    of teacher-written leads) so that its note density matches the teacher's.
    """
    from accomp.distill.calibrate import calibrate_thresholds
    from accomp.music.evaluate import evaluate_pieces
    from accomp.music.frames import Piece

    device = next(student.parameters()).device
    T = bars * 16
    beat = np.tile(np.arange(T) % 16, (2 * n, 1))
    styles = np.tile(style, (2 * n, 1))
    settings = SamplerSettings(seed=seed)
    lead, _, _ = generate(teacher, beat, styles, settings, device=device)
    plans = plan_leads(harmony, lead, style, 16)
    chords = None if plans is None else np.stack([p.chords for p in plans])
    _, teacher_acc, _ = generate(teacher, beat, styles, settings, lead=lead, causal=True, device=device, chords=chords)
    thresholds = calibrate_thresholds(student, lead[n:], style, teacher_acc[n:], seed=seed, harmony=harmony) if calibrate else None
    lead, teacher_acc = lead[:n], teacher_acc[:n]
    student.init_state(style, batch=n)  # a loaded preset traces its step once: not per bar
    t0 = time.perf_counter()
    student_acc = stream_accompaniment(student, lead, style, 16, seed, harmony=harmony)
    per_bar = (time.perf_counter() - t0) / (n * bars)

    def pieces(acc):
        return [Piece(f"gen-{i}", "generated", spec, {LEAD: lead[i], ACCOMP: acc[i]}) for i in range(n)]

    table = evaluate_pieces({"teacher (causal)": pieces(teacher_acc), "student": pieces(student_acc)}, pieces(teacher_acc))
    return {"leads": f"{n} teacher-written leads x {bars} bars", "reference": "teacher (causal)", "table": table,
            "student_seconds_per_bar": round(per_bar, 5), "thresholds": thresholds}


@dataclass(frozen=True, kw_only=True)
class CalibrateOptions(CorpusChoice):
    preset: str  # a name or a file
    pieces: int = 64  # with a corpus: training pieces to take a 4-bar segment of
    guard: float | None = None  # set the preset's guard strength first (None: keep it)
    planner: str | None = None  # give the preset this planner file first (None: keep its own)
    seed: int = 1
    device: str = "auto"


def calibrate(options: CalibrateOptions) -> int:
    """`accomp preset calibrate`: fit an existing preset's decision thresholds again, to its
    teacher on teacher-written leads (data-free) or, with ``--corpus``, to the human
    accompaniment of training-split leads; ``--guard`` sets the guard strength and ``--planner``
    the chord planner first."""
    from accomp.model.checkpoint import load_teacher
    from accomp.model.harmony import load_harmony
    from accomp.model.preset import find_teacher, load_preset, preset_to_change, update_preset_header
    from accomp.music.evaluate import format_table

    device = pick_device(options.device)
    path = preset_to_change(options.preset, f"make a preset of your own from it first (accomp preset sound {options.preset} "
                                            "--save-as NAME) and calibrate that")
    student, header = load_preset(path, device)
    teacher, spec, _ = load_teacher(find_teacher(header, path), device)
    style = np.asarray(header["style"]["weights"], dtype=np.float32)
    harmony = load_harmony(header, path, teacher.cfg.styles, chords=teacher.cfg.chords, guard=options.guard, planner_file=options.planner)
    changes = {"harmony": harmony.record()} if harmony.planner is not None else {}
    if options.corpus:
        thresholds, calibrated_on = human_calibration(student, style, spec, harmony, options)
        metrics = human_figures(student, style, spec, harmony, options, calibrated_on)
        update_preset_header(path, thresholds=thresholds, metrics=metrics, **changes)
        print(format_table(metrics["table"], f"preset {path}, calibrated on {thresholds['leads']}; figures on {metrics['leads']}"))
    else:
        metrics = data_free_metrics(teacher, student, style, spec, seed=options.seed, harmony=harmony)
        thresholds = metrics["thresholds"]
        update_preset_header(path, thresholds=thresholds, metrics=metrics, **changes)
        print(format_table(metrics["table"], f"preset {path} (vs the teacher on {metrics['leads']})"))
    print(f"thresholds: {json.dumps(thresholds)}")
    return 0


FOLLOW_BARS = (16, 8)  # the density follower's target: the longest of these that half the drawn pieces hold


def human_calibration(student, style: np.ndarray, spec, harmony, options: CalibrateOptions, *, bars: int = 4) -> tuple[dict, list]:
    """Thresholds fitted so that the student's density on human leads (one segment of
    ``bars`` bars from each of ``options.pieces`` training pieces, drawn with ``options.seed``)
    matches the human accompaniment of the same segments, with the density follower off; then
    the follower's target, the human onsets per step over longer segments of the same pieces
    (16 bars, or 8 where most are shorter; none where they are shorter still), so that the
    band keeps a pianist's density past a song's first bars. Returns those and the segments."""
    from accomp.distill.calibrate import calibrate_thresholds, density_target
    from accomp.errors import CorpusError
    from accomp.model.commands import eval_segments
    from accomp.model.pieces import load_pieces

    pieces, summary = load_pieces(options, spec, "train")
    order = np.random.default_rng(options.seed).permutation(len(pieces))[: max(1, options.pieces)]
    drawn = [pieces[i] for i in order]
    segs = eval_segments(drawn, bars * 4 * spec.steps_per_beat, None)
    lead = np.stack([p.tracks[LEAD] for p in segs])
    human = np.stack([p.tracks[ACCOMP] for p in segs])
    student.density_target = 0.0
    found = calibrate_thresholds(student, lead, style, human, seed=options.seed, harmony=harmony)
    corpora = ", ".join(c["source"] for c in summary["corpora"])
    for long_bars in FOLLOW_BARS:
        try:
            long = eval_segments(drawn, long_bars * 4 * spec.steps_per_beat, None)
        except CorpusError:
            continue
        if 2 * len(long) >= len(drawn):
            target = density_target(np.stack([p.tracks[LEAD] for p in long]), np.stack([p.tracks[ACCOMP] for p in long]))
            student.density_target = target
            found["density"] = {"target": round(target, 4), "gain": student.density_gain, "memory": student.density_memory,
                                "leads": f"{len(long)} human leads x {long_bars} bars"}  # fmt: skip
            break
    return {**found, "leads": f"{len(segs)} human leads x {bars} bars from the {corpora} training split (seed {options.seed})"}, segs


def human_figures(student, style: np.ndarray, spec, harmony, options: CalibrateOptions, calibrated_on: list, *,
                  bars: int = 4, pieces: int | None = None) -> dict:
    """The preset's figures after a calibration on human playing, as its card shows them: the
    student against the human accompaniment of the validation songs (up to ``pieces``; all by
    default: on POP909's first 48 alone two planners trained alike differ by 0.03 in chord
    agreement), or of the training segments it was calibrated on, ``calibrated_on``, when the
    corpus has no validation split."""
    from accomp.errors import CorpusError
    from accomp.model.commands import eval_segments
    from accomp.model.pieces import load_pieces
    from accomp.music.evaluate import evaluate_pieces, reference_rows, with_accomp

    steps = bars * 4 * spec.steps_per_beat
    split = "validation"
    try:
        segs = eval_segments(load_pieces(options, spec, "val", allow_empty=True)[0], steps, pieces)
    except CorpusError:
        split, segs = "training", calibrated_on
    lead = np.stack([p.tracks[LEAD] for p in segs])
    bars = lead.shape[1] // (4 * spec.steps_per_beat)  # the calibration's own segments may be longer
    rows = reference_rows(segs)
    acc = stream_accompaniment(student, lead, style, 16, 0, harmony=harmony)  # seed 0: `accomp student eval`'s figures
    rows["student"] = [with_accomp(p, a) for p, a in zip(segs, acc)]
    return {"leads": f"{len(segs)} {split} songs x {bars} bars", "reference": "human accompaniment", "table": evaluate_pieces(rows, segs)}


def _progress_printer(mode: str, total: int):
    if mode == "jsonl":
        from accomp.distill.loop import jsonl_progress

        return jsonl_progress, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc="distill", unit="step", dynamic_ncols=True)

    def show(event: dict) -> None:
        if event["event"] == "progress":
            bar.n = event["step"]
            bar.set_postfix(loss=event["loss"])
            bar.refresh()
        elif event["event"] in ("songs", "resumed", "budget"):
            bar.write(json.dumps(event))

    return show, bar.close


@dataclass(frozen=True, kw_only=True)
class DistillOptions:
    teacher: str  # checkpoint
    style: str | None = None  # one style of the teacher, or
    mix: str | None = None  # a weighted style mix
    out: str | None = None  # preset file to write; None: the user's preset folder
    name: str | None = None  # the preset's name (None: the style or mix)
    description: str | None = None
    quick: bool = False
    steps: int | None = None
    minutes: float | None = None
    objective: str | None = None  # consistency or regression
    no_term: list[str] | None = None  # loss terms switched off
    progress: str = "bar"  # bar, or jsonl for the GUI
    guidance: float | None = None
    planner: str | None = None
    guard: float = DEFAULT_GUARD
    seed: int | None = None
    device: str = "auto"


def distill(options: DistillOptions) -> int:
    from accomp.distill.loop import QUICK, DistillConfig, run_distill
    from accomp.model.checkpoint import load_teacher, run_state_path
    from accomp.model.preset import save_preset, user_preset_path

    from accomp.model.harmony import open_harmony

    device, world, rank = init_distributed(options.device)
    teacher, spec, _ = load_teacher(options.teacher, device)
    weights = style_weights(teacher.cfg.styles, style=options.style, mix=options.mix)
    harmony = open_harmony(options.planner, teacher.cfg.styles, options.guard, chords=teacher.cfg.chords)
    if options.out:
        out = Path(options.out)
    else:  # the user's preset folder, created on first use
        out = user_preset_path(options.name or f"my-{options.style or 'mix'}", "--name")  # "my-pop": "pop" is the bundled one
        out.parent.mkdir(parents=True, exist_ok=True)
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise PresetError(f"{out.parent}: output folder does not exist or is not writable")
    cfg = DistillConfig(**(QUICK if options.quick else {}))
    overrides = {k: v for k, v in dict(steps=options.steps, minutes=options.minutes, seed=options.seed, objective=options.objective,
                                       guidance=options.guidance).items() if v is not None}
    for term in options.no_term or []:
        overrides[f"w_{term}"] = 0.0
    cfg = replace(cfg, **overrides)
    name = options.name or (out.stem if not options.out else options.style or options.mix)  # as the file, in your folder
    show, close = _progress_printer(options.progress, cfg.steps) if rank == 0 else ((lambda e: None), (lambda: None))
    try:
        student, record = run_distill(teacher, weights, cfg, out, device=device, on_progress=show, rank=rank, world=world,
                                      planner=harmony.planner)
    finally:
        close()
    if rank == 0:
        student.eval()
        metrics = data_free_metrics(teacher, student, weights, spec, seed=cfg.seed + 1, harmony=harmony)
        style_info = {"name": name, "mix": options.mix or f"{options.style}=1", "weights": [float(w) for w in weights], "styles": list(teacher.cfg.styles)}
        save_preset(student, options.teacher, out, style=style_info, distill=record, metrics=metrics, thresholds=metrics["thresholds"],
                    loss_weights=cfg.weights(), description=options.description or f"{name}, distilled from the bundled teacher",
                    harmony=harmony.record())
        run_state_path(out).unlink(missing_ok=True)
        _keep_bundled_teacher(Path(options.teacher), out)
        if harmony.planner is not None:
            _keep_bundled_teacher(Path(harmony.planner_file), out, kind="planners")
        if options.progress == "jsonl":
            print(json.dumps({"event": "done", "preset": str(out), "metrics": metrics}), flush=True)
        else:
            from accomp.music.evaluate import format_table

            print(format_table(metrics["table"], f"preset {out} (vs the teacher on {metrics['leads']})"))
            print(f"{record['steps']} updates in {record['seconds'] / 60:.1f} min; student {metrics['student_seconds_per_bar'] * 1000:.1f} ms per bar")
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


def _keep_bundled_teacher(teacher: Path, preset: Path, kind: str = "teachers") -> None:
    """A preset of the user's own, made from the bundled teacher (or planner, ``kind``
    "planners"): keep that file in the user's folder of its kind too, so the preset still
    loads after an update replaces it."""
    from accomp.model.preset import bundled_presets, bundled_teachers, keep_teacher, user_dir

    bundled = bundled_teachers().parent / kind
    if teacher.resolve().parent != bundled.resolve() or preset.resolve().parent == bundled_presets().resolve():
        return
    try:
        keep_teacher(teacher, user_dir(kind))
    except OSError as exc:  # the preset is written; say what could not be kept
        print(f"accomp: notice: could not keep a copy of {teacher.name} in {user_dir(kind)} ({exc.strerror or exc}); "
              "this preset needs that file to load", file=sys.stderr)


@dataclass(frozen=True, kw_only=True)
class StudentEvalOptions(CorpusChoice):
    preset: str  # a name or a file
    split: str = "val"
    max_pieces: int = 64
    bars: int = 8
    teacher_steps: int = 12  # the teacher's sampler steps for its causal row
    json: str | None = None  # also write the table here
    guard: float | None = None  # None: the preset's
    ablate: bool = False  # also rows with the guard off and with the planner off
    whole_song: bool = False  # also a row planned by the bidirectional planner
    seed: int = 0
    device: str = "auto"


def student_eval(options: StudentEvalOptions) -> int:
    from accomp.model.checkpoint import load_teacher
    from accomp.model.commands import eval_segments, teacher_rows
    from accomp.model.pieces import load_pieces
    from accomp.model.harmony import load_harmony
    from accomp.model.preset import find_teacher, load_preset, resolve_preset
    from accomp.music.evaluate import evaluate_pieces, format_table, reference_rows, with_accomp, write_json

    device = pick_device(options.device)
    path = resolve_preset(options.preset)
    student, header = load_preset(path, device)
    teacher, spec, _ = load_teacher(find_teacher(header, path), device)
    pieces, summary = load_pieces(options, spec, options.split)
    segs = eval_segments(pieces, options.bars * 4 * spec.steps_per_beat, options.max_pieces)
    style = np.asarray(header["style"]["weights"], dtype=np.float32)
    rows = reference_rows(segs)
    leads = np.stack([p.tracks[LEAD] for p in segs])
    student.init_state(style, batch=len(segs))  # a loaded preset traces its step once: not per bar
    variants = [("", load_harmony(header, path, teacher.cfg.styles, chords=teacher.cfg.chords, guard=options.guard), False)]
    if options.ablate and teacher.cfg.chords:
        variants += [(", guard off", load_harmony(header, path, teacher.cfg.styles, chords=True, guard=0.0), False),
                     (", planner off", None, False)]  # fmt: skip
    if options.whole_song and teacher.cfg.chords:
        variants.append((", whole song", variants[0][1], True))
    student_s = 0.0
    for label, harmony, whole in variants:
        t0 = time.perf_counter()
        acc = stream_accompaniment(student, leads, style, 16, options.seed, harmony=harmony, whole=whole)
        student_s = student_s or time.perf_counter() - t0
        rows[f"student {path.stem} (1 step{label})"] = [with_accomp(p, a) for p, a in zip(segs, acc)]
    t0 = time.perf_counter()
    settings = SamplerSettings(steps=options.teacher_steps, seed=options.seed)
    teacher_causal = teacher_rows(teacher, segs, settings, device, modes=("causal",), planner=variants[0][1] and variants[0][1].planner)
    teacher_s = time.perf_counter() - t0
    rows.update(teacher_causal)
    table = evaluate_pieces(rows, segs)
    bars_total = len(segs) * options.bars
    print(format_table(table, f"{len(segs)} {options.split} pieces x {options.bars} bars; preset {path.name}"))
    print(f"wall time per bar: student {student_s / bars_total * 1000:.1f} ms, teacher (causal, {options.teacher_steps} steps) "
          f"{teacher_s / bars_total * 1000:.1f} ms: {teacher_s / max(student_s, 1e-9):.0f}x")
    if options.json:
        write_json(options.json, {"rows": table, "n_pieces": len(segs), "split": options.split, "corpora": summary["corpora"],
                               "preset": str(path), "seconds_per_bar": {"student": student_s / bars_total, "teacher": teacher_s / bars_total}})
    return 0

