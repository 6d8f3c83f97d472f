"""Follow mode in simulated time: tempo steps, rubato, noise, silence, tap tempo; and
`accomp render LEAD.wav` through the live analysis path."""

from __future__ import annotations

import numpy as np
import pytest

from accomp.engine.engine import Engine, EngineSettings
from accomp.realtime.notes import NOTE_OFF, NOTE_ON, PULSE
from accomp.engine.offline import run_offline
from accomp.engine.transport import TransportSettings
from accomp.listen.follow import BeatTracker, FollowSettings, Follower, TapTempo
from players import Fifth  # noqa: E402

SR = 48000



class Watch(Follower):
    """A follower that notes its tempo estimate after every onset."""

    def __init__(self, engine, settings=None):
        super().__init__(engine, settings)
        self.seen: list[tuple[int, float]] = []

    def onset(self, time, now):
        super().onset(time, now)
        if self.tracker.period is not None:
            self.seen.append((time, self.tempo))


def player(beats: list[float], *, jitter_ms: float = 0.0, seed: int = 0, start: float = 0.5) -> list[tuple[int, int, int, int]]:
    """Quarter notes at the given beat lengths (seconds), each held half a beat, timing jittered."""
    rng = np.random.default_rng(seed)
    events, t = [], start
    for i, length in enumerate(beats):
        at = round((t + rng.normal(0, jitter_ms / 1000)) * SR)
        events += [(at, NOTE_ON, 60 + i % 7, 90), (at + round(length * SR / 2), NOTE_OFF, 60 + i % 7, 0)]
        t += length
    return sorted(events, key=lambda e: (e[0], e[1] == NOTE_ON))


def follow(events, seconds, tempo=100.0, settings=None) -> tuple[Engine, Watch]:
    e = Engine(EngineSettings(transport=TransportSettings(tempo=tempo, count_in_bars=0, click=False)), Fifth())
    e.follower = Watch(e, settings or FollowSettings(wait_for_player=True))
    run_offline(e, events, seconds)
    return e, e.follower


def beats_to_recover(seen, step_at: float, target: float, beat_s: float, within: float = 0.03) -> float:
    """Beats after the tempo step until the estimate is within 3% of the new tempo for good."""
    after = [(t / SR, bpm) for t, bpm in seen if t / SR >= step_at - 1e-6]
    for i, (t, _) in enumerate(after):
        if all(abs(b / target - 1) <= within for _, b in after[i:]):
            return (t - step_at) / beat_s
    return float("inf")


@pytest.mark.parametrize("change", [1.10, 0.90])
@pytest.mark.parametrize("jitter_ms", [0.0, 8.0])
def test_a_ten_percent_tempo_step_is_followed_within_four_beats(change, jitter_ms):
    old, new = 60 / 100, 60 / (100 * change)
    beats = [old] * 16 + [new] * 16
    _, f = follow(player(beats, jitter_ms=jitter_ms, seed=3), sum(beats) + 1.5)
    step_at = 0.5 + 16 * old
    before = [bpm for t, bpm in f.seen if 4 * old + 0.5 < t / SR < step_at]
    assert all(abs(b / 100 - 1) < 0.03 for b in before), before
    recovered = beats_to_recover(f.seen, step_at, 100 * change, new)
    assert recovered <= 4, (recovered, f.seen[14:24])


def test_the_transport_lands_on_the_players_beats_after_a_step():
    old, new = 0.6, 0.6 / 1.1
    beats = [old] * 16 + [new] * 24
    events = player(beats)
    e, f = follow(events, sum(beats) + 1.0)
    last_onsets = [t for t, s, *_ in events if s == NOTE_ON][-6:]
    t = e.transport
    off = [abs(t.position(at) - round(t.position(at))) * t.samples_per_step / SR * 1000 for at in last_onsets]
    assert max(off) < 25, off  # ms from the grid


def test_rubato_is_followed():
    lengths = [0.6 * (1 + 0.08 * np.sin(i / 4)) for i in range(40)]  # slowing down and pushing on
    _, f = follow(player(lengths), sum(lengths) + 1.0)
    errors = [abs(bpm / (60 / lengths[min(len(lengths) - 1, i)]) - 1) for i, (_, bpm) in enumerate(f.seen)][8:]
    assert np.median(errors) < 0.04, errors


def test_noise_onsets_do_not_pull_the_tempo_away():
    beats = [0.5] * 40
    events = player(beats)
    rng = np.random.default_rng(5)
    noise = [(int(rng.uniform(0.6, 20) * SR), PULSE, 0, 0) for _ in range(8)]  # stray onsets, off the grid
    _, f = follow(sorted(events + noise), sum(beats) + 1.0, tempo=120)
    late = [bpm for t, bpm in f.seen if t / SR > 8]
    assert np.median(np.abs(np.array(late) / 120 - 1)) < 0.02 and max(abs(b / 120 - 1) for b in late) < 0.06


def test_the_band_waits_for_the_first_note_then_counts_it_as_a_downbeat():
    events = player([0.5] * 8, start=1.3)
    e, f = follow(events, 6.0, tempo=120)
    assert e.transport.origin == events[0][0]  # step 0 is the first note
    assert f.state == "following"


