"""The command line as a user meets it: the installed `accomp` script and `python -m accomp`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accomp.cli import build_parser

# The console script pip put beside this interpreter (not resolved: a venv's python is a link).
ACCOMP = Path(sys.executable).parent / "accomp"


def run(*args: str, module: bool = False) -> subprocess.CompletedProcess[str]:
    if module:
        cmd = [sys.executable, "-m", "accomp", *args]
    else:
        if not ACCOMP.exists():
            pytest.fail(f"no console script at {ACCOMP}: install the project with 'pip install -e .'")
        cmd = [str(ACCOMP), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every (parent command path, subcommand name) in the argparse tree."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.append((path, name))
                found.extend(subcommands(child, (*path, name)))
    return found


TREE = subcommands(build_parser())


def test_the_tree_has_the_documented_commands():
    assert {((), "launch"), ((), "data"), ((), "eval"), (("data",), "stats")} <= set(TREE)


@pytest.mark.parametrize(("parent", "name"), TREE, ids=[" ".join((*p, n)) for p, n in TREE])
def test_help_lists_every_subcommand(parent, name):
    done = run(*parent, "--help")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("    ") and line.strip()}
    assert name in listed, done.stdout


def test_python_dash_m_behaves_the_same():
    script, module = run("--help"), run("--help", module=True)
    assert (module.returncode, module.stdout, module.stderr) == (script.returncode, script.stdout, script.stderr)
    script, module = run("no-such-command"), run("no-such-command", module=True)
    assert script.returncode == module.returncode == 2
    assert module.stderr == script.stderr


def test_version():
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("accomp ")


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["--no-such-flag"],
        ["eval", "--no-such-flag"],
        ["eval", "--split", "nonsense"],
        ["data"],
        ["data", "no-such-command"],
        ["data", "stats"],
        ["data", "stats", "--corpus", "no-such-corpus"],
        # a training run of nothing used to write a model of random weights
        ["distill", "--style", "pop", "--steps", "0"],
        ["distill", "--style", "pop", "--minutes", "-1"],
        ["distill", "--style", "pop", "--guidance", "nan"],
        ["teacher", "train", "--corpus", "chorales", "--out", "t.safetensors", "--steps", "0"],
        ["teacher", "train", "--corpus", "chorales", "--out", "t.safetensors", "--lr", "inf"],
        ["planner", "train", "--corpus", "chorales", "--out", "p.safetensors", "--minutes", "0"],
        ["planner", "train", "--corpus", "chorales", "--out", "p.safetensors", "--dropout", "1"],
        ["student", "eval", "--preset", "pop", "--corpus", "chorales", "--max-pieces", "0"],
        ["student", "eval", "--preset", "pop", "--corpus", "chorales", "--max-pieces", "many"],
        # a seed past 2**63 crashed torch's generator with a traceback; a negative one passed
        ["render", "lead.mid", "-o", "out.mid", "--seed", "99999999999999999999"],
        ["render", "lead.mid", "-o", "out.mid", "--seed", "-1"],
        ["distill", "--style", "pop", "--seed", "4294967296"],
        # an output that could not be written was found after the work (a table after an evaluation),
        # one with another suffix was written all the same (a model into t.txt)
        ["distill", "--style", "pop", "--out", "/nonexistent/dir/p.safetensors"],
        ["teacher", "train", "--corpus", "chorales", "--out", "t.txt"],
        ["planner", "train", "--corpus", "chorales", "--out", "p.mid"],
        ["data", "pack", "--corpus", "chorales", "--out", "x.txt"],
        ["student", "eval", "--preset", "pop", "--corpus", "chorales", "--json", "/nonexistent/dir/x.json"],
    ],
    ids=" ".join,
)
def test_usage_errors_are_one_line_and_exit_2(args):
    done = run(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "invalid _" not in lines[0], done.stderr  # not "invalid _count value"


def test_no_command_without_a_display_says_so_in_one_line():
    """`accomp` opens the window (tests/test_gui_launch.py); with no display it says why."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([str(ACCOMP)], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "accomp play" in lines[0], done.stderr


