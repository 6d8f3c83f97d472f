"""Key changes, live: how soon the band plays in the lead's new key (issue "harmony first").

    .venv/bin/python benchmarks/key_change.py [--phrases 10] [--preset pop] [--tempo 100] [--no-synth]
                                              [--jack-server NAME] [--offline] [--moves far] [--out FILE]

Bar: the median key change is followed within one beat (``--moves far``, the default).

Three JACK clients on a dummy server (``latency.py``'s ``start_jack``: ``jackd --no-realtime
-d dummy -r 48000 -p 128`` under a name of its own; ``--jack-server`` uses a running one):

- the app, ``accomp play`` as a player runs it (a subprocess; the synth on JACK audio unless
  ``--no-synth``; one bar of count-in, MIDI clock on), reading the player's keyboard port and
  sending the accompaniment and its MIDI clock to the listener's port;
- a player (python-rtmidi, JACK API): ``--phrases`` phrases of two bars each, with no pause
  between them, each a diatonic tune (tonic, 3rd, 5th, leading tone, octave, 5th | 6th, 4th,
  3rd, 2nd, leading tone, tonic; quarters and eighths) in one major key, every phrase in a
  key far from the one before (C F# Bb E Ab D Db G Eb A F B, over and over: tritones, major
  thirds and half steps, which leave two or three pitch classes in common); ``--moves``
  ``half-up``, ``whole-up`` or ``fifths`` plays the moves songs make instead: up a half step
  (C Db D ...), up a whole step (C D E ...: pop's lift for a last chorus) or round the circle
  of fifths (C G D ...);
- a listener (python-rtmidi, JACK API) that stamps each message from the app on arrival.

The player plays on the app's beat, as it learns it from the app's MIDI clock: the start
message and every tick (24 a beat) since give the time of the app's origin, taken as the
earliest ``arrival - tick index x tick length`` over the last beat of ticks (a tick held up
on its way only ever arrives later, so the earliest is the truest; the last beat only, so
that a stall of the app's audio clock, which delays the band for good, is followed within a
beat, as a player would). ``latency.py`` reads the app's grid from a
shared file instead, which needs the engine in its own process; here the app is
``accomp play`` itself.

**In the new key** (the rule): for a key change at ``t0`` (the player sends the first note
of the new phrase), the band is in the new key from the first accompaniment note-on ``t >=
t0`` such that, over the beat ``[t, t + 1 beat)``, at least 80% of the accompaniment's
sounding note time (each note's overlap with that beat, notes held from before included)
lies on pitch classes of the new key's major scale. The beat must end before the next
phrase starts; a change with no such note-on is *never* (counted as infinitely slow in the
median). The time ``t - t0`` is reported in seconds and in beats at ``--tempo``; times are
MIDI arrivals, a block before the band's notes are heard (2.7 ms at 128 frames). Per change
also the beat of the new key that note falls on (1: its first; a note up to 20 ms early counts
as on the beat, the clock's jitter) and how many milliseconds after that beat it came: a band
that follows on the second beat, once the note that shows the change has reached it, reads
``1.01`` beats, ``on beat 2``, a few ms late. And the share of accompaniment note-ons on the
new key's scale during the second bar of the phrase. Pitch classes at random would give 7/12 =
58%.

``--offline`` plays the same take through ``accomp render`` instead (the lead written as a
MIDI file, the band read from the file it writes): the same engine and planner with every note
on time and no clock, so what it measures is the band's decisions alone, the same on a loaded
machine as on a quiet one; live, a machine that runs the app's steps late (xruns, notes past
their grace window) adds its own delays. Times are then the file's, with no output latency.

Writes a table (one row per key change, then median and max) and
``benchmarks/results/key_change.json`` (``--offline``: ``key_change_offline.json``; another
``--moves``: ``key_change[_offline]_half_up.json`` and so on).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from latency import die_with_parent, start_jack  # noqa: E402
from results_io import write_result  # noqa: E402

PLAYER, LISTENER = "key-change-player", "key-change-listener"
KEYS = [0, 6, 10, 4, 8, 2, 1, 7, 3, 9, 5, 11]  # tonic pitch classes, phrase after phrase (--moves far)
# --moves: the keys the phrases go through. "far", the bar's, is the hardest for a band that
# listens (few notes in common); the others are the moves songs make: up a half step or a
# whole step (pop's last-chorus lift) and round the circle of fifths.
MOVES = {"far": KEYS, "half-up": list(range(12)), "whole-up": [0, 2, 4, 6, 8, 10],
         "fifths": [0, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10, 5]}  # fmt: skip
NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MAJOR = (0, 2, 4, 5, 7, 9, 11)
# (semitones above the tonic, beats): 1 3 5 7 8 5 | 6 4 3 2 7 1, two bars of 4/4.
PHRASE = [(0, 1), (4, 0.5), (7, 0.5), (11, 0.5), (12, 0.5), (7, 1),
          (9, 0.5), (5, 0.5), (4, 0.5), (2, 0.5), (-1, 1), (0, 1)]  # fmt: skip
PHRASE_BEATS = 8
COUNT_IN_BARS = 1
THRESHOLD = 0.8  # share of sounding note time in the new key over one beat
ON_BEAT_S = 0.02  # a band note this much before a beat of the new key is read as on it (the clock's jitter)
NOTE_ON, NOTE_OFF, CLOCK, START = 0x90, 0x80, 0xF8, 0xFA
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0


# ----------------------------------------------------------------------------- the app's beat


class Grid:
    """The app's origin on this process's clock (``time.perf_counter``), from its MIDI clock."""

    def __init__(self, tempo: float) -> None:
        self.tick_s = 60.0 / tempo / 24
        self.origin: float | None = None
        self.ticks = 0
        self._recent: deque[float] = deque(maxlen=24)  # arrival - index x tick length, last beat
        self.started = threading.Event()

    def start(self, t: float) -> None:
        self.ticks = 0
        self._recent.clear()
        self._recent.append(t)
        self.origin = t
        self.started.set()

    def tick(self, t: float) -> None:  # tick 0 comes with the start message, at the origin
        if self.origin is None:
            return
        self._recent.append(t - self.ticks * self.tick_s)
        self.ticks += 1
        self.origin = min(self._recent)

    def time_of(self, beat: float) -> float:
        """When beat ``beat`` (0: the first beat after the count-in) falls."""
        return self.origin + (COUNT_IN_BARS * 4 + beat) * 24 * self.tick_s


class Listener:
    """The app's MIDI out: clock into the grid, everything else stamped and kept."""

    def __init__(self, grid: Grid) -> None:
        import rtmidi

        self.grid = grid
        self.messages: list[tuple[float, int, int, int]] = []  # (time, status, data1, data2)
        self.client = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=LISTENER)
        self.client.ignore_types(sysex=True, timing=False, active_sense=True)
        self.client.open_virtual_port("band")
        self.client.set_callback(self._callback)

    def _callback(self, event, data=None) -> None:  # rtmidi's thread
        t = time.perf_counter()
        message = event[0]
        if message[0] == CLOCK:
            self.grid.tick(t)
        elif message[0] == START:
            self.grid.start(t)
        elif len(message) == 3:
            self.messages.append((t, message[0], message[1], message[2]))

    def close(self) -> None:
        self.client.cancel_callback()
        self.client.close_port()
        self.client.delete()


