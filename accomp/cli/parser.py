"""The one argparse tree of accomp. Subcommands import their heavy modules lazily (:mod:`accomp.cli.commands`)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from accomp import __version__
from accomp.cli.commands import command
from accomp.config import DEFAULT_TEACHER_FILE, MAX_COUNT_IN_BARS, MAX_GRACE_MS
from accomp.errors import AccompError, check_output
from accomp.music.drums import PATTERNS as DRUM_PATTERNS
from accomp.stop_signals import as_ctrl_c


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (usage hint on the same line), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None


def _count(text: str) -> int:
    """A count of 1 or more (updates, pieces, bars, sampler steps, a width): argparse's type."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def _output(suffixes: tuple[str, ...], what: str):
    """argparse's type for a file to write: its suffix one of ``suffixes``, its folder there and
    writable, checked before any work (a model trained into ``t.txt``, a table lost at the end
    of an evaluation to a missing folder)."""

    def checked(text: str) -> str:
        try:
            check_output(text, suffixes, what)
        except AccompError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    checked.__name__ = f"{what} file"
    return checked


_JSON = _output((".json",), "JSON")
_MODEL = _output((".safetensors",), "model")

MAX_SEED = 2**32 - 1  # what every generator seeded from it takes (numpy's legacy one the least)


def _seed(text: str) -> int:
    """A random seed, 0..MAX_SEED: argparse's type (a seed past 2**63 crashed torch's generator)."""
    value = _int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is not a seed: give 0..{MAX_SEED}")
    return value


def _amount(text: str) -> float:
    """A finite number above 0 (minutes, a learning rate): argparse's type."""
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a number above 0")
    return value


def _weight(text: str) -> float:
    """A finite number of 0 or more (a guidance scale): argparse's type."""
    value = _float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text} is not a number of 0 or more")
    return value


def _share(text: str) -> float:
    """A share from 0 up to, not including, 1 (dropout, a share of a budget): argparse's type."""
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 0 and under 1")
    return value