def test_play_that_cannot_start_says_what_to_do_and_leaves_no_empty_take(tmp_path):
    """A first hour without the devices: one line with a way forward, and no take1.mid /
    take1.wav left behind by a session that never played."""
    take = tmp_path / "take1"
    done = run("play", "--preset", "pop", "--host-api", "NoSuchHostApi", "--no-midi-in", "--record", str(take), "--duration", "1")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("accomp: error:") and "NoSuchHostApi" in lines[-1], done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "said"), [
    (["--guard", "-1"], "--guard: the guard's strength must be 0 (off) or more, got -1"),
    (["--guard", "nan"], "--guard: the guard's strength must be 0 (off) or more, got nan"),
    (["--threads", "0"], "--threads 0: the model needs 1 CPU thread or more"),
    (["--threads", "100000"], "--threads 100000: this machine runs"),  # each step took 400 ms
    (["--transpose", "2"], "--transpose 2 moves a chart's chords"),
    (["--grace-ms", "nan"], "grace window must be 0..200 ms, got nan"),  # a traceback
    (["--grace-ms", "1e9"], "grace window must be 0..200 ms, got 1e+09"),  # meaningless, accepted
])  # fmt: skip
def test_an_impossible_setting_is_a_one_line_error_not_a_silent_default(tmp_path, args, said):
    """A negative guard used to switch it off, zero threads to mean one, a transposition
    without a chart to do nothing, a grace window of NaN to crash: each now says what is
    wrong, and nothing is written."""
    import mido

    lead = mido.MidiFile()
    lead.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=80), mido.Message("note_off", note=60, time=480)]))
    lead.save(tmp_path / "lead.mid")
    done = run("render", str(tmp_path / "lead.mid"), "-o", str(tmp_path / "out.mid"), "--preset", "pop", *args)
    assert done.returncode == 1 and said in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out.mid").exists()


@pytest.mark.parametrize(("flag", "input_flag"), [("-o", None), ("--chords", "--chart")])
def test_a_render_never_writes_over_the_file_it_reads(tmp_path, flag, input_flag):
    """`-o lead.mid` wrote the render over the player's lead, `--chords` over the chart."""
    import mido

    lead = mido.MidiFile()
    lead.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=80), mido.Message("note_off", note=60, time=480)]))
    lead.save(tmp_path / "lead.mid")
    chart = tmp_path / "chart.txt"
    chart.write_text("| C | G |\n")
    inputs = {None: tmp_path / "lead.mid", "--chart": chart}
    before = {p: p.read_bytes() for p in inputs.values()}
    out = ["-o", str(tmp_path / "out.mid")] if flag != "-o" else []
    args = [*out, flag, str(inputs[input_flag]), *(["--chart", str(chart)] if input_flag else [])]
    done = run("render", str(tmp_path / "lead.mid"), "--preset", "pop", *args)
    what = "chart" if input_flag else "lead"
    assert done.returncode == 1 and f"that is the {what} file" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert {p: p.read_bytes() for p in inputs.values()} == before


def test_a_recording_is_not_silently_rendered_live_when_whole_song_is_asked(tmp_path):
    """`render take.wav --whole-song` rendered the recording as heard, live, and said nothing."""
    import numpy as np
    import soundfile as sf

    t = np.arange(48000) / 48000
    sf.write(tmp_path / "take.wav", 0.3 * np.sin(2 * np.pi * 440 * t), 48000)
    done = run("render", str(tmp_path / "take.wav"), "-o", str(tmp_path / "out.mid"), "--preset", "pop", "--whole-song")
    assert done.returncode == 1 and "is a recording" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out.mid").exists()


