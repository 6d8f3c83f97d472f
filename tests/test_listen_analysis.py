"""Listening: pitch, onsets, chords and bad input, on audio the SoundFont synth plays.

Melodies are rendered through the app's own synth (FluidR3 GM) on several instruments,
then fed to the streaming analyser in the audio callback's 128-frame blocks, clean and with
added noise and reverb. Reference: the notes that were rendered. Pitch is scored per
analysis frame (5 ms) over the frames where a note sounds, leaving out the first 30 ms of
each note (its attack, where the frame still holds the note before) and its last 20 ms.
"""

from __future__ import annotations


import numpy as np
import pytest

from accomp.realtime.notes import NOTE_OFF, NOTE_ON, PULSE, RETRACT
from accomp.listen.analyzer import CLIPPING, LOST, NO_SIGNAL, SIGNAL, InputAnalyzer, ListenSettings

pytest.importorskip("tinysoundfont")

from accomp.synth.render import render_notes  # noqa: E402
import needs  # noqa: E402

SR = 48000
BLOCK = 128
CLEAN_GUITAR, PIANO, SAX, NYLON = 27, 0, 65, 24


@pytest.fixture(scope="module", autouse=True)
def soundfont():
    return needs.soundfont()


def melody(seed: int, n: int = 24, beat: float = 0.3) -> tuple[list, float]:
    """A tune that moves like tunes do (steps and small leaps, some longer notes), legato."""
    rng = np.random.default_rng(seed)
    notes, t, pitch = [], 0.5, 60
    for _ in range(n):
        pitch = int(np.clip(pitch + rng.choice([-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5]), 48, 76))
        length = beat * rng.choice([1, 1, 2, 0.5])
        notes.append((t, t + length * 0.9, pitch, 90))
        t += length
    return notes, t + 0.5


_analysed: dict = {}


def analysed(takes, program: int, seed: int):
    """The analyser's run over a clean take (each take is analysed once per module)."""
    if (program, seed) not in _analysed:
        _analysed[program, seed] = analyse(takes[program, seed][1])
    return _analysed[program, seed]


def analyse(audio: np.ndarray, settings: ListenSettings | None = None, sr: int = SR):
    events = []
    a = InputAnalyzer(sr, lambda *e: events.append(e), settings)
    for b in range(0, len(audio), BLOCK):
        a.process(audio[b : b + BLOCK], b)
    a.release()
    return a, events


def pitch_accuracy(a: InputAnalyzer, notes, sr: int = SR) -> float:
    t, hz, _ = a.pitch_track()
    hit = total = 0
    for start, end, pitch, _ in notes:
        sounding = (t / sr > start + 0.03) & (t / sr < end - 0.02)
        cents = 1200 * np.log2(np.maximum(hz[sounding], 1.0) / (440.0 * 2 ** ((pitch - 69) / 12)))
        hit += int(np.sum(np.abs(cents) < 50))
        total += int(sounding.sum())
    return hit / total


def onset_f1(events, notes, sr: int = SR, within: float = 0.05) -> float:
    """F1 of note starts (a chord's notes are one start) against the rendered notes."""
    found = np.array(sorted({e[0] for e in events if e[1] == NOTE_ON})) / sr
    used, hits = set(), 0
    for start, *_ in notes:
        if len(found) == 0:
            break
        j = int(np.argmin(np.abs(found - start)))
        if abs(found[j] - start) <= within and j not in used:
            used.add(j)
            hits += 1
    precision, recall = hits / max(1, len(found)), hits / len(notes)
    return 2 * precision * recall / max(1e-9, precision + recall)