def _add_corpus_args(p: argparse.ArgumentParser, *, required: bool, multiple: bool = False, packs: bool = True) -> None:
    p.add_argument(
        "--corpus",
        choices=["pop909", "chorales", "midi-folder"] + (["pack"] if packs else []),
        required=required,
        action="append" if multiple else "store",
        help="corpus kind (pop909: a folder in POP909 layout; chorales: music21's Bach "
        "chorales; midi-folder: any folder of .mid files"
        + ("; pack: a file made by 'accomp data pack')" if packs else ")"),
    )
    p.add_argument(
        "--path",
        action="append" if multiple else "store",
        help="corpus folder (pop909, midi-folder)" + (" or pack file" if packs else "")
        + "; repeat once per --corpus when several",
    )
    p.add_argument("--style", help="style name for a midi-folder corpus (default: the folder name)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the on-disk cache")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="accomp", description="accomp: an AI band mate that plays along with you.")
    parser.add_argument("--version", action="version", version=f"accomp {__version__}")
    parser.set_defaults(func=command("accomp.app", "launch", "LaunchOptions"))
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("launch", help="open the app (the default when no command is given)")
    p.add_argument("--play", action="store_true", help="start playing as soon as the preset is loaded")
    p.add_argument("--quit-after", type=float, metavar="S",
                   help="close the window S seconds after it opened (after playing started, with --play); print a JSON summary")
    p.set_defaults(func=command("accomp.app", "launch", "LaunchOptions"))

    data = sub.add_parser("data", help="corpus tools")
    data_sub = data.add_subparsers(title="data commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = data_sub.add_parser("stats", help="pieces, frames, hours, ranges and skipped files of a corpus")
    _add_corpus_args(p, required=True)
    p.add_argument("--json", metavar="FILE", type=_JSON, help="also write the statistics as JSON")
    p.set_defaults(func=command("accomp.music.stats", "data_stats", "StatsOptions"))
    p = data_sub.add_parser(
        "pack", help="write a corpus as one file that trains anywhere (e.g. on a GPU machine without the source files)"
    )
    _add_corpus_args(p, required=True, packs=False)
    p.add_argument("--out", required=True, type=_output((".npz",), "pack"), help="pack file to write (.npz)")
    p.set_defaults(func=command("accomp.music.stats", "data_pack", "PackOptions"))

    p = sub.add_parser("eval", help="quality metrics: human reference vs baselines (vs model outputs)")
    p.add_argument("files", nargs="*", help="MIDI files with tracks 'lead' and 'accomp' (e.g. model outputs)")
    _add_corpus_args(p, required=False)
    p.add_argument("--split", choices=["train", "val", "all"], default="val")
    p.add_argument("--max-pieces", type=int, default=None, help="evaluate at most this many pieces")
    p.add_argument("--json", metavar="FILE", type=_JSON, help="also write the table as JSON")
    p.set_defaults(func=command("accomp.music.evaluate", "evaluate", "EvalOptions"))

    chart = sub.add_parser("chart", help="chord chart tools (the charts --chart plays: docs/charts.md)")
    chart_sub = chart.add_subparsers(title="chart commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = chart_sub.add_parser("from-midi", help="a chart from a MIDI file's chords (its chord symbols, else its accompaniment)")
    p.add_argument("file", help="MIDI file")
    p.add_argument("-o", "--out", help="chart file to write (.txt; default: print it)")
    p.set_defaults(func=command("accomp.music.chart_midi", "chart_from_midi", "ChartFromMidiOptions"))
    p = chart_sub.add_parser("show", help="check a chart and print it bar by bar, as the band will play it")
    p.add_argument("file", help="chart file (.txt)")
    p.add_argument("--transpose", type=int, default=0, metavar="N", help="move the chart N semitones (-11..11)")
    p.set_defaults(func=command("accomp.music.chart_midi", "chart_show", "ChartShowOptions"))

    _add_teacher(sub)
    _add_planner(sub)
    _add_distill(sub)

    p = sub.add_parser("devices", help="list audio host APIs and devices, and MIDI ports (every API)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=command("accomp.devices.listing", "list_devices", "DevicesOptions"))
    _add_engine(sub)
    return parser


DEFAULT_TEACHER = f"resources/teachers/{DEFAULT_TEACHER_FILE}"


def _bundled_teacher() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2] / DEFAULT_TEACHER)


GUARD_DEFAULT = 1.0  # accomp.model.harmony.DEFAULT_GUARD (the CLI imports no torch)


def _add_distill(sub) -> None:
    p = sub.add_parser("distill", help="distil a streaming student (a style preset) from the teacher, data-free")
    p.add_argument("--teacher", default=_bundled_teacher(), help="teacher checkpoint (default: the bundled one)")
    style = p.add_mutually_exclusive_group(required=True)
    style.add_argument("--style", help="one style of the teacher, e.g. pop")
    style.add_argument("--mix", help="weighted style mix, e.g. pop=0.7,chorale=0.3")
    p.add_argument("--out", type=_MODEL, help="preset file to write (.safetensors; default: your preset folder)")
    p.add_argument("--name", help="preset name shown in the app and its file name in your preset folder (default: my-STYLE)")
    p.add_argument("--description", help="one line about the preset")
    p.add_argument("--quick", action="store_true", help="a short run (about 15 minutes on a 2-core CPU)")
    p.add_argument("--steps", type=_count, default=None, help="student updates")
    p.add_argument("--minutes", type=_amount, default=None, help="stop after this much wall-clock time")
    p.add_argument("--objective", choices=["consistency", "regression"], default=None,
                   help="regression: plain regression onto the teacher's samples (the ablation)")
    p.add_argument("--no-term", action="append", choices=["latent", "spectral", "temporal"], help="switch a loss term off")
    p.add_argument("--progress", choices=["bar", "jsonl"], default="bar", help="jsonl: one JSON event per line (for the GUI)")
    p.add_argument("--guidance", type=_weight, default=None,
                   help="the teacher's classifier-free guidance on the style and the chord plan (1 = off; default 1.5)")
    p.add_argument("--planner", help="chord planner file, for a chord-conditioned teacher (default: the bundled one)")
    p.add_argument("--guard", type=float, default=GUARD_DEFAULT,
                   help=f"decision-time guard: threshold raise for notes off the planned chord (0 = off; default {GUARD_DEFAULT})")
    p.add_argument("--seed", type=_seed, default=None)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=command("accomp.distill.commands", "distill", "DistillOptions"))

    preset = sub.add_parser("preset", help="style preset tools")
    psub = preset.add_subparsers(title="preset commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = psub.add_parser("sound", help="the sound a preset carries: its name, its accompaniment's instrument, its bass and drums")
    p.add_argument("preset", help="preset name or file")
    p.add_argument("--name", default=None, help="the name the window and the recordings show")
    p.add_argument("--accomp-program", type=int, default=None, metavar="N", help="General MIDI program of the accompaniment (0-127)")
    p.add_argument("--bass", action=argparse.BooleanOptionalAction, default=None, help="a bass part on the chord roots")
    p.add_argument("--drums", default=None, metavar="PATTERN", help="drums in this pattern (pop-ballad, rock, swing, bossa, waltz, six-eight; in 6/8, 9/8 and 12/8 the band plays six-eight, in 3/4 a four-beat pattern plays waltz) or off")
    p.add_argument("--bass-program", type=int, default=None, metavar="N", help="General MIDI program of the bass (0-127)")
    p.add_argument("--save-as", default=None, metavar="NAME",
                   help="write the preset with this sound as a new preset of your own, NAME (the way to change a bundled one)")
    p.set_defaults(func=command("accomp.model.preset", "set_sound", "SoundOptions"))
    p = psub.add_parser("calibrate", help="fit a preset's note-decision thresholds to its teacher's density (data-free), "
                        "or with --corpus to the human density of a corpus's training split")
    p.add_argument("preset", help="preset name or file")
    _add_corpus_args(p, required=False, multiple=True)
    p.add_argument("--pieces", type=_count, default=64, help="with --corpus: training pieces to take a 4-bar segment of (default 64)")
    p.add_argument("--guard", type=float, default=None, help="set the preset's guard strength first (0 = off; default: keep it)")
    p.add_argument("--planner", default=None, help="give the preset this chord planner file first (e.g. a retrained one; default: keep its own)")
    p.add_argument("--seed", type=_seed, default=1)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=command("accomp.distill.commands", "calibrate", "CalibrateOptions"))

    student = sub.add_parser("student", help="evaluate a distilled student preset")
    ssub = student.add_subparsers(title="student commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = ssub.add_parser("eval", help="metrics table: student (streamed) vs teacher (causal), human and baselines")
    p.add_argument("--preset", required=True, help="preset name or file")
    _add_corpus_args(p, required=True, multiple=True)
    p.add_argument("--split", choices=["train", "val", "all"], default="val")
    p.add_argument("--max-pieces", type=_count, default=64)
    p.add_argument("--bars", type=_count, default=8)
    p.add_argument("--teacher-steps", type=_count, default=12, help="the teacher's sampler steps for its causal row")
    p.add_argument("--json", metavar="FILE", type=_JSON, help="also write the table as JSON")
    p.add_argument("--guard", type=float, default=None, help="override the preset's guard strength (0 = off)")
    p.add_argument("--ablate", action="store_true", help="also rows with the guard off and with the planner off")
    p.add_argument("--whole-song", action="store_true", help="also a row planned by the bidirectional planner from the whole lead")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=command("accomp.distill.commands", "student_eval", "StudentEvalOptions"))