# ----------------------------------------------------------------------------- the player


def tonic_pitch(pc: int) -> int:
    return 60 + pc if pc < 6 else 48 + pc  # tonics F#3..F4: the tunes stay within C#3..F5


def phrase_notes(phrases: int, keys: list[int] = KEYS) -> list[tuple[int, float, float, int]]:
    """``(pitch, start beat, beats held, phrase)`` of the whole take (each note held 90% of its
    length), phrase ``i`` in the key ``keys[i]`` (round and round)."""
    notes = []
    for i in range(phrases):
        beat, tonic = i * PHRASE_BEATS, tonic_pitch(keys[i % len(keys)])
        for offset, length in PHRASE:
            notes.append((tonic + offset, beat, 0.9 * length, i))
            beat += length
    return notes


def phrase_events(phrases: int, keys: list[int] = KEYS) -> list[tuple[float, int, int, int]]:
    """``(beat, status, pitch, phrase)`` of the whole take, note-offs first at a beat."""
    events = [e for pitch, start, held, i in phrase_notes(phrases, keys)
              for e in ((start, NOTE_ON, pitch, i), (start + held, NOTE_OFF, pitch, i))]  # fmt: skip
    return sorted(events, key=lambda e: (e[0], e[1] == NOTE_ON))


def play(keys, grid: Grid, events: list[tuple[float, int, int, int]]) -> list[tuple[float, int, int, int]]:
    """Send each event when its beat comes on the app's grid; returns ``(sent at, status, pitch, phrase)``."""
    sent = []
    for beat, status, pitch, phrase in events:
        while (left := grid.time_of(beat) - time.perf_counter()) > 0:
            time.sleep(min(left, 0.005))  # the grid may move while waiting: look again
        keys.send_message([status, pitch, 90 if status == NOTE_ON else 0])
        sent.append((time.perf_counter(), status, pitch, phrase))
    return sent