def reverb(audio: np.ndarray, seconds: float = 0.4, wet: float = 0.3, seed: int = 0) -> np.ndarray:
    """A room: exponentially decaying noise as the impulse response (RT60 = seconds)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir /= np.sqrt(np.sum(ir**2))
    tail = np.convolve(audio, ir)[: len(audio)]
    return ((1 - wet) * audio + wet * tail).astype(np.float32)


def noise(audio: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    rms = np.sqrt(np.mean(audio[audio != 0] ** 2))
    return (audio + np.random.default_rng(seed).standard_normal(len(audio)) * rms * 10 ** (-snr_db / 20)).astype(np.float32)


@pytest.fixture(scope="module")
def takes():
    """(instrument, seed) -> (notes, audio), rendered once for the module."""
    out = {}
    for program in (CLEAN_GUITAR, PIANO, SAX, NYLON):
        for seed in (1, 2):
            notes, seconds = melody(seed)
            out[program, seed] = notes, render_notes(notes, seconds, program=program)
    return out


@pytest.mark.parametrize("program", [CLEAN_GUITAR, SAX])  # a guitar, and a voice-like wind
def test_pitch_of_clean_melodies_within_50_cents_on_95_percent_of_voiced_frames(takes, program):
    scores = [pitch_accuracy(analysed(takes, program, seed)[0], takes[program, seed][0]) for seed in (1, 2)]
    assert min(scores) >= 0.95, scores


@pytest.mark.parametrize("program", [CLEAN_GUITAR, PIANO, SAX])
def test_onsets_f1_at_least_0_9_within_50_ms(takes, program):
    scores = [onset_f1(analysed(takes, program, seed)[1], takes[program, seed][0]) for seed in (1, 2)]
    assert min(scores) >= 0.9, scores


@pytest.mark.parametrize("program", [PIANO, NYLON])
def test_notes_left_ringing_still_track_most_frames(takes, program):
    """Piano and nylon guitar ring on under the next note (two pitches at once): harder."""
    for seed in (1, 2):
        notes = takes[program, seed][0]
        a, events = analysed(takes, program, seed)
        assert pitch_accuracy(a, notes) >= (0.9 if program == PIANO else 0.85)
        assert onset_f1(events, notes) >= 0.8


def test_noise_and_reverb_keep_pitch_and_onsets_usable(takes):
    notes, audio = takes[CLEAN_GUITAR, 1]
    noisy = noise(reverb(audio), snr_db=25)
    a, events = analyse(noisy, ListenSettings(gate_db=-45))
    assert pitch_accuracy(a, notes) >= 0.85
    assert onset_f1(events, notes) >= 0.85


def test_notes_come_out_as_midi_lead_input_does_and_all_end(takes):
    notes = takes[CLEAN_GUITAR, 2][0]
    a, events = analysed(takes, CLEAN_GUITAR, 2)
    ons = [e for e in events if e[1] == NOTE_ON]
    right = sum(any(abs(e[0] / SR - start) < 0.05 and e[2] == pitch for e in ons) for start, _, pitch, _ in notes)
    assert right >= 0.85 * len(notes)
    assert all(1 <= e[3] <= 127 for e in ons)
    sounding: set[int] = set()
    order = {NOTE_OFF: 0, NOTE_ON: 1, RETRACT: 2}  # a retraction takes back a note-on of its own time
    for at, status, pitch, _ in sorted(events, key=lambda e: (e[0], order.get(e[1], 0))):
        if status == NOTE_ON:
            sounding.add(pitch)
        elif status in (NOTE_OFF, RETRACT):
            sounding.discard(pitch)
    assert sounding == set() and a.sounding() == []


def test_a_strummed_chord_becomes_its_pitch_classes():
    strums = []
    for i, chord in enumerate([(48, 52, 55, 60, 64), (43, 47, 50, 55, 59, 67), (45, 52, 57, 60, 64)]):  # C, G, Am
        t = 0.5 + i * 1.0
        strums += [(t + 0.012 * j, t + 0.9, pitch, 90) for j, pitch in enumerate(chord)]
    audio = render_notes(strums, 3.5, program=NYLON)
    a, events = analyse(audio, ListenSettings(mode="chords"))
    heard = []
    for i in range(3):
        t = 0.5 + i * 1.0
        heard.append({e[2] % 12 for e in events if e[1] == NOTE_ON and abs(e[0] / SR - t) < 0.06})
    assert heard == [{0, 4, 7}, {7, 11, 2}, {9, 0, 4}], heard


# ----------------------------------------------------------------------------- bad input


def test_silence_is_no_signal_and_no_note():
    a, events = analyse(np.zeros(SR * 2, dtype=np.float32))
    assert a.status == NO_SIGNAL and events == []


def test_dc_offset_alone_is_no_signal_and_shown():
    a, events = analyse(np.full(SR * 2, 0.3, dtype=np.float32))
    assert events == [] and a.status == NO_SIGNAL and abs(a.dc_offset) > 0.2


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_makes_no_notes_and_does_not_hide_the_playing(takes, mains):
    t = np.arange(SR * 2) / SR
    hum = (0.05 * np.sin(2 * np.pi * mains * t) + 0.02 * np.sin(2 * np.pi * 3 * mains * t)).astype(np.float32)
    _, events = analyse(hum)
    assert [e for e in events if e[1] == NOTE_ON] == []
    notes, audio = takes[CLEAN_GUITAR, 1]
    t = np.arange(len(audio)) / SR
    a, events = analyse(audio + (0.02 * np.sin(2 * np.pi * mains * t)).astype(np.float32) + np.float32(0.1))  # and DC
    assert pitch_accuracy(a, notes) >= 0.9 and onset_f1(events, notes) >= 0.9


def test_clipping_is_shown_and_still_heard(takes):
    notes, audio = takes[CLEAN_GUITAR, 1]
    clipped = np.clip(audio * 20, -1, 1)
    a, events = analyse(clipped)
    assert a.status == CLIPPING or a.clipped_until > 0
    assert onset_f1(events, notes) >= 0.8


def test_nan_and_inf_from_a_broken_driver_do_not_crash():
    audio = np.zeros(SR, dtype=np.float32)
    audio[1000:2000] = np.nan
    audio[5000:5100] = np.inf
    a, events = analyse(audio)
    assert a.status in (NO_SIGNAL, SIGNAL, CLIPPING, "quiet")
    assert all(e[1] in (NOTE_ON, NOTE_OFF, PULSE, RETRACT) for e in events)


@pytest.mark.parametrize("rate", [22050, 44100, 96000])
def test_other_sample_rates_hear_the_same_notes(takes, rate):
    from accomp.synth.render import render_notes as render

    notes, seconds = melody(1, n=12)
    audio = render(notes, seconds, program=CLEAN_GUITAR, sample_rate=rate)
    a, events = analyse(audio, sr=rate)
    assert pitch_accuracy(a, notes, sr=rate) >= 0.9
    assert onset_f1(events, notes, sr=rate) >= 0.9


def test_lost_input_ends_its_notes_and_says_so():
    audio = render_notes([(0.4, 5.0, 64, 100)], 0.9, program=SAX)
    events = []
    a = InputAnalyzer(SR, lambda *e: events.append(e))
    for b in range(0, len(audio), BLOCK):
        a.process(audio[b : b + BLOCK], b)
    assert a.sounding() == [64]
    a.release(len(audio), lost=True)
    assert a.status == LOST and a.sounding() == [] and events[-1][1:3] == (NOTE_OFF, 64)


def test_settings_are_checked_in_one_line():
    with pytest.raises(ValueError, match="listening mode"):
        ListenSettings(mode="jazz")
    with pytest.raises(ValueError, match="noise gate"):
        ListenSettings(gate_db=10)