def _add_sound_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--soundfont", help="a .sf2/.sf3 file for the built-in synth (default: FluidR3 GM)")
    p.add_argument("--lead-program", type=int, default=0, help="General MIDI program of the lead (0-127)")
    p.add_argument("--accomp-program", type=int, default=None, help="General MIDI program of the accompaniment (default: the preset's, else 0)")
    p.add_argument("--lead-volume", type=float, default=0.8, help="0..1")
    p.add_argument("--accomp-volume", type=float, default=0.8, help="0..1")
    p.add_argument("--click-volume", type=float, default=0.6, help="metronome volume, 0..1")
    p.add_argument("--bass", action=argparse.BooleanOptionalAction, default=None,
                   help="a bass part on the chord roots, in the drums' feel (default: as the preset says; none)")
    p.add_argument("--drums", metavar="PATTERN",
                   help=f"drums in this pattern ({', '.join(DRUM_PATTERNS)}) or off (default: as the preset says; none)")
    p.add_argument("--bass-program", type=int, default=None, help="General MIDI program of the bass (default 33, fingered bass)")
    p.add_argument("--bass-volume", type=float, default=0.8, help="0..1")
    p.add_argument("--drums-volume", type=float, default=0.7, help="0..1")
    p.add_argument("--mute-lead", action="store_true", help="do not play the lead through the synth")


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", required=True, help="style preset: a name (bundled or yours) or a file")
    p.add_argument("--sample-rate", type=int, default=48000)
    p.add_argument("--buffer", type=int, default=128, help="audio buffer size in frames")
    p.add_argument("--grace-ms", type=float, default=30.0, help=f"a late lead note still changes its step this long (0..{MAX_GRACE_MS:g} ms)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--device", default="cpu",
                   help="torch device for the model: cpu (default: one step is faster there than on a GPU), auto (whichever of the CPU and a GPU runs the step faster here, timed at start-up), cuda or cuda:N")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the model")
    p.add_argument("--guard", type=float, default=None,
                   help="decision-time guard: how firmly notes off the planned chord are held back (0 = off; default: the preset's)")
    _add_sound_args(p)


