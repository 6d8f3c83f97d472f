"""The rhythm section (issue 18): bass on the planned roots, drums in GM keys on channel 10
with a fill before each phrase, every note ended, in time after a tempo step in follow mode;
the chords as markers in recordings; flags and their one-line errors."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from accomp.cli import build_parser, main
from accomp.config import ONSET, SUSTAIN
from accomp.engine.engine import ACCOMP, Engine, EngineSettings
from accomp.engine.offline import run_offline
from accomp.engine.recorder import Recorder
from accomp.engine.rhythm import BASS, DRUMS
from accomp.engine.transport import TransportSettings
from accomp.listen.follow import FollowSettings, Follower
from accomp.music.band import Band, band_from_header
from accomp.music.bass import BASS_CHANNEL, BASS_PROGRAM, PATTERNS as BASS_PATTERNS
from accomp.music.charts import read_chart
from accomp.music.chords import CHROMA, NO_CHORD, chord_index, chord_name, root_of
from accomp.music.drums import CRASH, DRUM_CHANNEL, GM_DRUM_KEYS, KICK, PATTERNS, SNARE, hits
from accomp.realtime.notes import NOTE_OFF, NOTE_ON
from accomp.errors import SettingsError
from players import Fifth  # noqa: E402

SR = 48000
TPB = 480
CHART = "title: Rhythm test\ntempo: 120\n| C | Am | Dm7 G7 | C | F | G | Em Am | F G |\n"


def render(tmp_path, *flags, chart=CHART, name="band"):
    chart_file = tmp_path / "chart.txt"
    chart_file.write_text(chart)
    out, sheet = tmp_path / f"{name}.mid", tmp_path / f"{name}.txt"
    assert main(["render", "--chart", str(chart_file), "--preset", "pop", "-o", str(out), "--chords", str(sheet), *flags]) == 0
    return mido.MidiFile(out), sheet, read_chart(chart_file).per_beat()


def notes(track) -> list[tuple[int, int, int, int]]:
    """(tick, channel, key, velocity) of every note-on in a track."""
    tick, out = 0, []
    for m in track:
        tick += m.time
        if m.type == "note_on" and m.velocity > 0:
            out.append((tick, m.channel, m.note, m.velocity))
    return out


def track(midi, name):
    return next(t for t in midi.tracks if t.name == name)


@pytest.mark.parametrize("drums", ["rock", "pop-ballad"])
def test_the_bass_plays_the_planned_roots_and_the_drums_gm_keys_on_channel_10(tmp_path, drums):
    midi, _, per_beat = render(tmp_path, "--bass", "--drums", drums)
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp", "bass", "drums"]
    bass = notes(track(midi, "bass"))
    assert bass and {c for _, c, _, _ in bass} == {BASS_CHANNEL}
    assert [m.program for m in track(midi, "bass") if m.type == "program_change"] == [BASS_PROGRAM]
    on_beats = 0
    for tick, _, key, _ in bass:
        beat = tick // TPB
        if beat >= len(per_beat):
            continue
        root = root_of(int(per_beat[beat]))
        if tick % TPB == 0 and (drums == "rock" or beat % 4 == 0 or per_beat[beat] != per_beat[beat - 1]):
            assert key % 12 == root, (tick, key, chord_name(int(per_beat[beat])))  # a root where the pattern or a change says
            on_beats += 1
        else:  # between: a chord tone of the beat, or a half step under the next beat's root
            after = root_of(int(per_beat[min(beat + 1, len(per_beat) - 1)]))
            assert key % 12 in set(np.flatnonzero(CHROMA[int(per_beat[beat])])) | {(after - 1) % 12}, (tick, key)
        assert 26 <= key <= 55  # the bass register
    assert on_beats >= 8
    kit = notes(track(midi, "drums"))
    assert kit and {c for _, c, _, _ in kit} == {DRUM_CHANNEL} and all(k in GM_DRUM_KEYS for _, _, k, _ in kit)
    bars = {}
    for tick, _, key, _ in kit:
        bars.setdefault(tick // (4 * TPB), set()).add(key)
    toms = {41, 43, 45, 47, 48, 50}
    phrase = PATTERNS[drums].phrase_bars
    for bar, keys in bars.items():
        if bar < 8:
            assert bool(keys & toms) == ((bar + 1) % phrase == 0), (bar, keys)  # the fill before each phrase
    if phrase == 4:
        assert CRASH in bars[4] and CRASH not in bars[1]  # a new phrase opens with a crash
    velocities = {v for *_, v in kit}
    assert len(velocities) >= 2 and max(velocities) <= 127  # accents, not one velocity


def test_in_six_eight_the_band_plays_its_six_eight_feel_and_the_bass_follows_the_dotted_beat(tmp_path):
    """A compound meter's rhythm section: a groove written in quarter notes (rock here) would
    put its snare on the third eighth; in 6/8 the band plays the six-eight groove (snare on
    the fourth eighth) and the bass strikes the new root where the chord changes on it."""
    chart = "tempo: 120\ntime: 6/8\n| C . . G . . | F | C . . G . . | C |\n"
    midi, _, per_beat = render(tmp_path, "--bass", "--drums", "rock", chart=chart)
    bar, eighth = 3 * TPB, TPB // 2
    snares = [tick % bar for tick, _, key, _ in notes(track(midi, "drums")) if key == SNARE and tick < 3 * bar]
    assert snares and set(snares) == {3 * eighth}  # the fourth eighth; bar 4 (a fill) left out
    bass = {tick: key for tick, _, key, _ in notes(track(midi, "bass"))}
    for b, chord in enumerate(per_beat):
        if b % 3 == 0:  # each dotted quarter: the root where the chord changes, the pattern's degree elsewhere
            changed = b == 0 or chord != per_beat[b - 1]
            assert (bass[b * eighth] % 12 == root_of(int(chord))) or not changed, (b, chord_name(int(chord)))


def drum_grid(midi, bar_16ths: int) -> dict[int, dict[int, set[int]]]:
    """bar -> 16th of the bar -> the drum keys struck there."""
    grid: dict[int, dict[int, set[int]]] = {}
    for tick, _, key, _ in notes(track(midi, "drums")):
        sixteenth = tick // (TPB // 4)
        grid.setdefault(sixteenth // bar_16ths, {}).setdefault(sixteenth % bar_16ths, set()).add(key)
    return grid


TOMS = {41, 43, 45, 47, 48, 50}


def test_in_three_four_a_four_beat_groove_plays_the_waltz_with_its_fill_ending_the_bar(tmp_path):
    """Rock cut to three beats was kick, snare, kick, and its fill (the bar's last beat) never
    came; in 3/4 the band plays the waltz (kick on 1, snare on 2 and 3), its bass the root on
    the downbeat, and the fill before each phrase ends the bar."""
    chart = "tempo: 120\ntime: 3/4\n| C | F | G | C | Am | F | G | C |\n"
    midi, _, per_beat = render(tmp_path, "--bass", "--drums", "rock", chart=chart)
    grid = drum_grid(midi, 12)
    for bar in range(8):
        kicks = {s for s, keys in grid[bar].items() if KICK in keys}
        snares = {s for s, keys in grid[bar].items() if SNARE in keys}
        toms = {s for s, keys in grid[bar].items() if keys & TOMS}
        assert kicks == {0}, (bar, kicks)
        if bar % 4 == 3:  # the fill bar: the waltz's fill over its last beat
            assert toms and min(toms) >= 8 and 4 in snares, (bar, grid[bar])
        else:
            assert snares == {4, 8} and not toms, (bar, grid[bar])
    bass = notes(track(midi, "bass"))
    assert bass and all(tick % (3 * TPB) == 0 for tick, *_ in bass)  # one root a bar
    assert [key % 12 for _, _, key, _ in bass][:8] == [root_of(int(per_beat[3 * b])) for b in range(8)]


def test_a_bar_of_seven_eighths_keeps_the_groove_it_was_given(tmp_path):
    """Only a bar of three whole beats is a waltz: 7/8 (three quarters and an eighth) plays rock's kick on 3."""
    midi, _, _ = render(tmp_path, "--drums", "rock", chart="tempo: 120\ntime: 7/8\n| C | F | G | C |\n")
    grid = drum_grid(midi, 14)
    assert KICK in grid[0][8] and SNARE in grid[0][4], grid[0]


@pytest.mark.parametrize("meter, bar_16ths", [("12/8", 24), ("9/8", 18)])
def test_in_a_long_compound_bar_the_fill_ends_the_bar(tmp_path, meter, bar_16ths):
    """The six-eight groove is two dotted beats long; a 12/8 bar played its fill (and the
    phrase's crash) in its middle as well, a 9/8 bar in its middle only."""
    chart = f"tempo: 120\ntime: {meter}\n| C | F | G | C | Am | F | G | C |\n"
    midi, _, _ = render(tmp_path, "--drums", "rock", chart=chart)
    grid = drum_grid(midi, bar_16ths)
    for bar in range(8):
        toms = {s for s, keys in grid[bar].items() if keys & TOMS}
        crashes = {s for s, keys in grid[bar].items() if CRASH in keys}
        assert (toms and min(toms) >= bar_16ths - 6) if bar % 4 == 3 else not toms, (bar, grid[bar])
        assert crashes == ({0} if bar == 4 else set()), (bar, crashes)
        kicks = {s for s, keys in grid[bar].items() if KICK in keys}  # on the first of each two dotted beats
        assert 0 in kicks and kicks <= set(range(0, bar_16ths, 12)), (bar, grid[bar])


def test_a_pattern_in_a_bar_of_its_own_length_is_as_written():
    for pattern in PATTERNS.values():
        n = pattern.beats * 4
        for bar in range(9):
            assert [hits(pattern, s, bar, n) for s in range(n)] == [hits(pattern, s, bar) for s in range(n)]


def test_chord_markers_match_the_chord_log(tmp_path):
    midi, sheet, _ = render(tmp_path, "--drums", "swing", "--bass")
    tick, markers = 0, []
    for m in midi.tracks[0]:
        tick += m.time
        if m.type == "marker":
            markers.append(f"{tick // (4 * TPB) + 1} {tick % (4 * TPB) // TPB + 1} {m.text}")
    assert markers == sheet.read_text().splitlines()[1:]
    assert "2 1 Am" in markers and "3 3 G7" in markers


def test_a_melody_without_a_chart_gets_markers_of_the_planned_chords_and_no_band_unless_asked(tmp_path):
    lead = tmp_path / "lead.mid"
    m = mido.MidiFile(ticks_per_beat=TPB)
    t = mido.MidiTrack([mido.MetaMessage("track_name", name="lead")])
    for k in range(24):
        t.append(mido.Message("note_on", note=[64, 67, 69, 72, 71, 67][k % 6], velocity=70 + k % 3 * 10, time=0))
        t.append(mido.Message("note_off", note=[64, 67, 69, 72, 71, 67][k % 6], velocity=0, time=TPB))
    m.tracks.append(t)
    m.save(lead)
    out, sheet = tmp_path / "o.mid", tmp_path / "o.txt"
    assert main(["render", str(lead), "--preset", "chorale", "-o", str(out), "--chords", str(sheet)]) == 0
    midi = mido.MidiFile(out)
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp"]  # the chorale preset names no band
    tick, markers = 0, []
    for msg in midi.tracks[0]:
        tick += msg.time
        if msg.type == "marker":
            markers.append(f"{tick // (4 * TPB) + 1} {tick % (4 * TPB) // TPB + 1} {msg.text}")
    assert markers and markers == sheet.read_text().splitlines()[1:]


class Changes:
    """A stand-in player with a chord plan: a chord per beat, round and round, its triad held."""

    def __init__(self, chords):
        self.chords = chords
        self.chord = NO_CHORD

    def step(self, step, lead, beat_in_bar):
        self.chord = self.chords[(step // 4) % len(self.chords)]
        out = np.zeros_like(lead)
        keys = [60 - 21 + pc for pc in np.flatnonzero(CHROMA[self.chord])]
        out[SUSTAIN, keys] = 1
        out[ONSET, keys] = beat_in_bar % 4 == 0
        return out

    redo = step

    def chord_after(self, step):
        return self.chords[(step // 4 + 1) % len(self.chords)]


def _soundfont():
    from accomp.errors import DeviceError
    from accomp.synth.soundfont import default_soundfont

    try:
        return default_soundfont()
    except DeviceError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("drums", ["bossa", "waltz"])
def test_every_note_ends_on_chord_changes_tempo_changes_and_a_stop_mid_note(tmp_path, drums):
    from accomp.synth.soundfont import Synth

    meter = (3, 4) if drums == "waltz" else (4, 4)
    chords = [chord_index(0, "maj"), chord_index(9, "min"), chord_index(2, "min7"), chord_index(7, "7")]
    e = Engine(EngineSettings(transport=TransportSettings(tempo=110, meter=meter, count_in_bars=1, click=True),
                              band=Band(bass=True, drums=drums)), Changes(chords))  # fmt: skip
    synth = Synth(SR, 128, e.synth_inputs, soundfont=_soundfont())
    rec = Recorder(e.transport, e.record, midi_path=tmp_path / "t.mid")
    stop = round(9.37 * SR)  # mid-bar, mid-note
    run = run_offline(e, [], 9.37, synth=synth, recorder=rec, tempo_changes=[(3 * SR, 121.0), (6 * SR, 99.0)], keep_audio=False)
    assert synth.notes_played[BASS] > 10 and synth.notes_played[DRUMS] > 20
    assert synth.sounding() == 0 and e.rhythm.next_due() > 1 << 61
    assert rec.unended["bass"] == 0 and rec.unended["drums"] == 0  # the engine ended each of them itself
    sounding: set[tuple[int, int]] = set()
    for at, _, status, key, velocity in run.midi_out:  # MIDI out never strikes a sounding key again
        kind, channel = status & 0xF0, status & 0x0F
        if channel not in (BASS_CHANNEL, DRUM_CHANNEL) or kind not in (NOTE_ON, NOTE_OFF):
            continue
        if kind == NOTE_ON and velocity > 0:
            assert (channel, key) not in sounding, (at, channel, key)
            if channel == BASS_CHANNEL:  # the bass is one voice: a new note ends the one before
                assert not any(c == BASS_CHANNEL for c, _ in sounding), (at, key, sorted(sounding))
            assert at < stop + 128
            sounding.add((channel, key))
        else:
            sounding.discard((channel, key))
    midi = mido.MidiFile(tmp_path / "t.mid")
    bass = notes(track(midi, "bass"))
    assert bass[0][0] == 1 * meter[0] * TPB  # after the count-in, on the first bar's downbeat
    assert [m.text for m in midi.tracks[0] if m.type == "marker"][:4] == ["C", "Am", "Dm7", "G7"]


def beats(lengths, start=0.5):
    """Quarter notes of the given lengths (seconds) for a follower, each held half a beat."""
    events, t = [], start
    for i, length in enumerate(lengths):
        at = round(t * SR)
        events += [(at, NOTE_ON, 60 + i % 5, 90), (at + round(length * SR / 2), NOTE_OFF, 60 + i % 5, 0)]
        t += length
    return sorted(events, key=lambda e: (e[0], e[1] == NOTE_ON))


@pytest.mark.parametrize("change", [1.10, 0.90])
def test_bass_and_drums_stay_on_the_grid_after_a_tempo_step_in_follow_mode(change):
    old, new = 0.6, 0.6 / change
    events = beats([old] * 16 + [new] * 24)
    e = Engine(EngineSettings(transport=TransportSettings(tempo=100, count_in_bars=0, click=False),
                              band=Band(bass=True, drums="rock")), Fifth())  # fmt: skip
    e.follower = Follower(e, FollowSettings(wait_for_player=True))
    run = run_offline(e, events, sum([old] * 16 + [new] * 24) + 0.5)
    t = e.transport

    def off_grid_ms(at):
        p = t.position(at)
        return abs(p - round(p)) * t.samples_per_step / SR * 1000

    band = [(at, status & 0x0F, key) for at, _, status, key, v in run.midi_out if status & 0xF0 == NOTE_ON and v > 0
            and status & 0x0F in (BASS_CHANNEL, DRUM_CHANNEL)]  # fmt: skip
    accomp = [at for at, _, status, _, v in run.midi_out if status & 0xF0 == NOTE_ON and v > 0 and status & 0x0F == 1]
    after = 0.5 * SR + 16 * old * SR
    late_band = [at for at, *_ in band if at > after]
    assert len(late_band) > 40 and accomp
    assert max(off_grid_ms(at) for at, *_ in band) <= max(off_grid_ms(at) for at in accomp) + 0.1
    assert max(off_grid_ms(at) for at in late_band) < 10
    snares = [round(t.position(at)) % 16 for at, ch, key in band if ch == DRUM_CHANNEL and key == SNARE and at > after]
    fill_bars = {(round(t.position(at)) // 16) for at, ch, key in band if ch == DRUM_CHANNEL and key == 50}
    steady = [s for at, ch, key in band if ch == DRUM_CHANNEL and key == SNARE and at > after
              for s in [round(t.position(at)) % 16] if round(t.position(at)) // 16 not in fill_bars]  # fmt: skip
    assert snares and set(steady) <= {4, 12}  # the backbeat stays on 2 and 4 through the step
    roots = {key % 12 for at, ch, key in band if ch == BASS_CHANNEL}
    assert roots <= {(60 + i - 7) % 12 for i in range(5)}  # no plan: the texture's lowest voice


def test_flags_errors_and_the_presets_band(tmp_path, capsys):
    assert main(["render", "--chart", "resources/charts/pop_axis.txt", "--preset", "pop", "-o", str(tmp_path / "x.mid"),
                 "--drums", "polka"]) != 0  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no drum pattern 'polka'" in err and "pop-ballad" in err
    args = build_parser().parse_args(["play", "--preset", "pop", "--no-bass", "--drums", "off"])
    assert args.bass is False and args.drums == "off"
    from accomp.cli.engine import _spec

    assert _spec(args, None).band_for({"band": {"bass": True, "drums": "rock"}}) == Band(bass=False, drums=None)
    assert band_from_header({"band": {"bass": True, "drums": "bossa"}}) == Band(bass=True, drums="bossa")
    assert band_from_header({}).playing is False
    with pytest.raises(SettingsError):
        band_from_header({"band": {"drums": "polka"}})
    assert Band(drums="swing").feel == "walking" and Band(bass=True).feel == "ballad"
    assert all(p.bass in BASS_PATTERNS for p in PATTERNS.values())
    assert hits(PATTERNS["rock"], 0, 4)[0][0] == CRASH and hits(PATTERNS["rock"], 0, 1) == hits(PATTERNS["rock"], 0, 2)
    assert ACCOMP == 1 and (BASS, DRUMS) == (3, 4)


def test_a_chord_revised_on_the_beats_note_leaves_no_bass_note_shorter_than_a_32nd(tmp_path):
    """The bass waits with the accompaniment's new notes for the beat's lead note: before, the
    proposal's root was struck on the beat and replaced by the revised chord's a few ms later
    (Twinkle: 19 of 46 bass notes under 2 ms)."""
    twinkle = [60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60, 67, 67, 65, 65, 64, 64, 62]
    lead = tmp_path / "twinkle.mid"
    m = mido.MidiFile(ticks_per_beat=TPB)
    t = mido.MidiTrack([mido.MetaMessage("track_name", name="lead")])
    for pitch in twinkle:
        t.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        t.append(mido.Message("note_off", note=pitch, velocity=0, time=TPB - 20))
        t.append(mido.MetaMessage("text", text="", time=20))
    m.tracks.append(t)
    m.save(lead)
    out = tmp_path / "o.mid"
    assert main(["render", str(lead), "--preset", "pop", "--bass", "-o", str(out)]) == 0
    bass, tick, started = track(mido.MidiFile(out), "bass"), 0, {}
    lengths = []
    for msg in bass:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            started[msg.note] = tick
        elif msg.type in ("note_on", "note_off") and msg.note in started:
            lengths.append(tick - started.pop(msg.note))
    assert len(lengths) >= len(twinkle) // 2 and min(lengths) >= TPB // 8, sorted(lengths)[:5]