# ----------------------------------------------------------------------------- the run


def app_command(args: argparse.Namespace, seconds: float) -> list[str]:
    cmd = [sys.executable, "-m", "accomp", "play", "--preset", args.preset, "--tempo", f"{args.tempo:g}",
           "--count-in", str(COUNT_IN_BARS), "--no-click", "--midi-clock", "--midi-api", "jack", "--host-api", "JACK",
           "--midi-in", f"{PLAYER}:keys", "--midi-out", f"{LISTENER}:band", "--duration", f"{seconds:.0f}"]  # fmt: skip
    return cmd + (["--no-synth"] if args.no_synth else [])


def app_preexec() -> None:
    """The app's start: Ctrl+C as at a terminal, and killed if this script dies."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    die_with_parent(signal.SIGKILL)


def run(args: argparse.Namespace, tmp: Path) -> tuple[list, list, dict | None, int]:
    """Play the take into the app; returns (sent, received, the app's summary, its exit code)."""
    import rtmidi

    grid = Grid(args.tempo)
    listener = Listener(grid)
    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=PLAYER)
    keys.open_virtual_port("keys")
    beat_s = 60.0 / args.tempo
    seconds = (COUNT_IN_BARS * 4 + args.phrases * PHRASE_BEATS + 4) * beat_s + 120  # a safety net: SIGINT ends it
    # The fault handler: an app that does not stop on Ctrl+C is made to say where it is stuck.
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "PYTHONFAULTHANDLER": "1"}
    with (tmp / "app.out").open("wb") as out, (tmp / "app.err").open("wb") as err:
        # Ctrl+C as at a terminal, also when this script runs in the background: a background
        # job inherits SIGINT ignored, and the app, as any program, keeps it so (it then never
        # stopped: the "hang after Ctrl+C" seen in 3 runs of ~25, all of them background runs).
        app = subprocess.Popen(app_command(args, seconds), stdout=out, stderr=err, env=env,
                               preexec_fn=app_preexec)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not grid.started.wait(0.5):  # the app's clock starts with its transport
            if app.poll() is not None or time.monotonic() > deadline:
                tail = (tmp / "app.err").read_text(errors="replace")[-3000:]
                raise SystemExit(f"key_change.py: the app did not start playing (exit {app.poll()}):\n{tail}")
        sent = play(keys, grid, phrase_events(args.phrases, args.keys))
        threading.Event().wait(beat_s)  # the band's last beat
        app.send_signal(signal.SIGINT)
        try:
            code = app.wait(timeout=120)
        except subprocess.TimeoutExpired:
            app.send_signal(signal.SIGABRT)  # every thread's stack to its stderr
            app.wait(timeout=20)
            tail = (tmp / "app.err").read_text(errors="replace")[-12000:]
            raise SystemExit(f"key_change.py: the app did not stop within 120 s of Ctrl+C; its threads:\n{tail}")
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=20)
        keys.close_port()
        keys.delete()
        listener.close()
    try:
        summary = json.loads((tmp / "app.out").read_text())
    except ValueError:
        summary = None
    if code != 0:
        print((tmp / "app.err").read_text(errors="replace")[-3000:], file=sys.stderr)
    return sent, list(listener.messages), summary, code