def _add_key_arg(p: argparse.ArgumentParser, *, file: bool) -> None:
    p.add_argument("--key", default=None, metavar="KEY",
                   help="the song's key, e.g. F, Bb, F#m: the band starts in it instead of guessing from your first notes"
                        + (" (default: the MIDI file's key signature, when it names one other than C; 'heard': ignore it)"
                           if file else ""))


def _add_chart_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chart", metavar="FILE", help="play this chord chart (a text file: docs/charts.md; "
                   "resources/charts has examples) instead of following the melody's harmony; it loops")
    p.add_argument("--transpose", type=int, default=0, metavar="N", help="move the chart N semitones (-11..11)")
    p.add_argument("--split", metavar="KEY", default=None,
                   help="arranger mode: keys below KEY (a MIDI number, or a note such as F#3; C4 is middle C) name "
                        "the chord the band plays (fingered, or one-finger: docs/charts.md), keys from KEY up are the lead")


def _add_listen_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-gain", type=float, default=0.0, metavar="DB", help="audio input gain in dB (-40..60)")
    p.add_argument("--gate", type=float, default=-50.0, metavar="DBFS", help="noise gate: quieter input is no note")
    p.add_argument("--listen-mode", choices=["auto", "melody", "chords"], default="auto",
                   help="audio input: melody notes, strummed chords, or both (auto)")
    p.add_argument("--silence", choices=["keep", "hold", "stop"], default="keep",
                   help="follow mode, when the player stops: keep playing, hold (rest, keep time) or stop at the bar line")