@pytest.mark.parametrize(("args", "said"), [
    (["--duration", "-5"], "--duration -5: give the seconds to play"),
    (["--duration", "nan"], "--duration nan: give the seconds to play"),  # it played for ever
    (["--metrics-json", "/no/such/folder/m.json"], "/no/such/folder: output folder does not exist"),  # found after the play
    (["--count-in", "1000"], "count-in must be 0..8 bars, got 1000"),  # 40 minutes of clicks at 100 bpm
    (["--meter", "99/4"], "--meter: meter 99/4: at most 16 beats a bar"),  # a count-in of 99 beats
    (["--meter", "3/32"], "its beat, a 1/32 note, is shorter than the grid's step"),  # bars off the grid
])  # fmt: skip
def test_play_refuses_what_it_could_not_honour_before_it_starts(args, said):
    done = run("play", "--preset", "pop", "--no-midi-in", "--host-api", "NoSuchHostApi", *args)
    assert done.returncode == 1 and said in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_lead_files_meter_is_its_own_unless_meter_names_another(tmp_path):
    """A MIDI file in 3/32 rendered with its bars off the grid; it is refused, and `--meter`
    (once taken for a recording only) plays it, or a file with no time signature, in another."""
    import mido

    lead = mido.MidiFile()
    notes = [m for p in (60, 62, 64, 65, 67, 65) for m in (mido.Message("note_on", note=p, velocity=80),
                                                            mido.Message("note_off", note=p, time=480))]  # fmt: skip
    lead.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=32), *notes]))
    lead.save(tmp_path / "lead.mid")
    done = run("render", str(tmp_path / "lead.mid"), "-o", str(tmp_path / "out.mid"), "--preset", "pop")
    assert done.returncode == 1 and "meter 3/32: its beat" in done.stderr and "--meter N/D" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.mid").exists()

    def meters(path):
        return [(m.numerator, m.denominator) for t in mido.MidiFile(path).tracks for m in t if m.type == "time_signature"]

    done = run("render", str(tmp_path / "lead.mid"), "-o", str(tmp_path / "out.mid"), "--preset", "pop", "--meter", "3/4")
    assert done.returncode == 0, done.stderr
    assert meters(tmp_path / "out.mid") == [(3, 4)]
    lead.tracks[0] = mido.MidiTrack(notes)  # no time signature: 4/4, unless told
    lead.save(tmp_path / "plain.mid")
    for told, meter in (([], (4, 4)), (["--meter", "6/8"], (6, 8))):
        done = run("render", str(tmp_path / "plain.mid"), "-o", str(tmp_path / "out.mid"), "--preset", "pop", *told)
        assert done.returncode == 0 and meters(tmp_path / "out.mid") == [meter], (told, done.stderr)
    (tmp_path / "waltz.txt").write_text("time: 3/4\n| C | G |\n")  # a chart alone, as a backing: --meter was ignored
    done = run("render", "--chart", str(tmp_path / "waltz.txt"), "-o", str(tmp_path / "out.mid"), "--preset", "pop", "--meter", "4/4")
    assert done.returncode == 0 and meters(tmp_path / "out.mid") == [(4, 4)], done.stderr


def test_an_audio_input_of_no_channels_is_refused_before_any_device_opens():
    done = run("play", "--preset", "pop", "--input", "audio", "--input-channels", "0", "--no-midi-in", "--duration", "1")
    assert done.returncode == 1 and done.stderr.strip() == "accomp: error: input channels 0 is out of range (1..64)", done.stderr



@pytest.mark.parametrize(
    "argv",
    [
        ["launch", "--play"], ["data", "stats", "--corpus", "chorales"], ["data", "pack", "--corpus", "chorales", "--out", "x.npz"],
        ["eval"], ["chart", "from-midi", "f.mid"], ["chart", "show", "f.txt"], ["devices", "--json"],
        ["teacher", "train", "--corpus", "chorales", "--out", "t.safetensors"],
        ["teacher", "sample", "--teacher", "t", "--style", "pop", "-o", "x.mid"],
        ["teacher", "eval", "--teacher", "t", "--corpus", "chorales"],
        ["planner", "train", "--corpus", "chorales", "--out", "p.safetensors"], ["planner", "eval", "--corpus", "chorales"],
        ["planner", "merge", "a.safetensors", "b.safetensors", "--out", "p.safetensors", "--corpus", "chorales"],
        ["distill", "--style", "pop"], ["preset", "sound", "pop"], ["preset", "calibrate", "pop"],
        ["student", "eval", "--preset", "pop", "--corpus", "chorales"],
    ],
)  # fmt: skip
def test_each_command_gets_typed_options_from_its_own_flags(argv):
    """Every field of a command's options has a flag of that name (none is left to a default)."""
    import importlib
    from dataclasses import fields

    from accomp.cli import build_parser
    from accomp.cli.commands import typed

    args = build_parser().parse_args(argv)
    module, _, name = args.func.target
    options = importlib.import_module(module).__dict__[name]
    assert [f.name for f in fields(options) if not hasattr(args, f.name)] == []
    assert type(typed(options, args)) is options