@pytest.mark.parametrize("policy", ["keep", "hold", "stop"])
def test_silence_keeps_playing_rests_or_stops_politely(policy):
    beats = [0.5] * 8
    events = player(beats) + player([0.5] * 4, start=0.5 + 8 * 0.5 + 6.0)
    e = Engine(EngineSettings(transport=TransportSettings(tempo=120, count_in_bars=0, click=False)), Fifth())
    e.follower = Follower(e, FollowSettings(silence=policy, wait_for_player=True, silence_beats=4))
    states = []

    class Spy:
        def __call__(self, b):
            states.append((b / SR, e.resting, round(e.transport.tempo, 1)))
            return []

    run_offline(e, sorted(events, key=lambda x: (x[0], x[1] == NOTE_ON)), 14.0, heard=Spy())
    quiet = [r for t, r, _ in states if 7.5 < t < 10]
    back = [r for t, r, _ in states if t > 12.5]
    assert all(abs(bpm - 120) < 3 for t, _, bpm in states if 1 < t < 10)  # the tempo is held through the silence
    if policy == "keep":
        assert not any(quiet) and not any(back)
    else:
        assert all(quiet) and not any(back)


def test_tap_tempo():
    tap = TapTempo(SR)
    assert tap.tap(0) is None
    for i in range(1, 5):
        bpm = tap.tap(round(i * 0.5 * SR))
    assert bpm == pytest.approx(120.0)
    assert tap.tap(round(10 * SR)) is None  # a long pause starts over


def test_the_grid_tracker_ignores_what_is_not_on_an_eighth_or_a_beat():
    tracker = BeatTracker(4)
    assert tracker.place(8.1) == 8 and tracker.place(6.2) == 6 and tracker.place(5.0) is None


def test_follow_settings_are_checked():
    with pytest.raises(ValueError, match="silence"):
        FollowSettings(silence="panic")


# ----------------------------------------------------------------------------- render a recording


def test_render_a_recording_through_the_live_analysis(tmp_path, capsys):
    pytest.importorskip("tinysoundfont")
    import mido
    import soundfile
    import torch

    from accomp.cli import main
    from accomp.config import DEFAULT_SPEC
    from accomp.model.checkpoint import save_teacher
    from accomp.model.preset import save_preset
    from accomp.model.student import Student
    from accomp.model.teacher import Teacher, TeacherConfig
    from accomp.synth.render import render_notes

    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    save_teacher(teacher, DEFAULT_SPEC, tmp_path / "teacher.safetensors")
    preset = tmp_path / "tiny.safetensors"
    save_preset(Student.from_teacher(teacher, kv_window=8), tmp_path / "teacher.safetensors", preset,
                style={"name": "pop", "weights": [1.0, 0.0, 0.0]})  # fmt: skip
    beat = 60 / 110
    tune = [60, 62, 64, 65, 67, 65, 64, 62] * 2
    notes = [(0.6 + i * beat, 0.6 + (i + 0.9) * beat, p, 90) for i, p in enumerate(tune)]
    audio = render_notes(notes, 0.6 + len(tune) * beat + 0.5, program=27, sample_rate=44100)  # not the engine's rate
    soundfile.write(tmp_path / "lead.wav", audio, 44100)
    code = main(["render", str(tmp_path / "lead.wav"), "--preset", str(preset), "-o", str(tmp_path / "out.mid"),
                 "--wav", str(tmp_path / "out.wav")])  # fmt: skip
    assert code == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("listening ")]
    total = f"0:{round(len(audio) / 44100 + 0.5):02d}"  # the recording and half a second after it
    assert progress[0] == f"listening 0:00 / {total}" and progress[-1] == f"listening {total} / {total}", progress
    midi = mido.MidiFile(tmp_path / "out.mid")
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp"]
    lead = [m.note for m in midi.tracks[1] if m.type == "note_on" and m.velocity > 0]
    assert lead == tune
    tempos = [mido.tempo2bpm(m.tempo) for m in midi.tracks[0] if m.type == "set_tempo"]
    assert all(abs(b / 110 - 1) < 0.05 for b in tempos[2:]), tempos
    out, rate = soundfile.read(tmp_path / "out.wav")
    assert rate == 48000 and len(out) >= len(audio) * 48000 / 44100


def test_render_refuses_an_unreadable_recording_in_one_line(tmp_path, capsys):
    from accomp.cli import main

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF0000WAVEnot really")
    assert main(["render", str(bad), "--preset", "pop", "-o", str(tmp_path / "o.mid")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read it as audio" in err[0]


def test_render_refuses_a_silent_or_nan_recording_in_one_line(tmp_path, capsys):
    import soundfile

    from accomp.cli import main

    for name, samples, message in (
        ("silent.wav", np.zeros(48000, np.float32), "is silent"),
        ("nan.wav", np.full(48000, np.nan, np.float32), "NaN"),
    ):
        path = tmp_path / name
        soundfile.write(str(path), samples, 48000, subtype="FLOAT")
        assert main(["render", str(path), "--preset", "pop", "-o", str(tmp_path / "o.mid")]) == 1, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o.mid").exists()