def _add_engine(sub) -> None:
    p = sub.add_parser("play", help="play along live: MIDI or audio in, accompaniment out (synth and/or MIDI)")
    _add_engine_args(p)
    _add_listen_args(p)
    p.add_argument("--input", choices=["midi", "audio", "both"], default="midi",
                   help="what the lead comes from: MIDI, an audio input (guitar, voice: pitch is heard), or both")
    p.add_argument("--audio-in", help="audio input device (name or number; default: the system's)")
    p.add_argument("--input-channels", type=int, default=1, help="audio input channels (mixed to one)")
    p.add_argument("--follow", action="store_true", help="the band follows your tempo (default: it keeps its own)")
    p.add_argument("--wait-for-player", action="store_true", help="with --follow: start at your first note, no count-in")
    p.add_argument("--midi-in", help="MIDI input port (name or number; default: the first)")
    p.add_argument("--midi-in-virtual", metavar="NAME", help="open a virtual MIDI input port instead")
    p.add_argument("--no-midi-in", action="store_true", help="no MIDI input (the accompaniment plays alone)")
    p.add_argument("--keys", action="store_true",
                   help="play the terminal's keys (A S D F... as in the window) instead of a MIDI keyboard; "
                   "the default when there is no MIDI input port")
    p.add_argument("--midi-out", help="also send the accompaniment to this MIDI output port")
    p.add_argument("--midi-out-virtual", metavar="NAME", help="send it to a virtual MIDI output port of this name")
    p.add_argument("--midi-api", help="alsa or jack (default: ALSA when present, else JACK)")
    p.add_argument("--audio-out", help="audio output device (name or number; default: the system's)")
    p.add_argument("--host-api", help="audio host API, e.g. JACK or ALSA")
    p.add_argument("--no-synth", action="store_true", help="no built-in synth (MIDI out only)")
    p.add_argument("--tempo", type=float, default=None, help="beats per minute (default: the chart's, else 100)")
    p.add_argument("--meter", default=None, help="time signature, e.g. 3/4 (default: the chart's, else 4/4)")
    _add_key_arg(p, file=False)
    _add_chart_args(p)
    p.add_argument("--count-in", type=int, default=1, help=f"bars of count-in (0..{MAX_COUNT_IN_BARS})")
    p.add_argument("--no-click", action="store_true", help="no metronome after the count-in")
    p.add_argument("--midi-clock", action="store_true", help="send MIDI clock (24 ppqn) with the MIDI output")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl+C)")
    p.add_argument("--record", metavar="OUT", help="record the session to OUT.mid and OUT.wav")
    p.add_argument("--metrics-json", metavar="FILE", help="also write the end-of-play summary as JSON")
    p.set_defaults(func=command("accomp.cli.engine", "play"))

    p = sub.add_parser("render", help="accompany a MIDI file or a recording offline, through the live engine in simulated time")
    p.add_argument("lead", metavar="LEAD", nargs="?", help="MIDI file with the lead (its only track, or the lead rule), "
                   "or a recording (.wav, .flac, .ogg, .aiff, .mp3) of a melody or chords, heard as live input; "
                   "without one, --chart plays the chart alone (a backing track)")
    p.add_argument("-o", "--output", required=True, help="MIDI file to write (tracks lead and accomp)")
    p.add_argument("--wav", metavar="OUT.wav", help="also render the audio through the built-in synth")
    p.add_argument("--whole-song", action="store_true",
                   help="a backing for a finished melody: plan the chords from all of it (bidirectional planner), not as played")
    _add_engine_args(p)
    _add_listen_args(p)
    _add_chart_args(p)
    p.add_argument("--chords", metavar="FILE", help="also write the lead sheet of what the band played: bar, beat, chord")
    p.add_argument("--tempo", type=float, default=None,
                   help="recording: its tempo to start from (default: estimated); a chart alone: its tempo (default: the chart's)")
    p.add_argument("--meter", default=None,
                   help="time signature, e.g. 3/4 (default: a MIDI lead's own, else the chart's, else 4/4)")
    p.add_argument("--no-follow", action="store_true", help="recording: keep the starting tempo instead of following it")
    _add_key_arg(p, file=True)
    p.set_defaults(func=command("accomp.cli.engine", "render"))


