"""Notes -> audio through the built-in SoundFont synth, off the audio thread.

What the listening tests and the audio latency benchmark play into the app: a melody (or
strummed chords) on any General MIDI instrument, rendered block by block through the same
:class:`~accomp.synth.soundfont.Synth` the app plays with, so the audio is what a real
instrument on that SoundFont sounds like (attack, decay, release tails and all).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from accomp.realtime.notes import NOTE_OFF, NOTE_ON
from accomp.realtime.rings import EventRing
from accomp.synth.soundfont import PartSound, Synth

TimedNote = tuple[float, float, int, int]  # (start s, end s, MIDI pitch, velocity)


def render_notes(
    notes: Sequence[TimedNote],
    seconds: float,
    *,
    sample_rate: int = 48000,
    program: int = 0,
    soundfont: str | os.PathLike | None = None,
    block: int = 128,
    gain: float = 1.0,
) -> np.ndarray:
    """Mono float32 audio, ``round(seconds * sample_rate)`` samples, of ``notes`` played on
    General MIDI ``program`` (0-based), each note starting at its exact sample."""
    events = []
    for start, end, pitch, velocity in notes:
        events.append((round(start * sample_rate), NOTE_ON, int(pitch), int(velocity)))
        events.append((round(end * sample_rate), NOTE_OFF, int(pitch), 0))
    events.sort(key=lambda e: (e[0], e[1] == NOTE_ON))  # note-offs first at the same sample
    ring = EventRing(max(16, len(events) + 1))
    for at, status, pitch, velocity in events:
        ring.push(at, 0, status, pitch, velocity)
    synth = Synth(sample_rate, block, [ring], parts=[PartSound("lead", 0, program=program, volume=1.0)], soundfont=soundfont)
    n = round(seconds * sample_rate)
    out = np.zeros(-(-n // block) * block, dtype=np.float32)
    for b in range(0, len(out), block):
        out[b : b + block] = synth.render(block, b).mean(axis=1)
    return out[:n] * np.float32(gain)
