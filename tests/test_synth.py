"""The built-in SoundFont synth: finding the font, sample-accurate events, parts, pedal, panic."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from accomp.realtime.notes import CONTROL, NOTE_OFF, NOTE_ON, PROGRAM
from accomp.realtime.rings import EventRing
from accomp.errors import DeviceError

tinysoundfont = pytest.importorskip("tinysoundfont")

from accomp.synth.soundfont import (  # noqa: E402
    CLICK_HIGH,
    CLICK_LOW,
    DEFAULT_PARTS,
    DEFAULT_SOUNDFONTS,
    PartSound,
    Synth,
    default_soundfont,
    load_soundfont,
)

import needs  # noqa: E402

SR = 48000
BLOCK = 128
SQUARE = 80  # GM "square lead": no attack, starts at its first sample


@pytest.fixture(scope="module")
def soundfont():
    return needs.soundfont()


def render(synth: Synth, blocks: int, start_block: int = 0) -> np.ndarray:
    return np.concatenate([synth.render(BLOCK, (start_block + b) * BLOCK).copy() for b in range(blocks)])


def first_sound(audio: np.ndarray, threshold: float = 1e-6) -> int:
    loud = np.flatnonzero(np.abs(audio).max(axis=1) > threshold)
    return int(loud[0]) if loud.size else -1


def test_the_default_soundfont_is_licence_clean_fluid_r3(soundfont):
    if os.environ.get("ACCOMP_SOUNDFONT"):
        pytest.skip("ACCOMP_SOUNDFONT chooses another font")
    assert soundfont.name.startswith(("FluidR3_GM", "FluidR3Mono_GM"))  # MIT; never TimGM6mb (GPL-2)
    assert all(Path(p).name.startswith(("FluidR3_GM", "FluidR3Mono_GM")) for p in DEFAULT_SOUNDFONTS)


@pytest.mark.parametrize("path", [p for p in DEFAULT_SOUNDFONTS if Path(p).is_file()] or [None])
def test_every_default_soundfont_has_the_general_midi_sounds_the_app_plays(path):
    """All 128 programs, the standard drum kit with the metronome's wood blocks and the
    drums' kick, snare and hi-hat: a font missing one would play silence for that part."""
    if path is None:
        pytest.skip("no default SoundFont installed")
    font = load_soundfont(path)
    assert [p for p in range(128) if font.get_preset_index(0, p) < 0] == []
    assert font.get_preset_index(128, 0) >= 0
    ring = EventRing()
    synth = Synth(SR, BLOCK, [ring], parts=[PartSound("drums", 9, drums=True, volume=1.0)], soundfont=path)
    for k, key in enumerate((CLICK_HIGH, CLICK_LOW, 36, 38, 42)):  # wood blocks, kick, snare, closed hi-hat
        ring.push(k * 100 * BLOCK, 0, NOTE_ON, key, 100)
    audio = render(synth, 500)
    for k in range(5):
        assert np.abs(audio[k * 100 * BLOCK : (k + 1) * 100 * BLOCK]).max() > 0.01