def offline(args: argparse.Namespace, tmp: Path) -> tuple[list, list, dict | None, int]:
    """The take through ``accomp render``: (sent, received, None, its exit code) on the file's clock."""
    import mido
    from tunes import write_tune

    beat_s, count_in = 60.0 / args.tempo, COUNT_IN_BARS * 4
    # A silent bar first, as the count-in; write_tune ends a note 20 ticks (of 480) early.
    write_tune(tmp / "lead.mid", [(pitch, start + count_in, held + 20 / 480) for pitch, start, held, _ in phrase_notes(args.phrases, args.keys)],
               4, args.tempo)  # fmt: skip
    cmd = [sys.executable, "-m", "accomp", "render", str(tmp / "lead.mid"), "-o", str(tmp / "band.mid"), "--preset", args.preset]
    done = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=die_with_parent)
    if done.returncode != 0:
        raise SystemExit(f"key_change.py: accomp render failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    band = mido.MidiFile(tmp / "band.mid")
    received = []
    for part in band.tracks:
        if part.name == "lead":
            continue
        t = 0.0
        for msg in part:
            t += mido.tick2second(msg.time, band.ticks_per_beat, mido.bpm2tempo(args.tempo))
            if msg.type in ("note_on", "note_off"):
                received.append((t, (NOTE_ON if msg.type == "note_on" else NOTE_OFF) | msg.channel, msg.note, msg.velocity))
    sent = [((beat + count_in) * beat_s, status, pitch, phrase) for beat, status, pitch, phrase in phrase_events(args.phrases, args.keys)]
    return sent, sorted(received), None, 0


# ----------------------------------------------------------------------------- the measure


def band_notes(received: list[tuple[float, int, int, int]], end: float) -> np.ndarray:
    """The accompaniment's pitched notes (drums, MIDI channel 10, left out) as rows ``(on, off,
    pitch)``; a note never ended ends at ``end``."""
    notes, sounding = [], {}
    for t, status, pitch, velocity in received:
        kind = status & 0xF0
        if kind not in (NOTE_ON, NOTE_OFF) or status & 0x0F == DRUM_CHANNEL:
            continue
        if pitch in sounding:
            notes.append((sounding.pop(pitch), t, pitch))
        if kind == NOTE_ON and velocity > 0:
            sounding[pitch] = t
    notes += [(on, end, pitch) for pitch, on in sounding.items()]
    return np.array(sorted(notes), dtype=np.float64).reshape(-1, 3)


def in_key(pitches: np.ndarray, tonic: int) -> np.ndarray:
    return np.isin((pitches.astype(int) - tonic) % 12, MAJOR)


def time_share_in_key(notes: np.ndarray, tonic: int, start: float, stop: float) -> float | None:
    """Share of the sounding note time within ``[start, stop)`` on the key's scale (None: silence)."""
    overlap = np.clip(np.minimum(notes[:, 1], stop) - np.maximum(notes[:, 0], start), 0, None)
    total = overlap.sum()
    return float(overlap[in_key(notes[:, 2], tonic)].sum() / total) if total > 0 else None


def measure(sent: list, received: list, tempo: float, keys: list[int] = KEYS) -> list[dict]:
    """One row per key change: time to the new key, and the second bar's note-ons in it."""
    beat_s = 60.0 / tempo
    firsts = {}
    for t, status, _, phrase in sent:
        if status == NOTE_ON:
            firsts.setdefault(phrase, t)
    starts = [firsts[i] for i in sorted(firsts)]
    ends = starts[1:] + [starts[-1] + PHRASE_BEATS * beat_s]
    notes = band_notes(received, ends[-1] + beat_s)
    rows = []
    for i in range(1, len(starts)):
        t0, t_end, tonic = starts[i], ends[i], keys[i % len(keys)]
        ons = notes[(notes[:, 0] >= t0) & (notes[:, 0] <= t_end - beat_s), 0]
        found = next((t for t in ons if (share := time_share_in_key(notes, tonic, t, t + beat_s)) is not None
                      and share >= THRESHOLD), None)  # fmt: skip
        bar2 = notes[(notes[:, 0] >= t0 + 4 * beat_s) & (notes[:, 0] < min(t0 + 8 * beat_s, t_end))]
        # the new key's beat that note belongs to (a note up to ON_BEAT_S early counts as on it), and how late on it
        beat = None if found is None else int(math.floor((found - t0 + ON_BEAT_S) / beat_s))
        rows.append({
            "change": f"{NAMES[keys[(i - 1) % len(keys)]]}->{NAMES[tonic]}",
            "in_key_after_s": None if found is None else round(float(found - t0), 4),
            "in_key_after_beats": None if found is None else round(float(found - t0) / beat_s, 3),
            "on_new_keys_beat": None if beat is None else beat + 1,
            "ms_after_that_beat": None if beat is None else round(1000 * float(found - t0 - beat * beat_s), 1) + 0.0,
            "bar2_note_ons": int(len(bar2)),
            "bar2_in_key": round(float(in_key(bar2[:, 2], tonic).mean()), 3) if len(bar2) else None,
        })  # fmt: skip
    return rows


def spread(values: list[float | None]) -> dict:
    """Median and max with *never* (None) as infinitely slow; None where that is where they land."""
    v = np.array([math.inf if x is None else x for x in values], dtype=np.float64)
    if v.size == 0:
        return {"median": None, "max": None}
    return {k: (None if math.isinf(x) else round(float(x), 4)) for k, x in (("median", np.median(v)), ("max", v.max()))}


def shares(values: list[float | None]) -> dict:
    """Median and lowest of the phrases' shares (phrases whose second bar was silent left out)."""
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    return {"median": round(float(np.median(v)), 3), "min": round(float(v.min()), 3)} if v.size else {"median": None, "min": None}


def print_table(r: dict) -> None:
    s = r["settings"]
    print(f"key_change.py: preset {s['preset']}, {s['phrases']} phrases at {s['tempo']:g} bpm, {s['mode']}, synth {s['synth']}; "
          f"in the new key: >= {THRESHOLD:.0%} of one beat's sounding note time on its scale")  # fmt: skip
    print(f"{'change':<10}{'s':>9}{'beats':>9}{'on beat':>9}{'ms late':>9}{'bar 2 in key':>14}{'notes':>7}")

    def cell(x, fmt: str) -> str:
        return "never" if x is None else format(x, fmt)

    for row in r["changes"]:
        bar2 = "-" if row["bar2_in_key"] is None else f"{row['bar2_in_key']:.0%}"
        print(f"{row['change']:<10}{cell(row['in_key_after_s'], '.3f'):>9}{cell(row['in_key_after_beats'], '.2f'):>9}"
              f"{cell(row['on_new_keys_beat'], 'd'):>9}{cell(row['ms_after_that_beat'], '.1f'):>9}{bar2:>14}{row['bar2_note_ons']:>7}")  # fmt: skip
    sec, beats, bar2 = r["in_key_after_s"], r["in_key_after_beats"], r["bar2_in_key"]
    for label, slowest, lowest in (("median", "median", "median"), ("worst", "max", "min")):  # worst: max time, min share
        share = "-" if bar2[lowest] is None else f"{bar2[lowest]:.0%}"
        on = r["on_new_keys_beat"][slowest]
        print(f"{label:<10}{cell(sec[slowest], '.3f'):>9}{cell(beats[slowest], '.2f'):>9}{cell(on, 'g'):>9}{'':>9}{share:>14}")
    print(f"never in key: {r['never']}; bar (median <= 1 beat) met: {r['meets_bar']}; lead notes sent {r['lead_note_ons']}, "
          f"accompaniment note-ons {r['band_note_ons']}, app exit code {r['app']['exit_code']}")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="pop", help="a preset name or file")
    ap.add_argument("--phrases", type=int, default=10, help="two-bar phrases, each in a new key (phrases - 1 key changes)")
    ap.add_argument("--tempo", type=float, default=100.0)
    ap.add_argument("--no-synth", action="store_true", help="the app without its synth (MIDI out only)")
    ap.add_argument("--jack-server", help="use this running JACK server (default: start a dummy one)")
    ap.add_argument("--offline", action="store_true", help="through accomp render: the band's decisions without a clock")
    ap.add_argument("--moves", choices=list(MOVES), default="far",
                    help="the keys the phrases go through (default far: the bar's; half-up, whole-up, fifths: the moves songs make)")
    ap.add_argument("--out", help="default: benchmarks/results/key_change[_offline][_MOVES].json (far: no suffix)")
    args = ap.parse_args()
    if args.phrases < 2:
        ap.error("--phrases must be at least 2 (one key change)")
    args.keys = MOVES[args.moves]
    suffix = ("_offline" if args.offline else "") + ("" if args.moves == "far" else "_" + args.moves.replace("-", "_"))
    args.out = args.out or str(ROOT / "benchmarks" / "results" / f"key_change{suffix}.json")
    jack = None
    if args.offline:
        with tempfile.TemporaryDirectory(prefix="accomp-key-change-") as tmp:
            sent, received, summary, code = offline(args, Path(tmp))
    else:
        name = args.jack_server or f"accomp-key-change-{os.getpid()}"
        jack = None if args.jack_server else start_jack(name, 48000, 128)
        os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
        try:
            with tempfile.TemporaryDirectory(prefix="accomp-key-change-") as tmp:
                sent, received, summary, code = run(args, Path(tmp))
        finally:
            if jack is not None:
                jack.terminate()
                jack.wait(timeout=20)
    rows = measure(sent, received, args.tempo, args.keys)
    after_s, after_beats = spread([r["in_key_after_s"] for r in rows]), spread([r["in_key_after_beats"] for r in rows])
    audio = (summary or {}).get("audio", {})
    result = {
        "what": "a key change in the lead (its first note sent) -> the band's first note-on from which a beat "
                f"holds >= {THRESHOLD:.0%} of its sounding note time on the new key's major scale",
        "command": "benchmarks/key_change.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min": round(os.getloadavg()[0], 2)},  # fmt: skip
        "settings": {"preset": args.preset, "phrases": args.phrases, "tempo": args.tempo, "synth": not (args.no_synth or args.offline),
                     "jack_server": None if args.offline else "started" if jack is not None else args.jack_server,
                     "mode": "offline: accomp render, every note on time" if args.offline else "live: accomp play over JACK",
                     "count_in_bars": COUNT_IN_BARS,
                     "moves": args.moves, "keys": [NAMES[args.keys[i % len(args.keys)]] for i in range(args.phrases)]},  # fmt: skip
        "rule": {"window_beats": 1, "threshold": THRESHOLD, "weighting": "sounding note time", "from": "accompaniment note-ons"},
        "changes": rows,
        "in_key_after_s": after_s,
        "in_key_after_beats": after_beats,
        "on_new_keys_beat": spread([r["on_new_keys_beat"] for r in rows]),
        "never": sum(r["in_key_after_s"] is None for r in rows),
        "bar2_in_key": shares([r["bar2_in_key"] for r in rows]),
        "bar": {"median_beats": 1.0},
        "meets_bar": after_beats["median"] is not None and after_beats["median"] <= 1.0,
        "lead_note_ons": sum(1 for _, status, _, _ in sent if status == NOTE_ON),
        "band_note_ons": sum(1 for _, status, _, v in received if status & 0xF0 == NOTE_ON and v > 0),
        "app": {"exit_code": code, "xruns": audio.get("xruns"), "callbacks": audio.get("callbacks"),
                "midi_in": (summary or {}).get("midi_in"), "engine": (summary or {}).get("engine"),
                "error": (summary or {}).get("error")},  # fmt: skip
    }
    write_result(args.out, result)
    print_table(result)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