def _add_sampler_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=_count, default=12, help="sampler steps (Heun: 2 evaluations each but the last)")
    p.add_argument("--guidance", type=_weight, default=1.5, help="classifier-free guidance on style (1 = off)")
    p.add_argument("--lead-guidance", type=_weight, default=1.0, help="classifier-free guidance on the given lead (1 = off)")
    p.add_argument("--chunk", type=_count, default=16, help="causal mode: frames generated per chunk")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def _add_teacher(sub) -> None:
    teacher = sub.add_parser("teacher", help="train, sample from and evaluate the diffusion teacher")
    tsub = teacher.add_subparsers(title="teacher commands", metavar="COMMAND", parser_class=_Parser, required=True)

    p = tsub.add_parser("train", help="train a teacher on one or more corpora")
    _add_corpus_args(p, required=True, multiple=True)
    p.add_argument("--out", required=True, type=_MODEL, help="checkpoint file to write (.safetensors)")
    p.add_argument("--size", choices=["tiny", "small", "base", "auto"], default="auto", help="auto: base on CUDA, small on CPU")
    p.add_argument("--window", type=_count, default=64, help="frames per training window")
    p.add_argument("--hop", type=_count, default=32, help="frames between training window starts")
    p.add_argument("--steps", type=_count, default=4000)
    p.add_argument("--batch", type=_count, default=32)
    p.add_argument("--lr", type=_amount, default=1e-3)
    p.add_argument("--minutes", type=_amount, default=None, help="stop after this much wall-clock time")
    p.add_argument("--val-every", type=_count, default=250)
    p.add_argument("--no-metrics", action="store_true", help="skip the validation metrics at the end")
    p.add_argument("--init", help="start from this teacher's weights (fine-tuning; same size, window and styles; "
                   "a teacher without chord conditioning gains it, zero-initialised)")
    p.add_argument("--no-chords", action="store_true", help="no chord-plan conditioning (the teacher learns harmony from the rolls alone)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=command("accomp.model.commands", "teacher_train", "TeacherTrainOptions"))

    p = tsub.add_parser("sample", help="accompany a lead, or write lead and accompaniment from a style")
    p.add_argument("--teacher", required=True, help="teacher checkpoint")
    style = p.add_mutually_exclusive_group(required=True)
    style.add_argument("--style", help="one style of the teacher, e.g. pop")
    style.add_argument("--mix", help="weighted style mix, e.g. pop=0.7,chorale=0.3")
    p.add_argument("--lead", help="MIDI file with the lead (else the teacher writes one too)")
    p.add_argument("--causal", action="store_true", help="chunk by chunk, never looking ahead of the chunk")
    p.add_argument("--bars", type=_count, default=None, help="bars to generate (default: the lead's length, or 8)")
    p.add_argument("--tempo", type=float, default=100.0, help="tempo of a prompt-only sample")
    p.add_argument("-o", "--output", required=True, help="MIDI file to write")
    _add_sampler_args(p)
    p.set_defaults(func=command("accomp.model.commands", "teacher_sample", "TeacherSampleOptions"))

    p = tsub.add_parser("eval", help="metrics table: teacher (full view, causal, prompt-only) vs human and baselines")
    p.add_argument("--teacher", required=True, help="teacher checkpoint")
    p.add_argument("--planner", help="chord planner for a chord-conditioned teacher (default: the bundled one)")
    _add_corpus_args(p, required=True, multiple=True)
    p.add_argument("--split", choices=["train", "val", "all"], default="val")
    p.add_argument("--max-pieces", type=_count, default=64)
    p.add_argument("--bars", type=_count, default=8, help="bars per evaluated segment")
    p.add_argument("--json", metavar="FILE", type=_JSON, help="also write the table as JSON")
    _add_sampler_args(p)
    p.set_defaults(func=command("accomp.model.commands", "teacher_eval", "TeacherEvalOptions"))


def _add_planner(sub) -> None:
    planner = sub.add_parser("planner", help="train the chord planner (which chord each beat gets)")
    psub = planner.add_subparsers(title="planner commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = psub.add_parser("train", help="train the causal and the bidirectional chord planner on labelled corpora")
    _add_corpus_args(p, required=True, multiple=True)
    p.add_argument("--out", required=True, type=_MODEL, help="planner file to write (.safetensors)")
    p.add_argument("--styles", default="chorale,pop", help="the style vocabulary, as the teacher's (comma separated)")
    p.add_argument("--hidden", type=_count, default=192, help="GRU width")
    p.add_argument("--dropout", type=_share, default=0.0, help="dropout in training (input layer and between GRU layers)")
    p.add_argument("--minutes", type=_amount, default=10.0, help="wall-clock budget for both planners")
    p.add_argument("--whole-share", type=_share, default=0.35, help="share of the budget for the bidirectional planner")
    p.add_argument("--steps", type=_count, default=100000, help="at most this many updates per planner")
    p.add_argument("--no-teacher", action="store_true", help="train the causal planner on the labels alone (no KL from the bidirectional one)")
    p.add_argument("--seed", type=_seed, default=0)
    p.set_defaults(func=command("accomp.model.planner_train", "planner_train", "PlannerTrainOptions"))
    p = psub.add_parser("merge", help="one planner file of several trained apart: all decide live and plan a finished melody together")
    p.add_argument("planners", nargs="+", metavar="PLANNER", help="planner files (.safetensors), at least two")
    p.add_argument("--out", required=True, type=_MODEL, help="planner file to write (.safetensors)")
    _add_corpus_args(p, required=True, multiple=True)
    p.set_defaults(func=command("accomp.model.planner_train", "planner_merge", "PlannerMergeOptions"))
    p = psub.add_parser("eval", help="chord accuracy per beat against the labels: causal, bidirectional, and two baselines")
    p.add_argument("--planner", default=None, help="planner file (default: the bundled one)")
    _add_corpus_args(p, required=True, multiple=True)
    p.add_argument("--split", choices=["train", "val", "all"], default="val")
    p.add_argument("--json", metavar="FILE", type=_JSON, help="also write the table as JSON")
    p.set_defaults(func=command("accomp.model.planner_train", "planner_eval", "PlannerEvalOptions"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with as_ctrl_c():  # a closed terminal or `kill` ends any command as Ctrl+C does
            return int(args.func(args) or 0)
    except AccompError as exc:
        print(f"accomp: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("accomp: interrupted", file=sys.stderr)
        return 130