@pytest.mark.parametrize("content", [None, b"", b"RIFF\x10\x00\x00\x00WAVEfmt ", b"RIFF\x10\x00\x00\x00sfbk" + b"\x00" * 64])
def test_missing_or_corrupt_soundfonts_fail_in_one_line(tmp_path, content):
    path = tmp_path / "font.sf2"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DeviceError) as err:
        load_soundfont(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_no_soundfont_anywhere_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("ACCOMP_SOUNDFONT", raising=False)
    monkeypatch.setattr("accomp.synth.soundfont.DEFAULT_SOUNDFONTS", ())
    with pytest.raises(DeviceError, match="fluid-soundfont-gm"):
        default_soundfont()


def test_events_sound_at_their_exact_sample(soundfont):
    for at in (1000, 1001, 1151, 3 * BLOCK):
        ring = EventRing()
        synth = Synth(SR, BLOCK, [ring], parts=[PartSound("lead", 0, program=SQUARE)], soundfont=soundfont)
        ring.push(at, 0, NOTE_ON, 60, 100)
        assert first_sound(render(synth, 20)) == at
        assert synth.late_events == [0]


def test_parts_have_their_own_instrument_volume_and_mute(soundfont):
    lead, accomp = EventRing(), EventRing()
    synth = Synth(SR, BLOCK, [lead, accomp], parts=DEFAULT_PARTS[:2], soundfont=soundfont)
    accomp.push(0, 1, NOTE_ON, 48, 100)
    loud = np.abs(render(synth, 40)).max()
    synth.set_part("accomp", volume=0.1)
    quiet = np.abs(render(synth, 40, 40)).max()
    assert 0 < quiet < loud / 3
    synth.set_part("accomp", mute=True)
    audio = render(synth, 200, 80)
    assert synth.sounding() == 0 and np.abs(audio[-BLOCK:]).max() == 0
    accomp.push(300 * BLOCK, 1, NOTE_ON, 50, 100)  # muted: dropped
    assert np.abs(render(synth, 20, 299)).max() == 0 and synth.muted_notes == 1
    synth.set_part("accomp", mute=False, program=SQUARE)
    accomp.push(400 * BLOCK + 7, 1, NOTE_ON, 50, 100)
    assert first_sound(render(synth, 10, 400)) == 7  # square lead: no attack
    accomp.push(410 * BLOCK, 1, NOTE_OFF, 50, 0)
    render(synth, 80, 410)
    lead.push(500 * BLOCK, 0, PROGRAM, SQUARE, 0)
    lead.push(500 * BLOCK + 3, 0, NOTE_ON, 70, 100)
    assert first_sound(render(synth, 10, 500), threshold=1e-3) == 3
    assert synth.preset_name(0) and synth.preset_name(127, bank=5) is None


def test_sustain_pedal_holds_released_notes_until_it_lifts(soundfont):
    ring = EventRing()
    synth = Synth(SR, BLOCK, [ring], parts=[PartSound("lead", 0, program=SQUARE)], soundfont=soundfont)
    ring.push(0, 0, CONTROL, 64, 127)
    ring.push(10, 0, NOTE_ON, 60, 100)
    ring.push(2000, 0, NOTE_OFF, 60, 0)
    held = render(synth, 100)
    assert np.abs(held[-BLOCK:]).max() > 0.01 and synth.sounding() == 1
    ring.push(100 * BLOCK, 0, CONTROL, 64, 0)
    after = render(synth, 100, 100)
    assert np.abs(after[-BLOCK:]).max() < np.abs(held[-BLOCK:]).max() / 100 and synth.sounding() == 0


def test_panic_ends_every_part_and_drops_what_was_queued(soundfont):
    rings = [EventRing(), EventRing(), EventRing()]
    synth = Synth(SR, BLOCK, rings, soundfont=soundfont)
    for part, ring in enumerate(rings[:2]):
        ring.push(0, part, CONTROL, 64, 127)
        for pitch in (48, 52, 55):
            ring.push(5, part, NOTE_ON, pitch, 100)
    rings[1].push(50 * BLOCK, 1, NOTE_ON, 60, 100)  # queued for later: must never sound
    render(synth, 10)
    assert synth.sounding() == 6
    synth.panic()
    audio = render(synth, 100, 10)
    assert synth.sounding() == 0 and np.abs(audio[-10 * BLOCK :]).max() == 0


def test_render_makes_no_arrays_in_steady_state(soundfont):
    ring = EventRing()
    synth = Synth(SR, BLOCK, [ring], soundfont=soundfont)
    for pitch in range(40, 80, 3):
        ring.push(0, 1, NOTE_ON, pitch, 90)
    render(synth, 10)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for b in range(10, 2010):
            if b % 8 == 0:
                ring.push(b * BLOCK + 17, 1, NOTE_OFF, 40 + b % 40, 0)
                ring.push(b * BLOCK + 40, 1, NOTE_ON, 40 + b % 40, 80)
            synth.render(BLOCK, b * BLOCK)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    assert grown < 4096, f"render kept {grown} bytes"
