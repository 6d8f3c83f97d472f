"""The engine's settings (one frozen dataclass; the engine turns its times into samples)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from accomp.config import DEFAULT_SPEC, MAX_GRACE_MS, FrameSpec
from accomp.engine.transport import TransportSettings
from accomp.music.band import Band


@dataclass(frozen=True)
class EngineSettings:
    sample_rate: int = 48000
    block_frames: int = 128
    transport: TransportSettings = field(default_factory=TransportSettings)
    spec: FrameSpec = DEFAULT_SPEC
    lookahead_ms: float = 2.0  # a step is decided this far ahead of the block that plays it
    grace_ms: float = 30.0  # a late lead onset still changes its step this long after it began
    heard_grace_ms: float = 40.0  # ... and, heard in the audio input, may be told this much later still
    # At a beat whose chord the player may still change with the beat's first lead note, the
    # accompaniment's new notes wait this long (at most the grace window) for that note;
    # without one they sound then, this late. 0: they sound on the beat, and a late note's
    # chord comes a 32nd after them.
    chord_wait_ms: float = 20.0
    # A re-decided step's notes go this far into the first block not rendered yet. 0: at its
    # start (a decision that loses the race with that block's callback slips one block;
    # the synth counts it as late).
    slack_ms: float = 0.0
    accomp_channel: int = 1  # MIDI out channel of the accompaniment (0-based)
    midi_out_accomp: bool = True  # False: MIDI out carries the clock only
    accomp_velocity: int = 72  # before any lead note is heard; then the lead's dynamics lead
    ring_capacity: int = 8192
    band: Band = field(default_factory=Band)  # the rhythm section: bass and drums (none by default)
    # Arranger mode: MIDI keys below this one name the chord (accomp.music.fingering) and are
    # not the lead; None: off, every key is the lead.
    split_key: int | None = None

    def __post_init__(self) -> None:
        if self.sample_rate < 8000 or self.block_frames < 16:
            raise ValueError("sample rate must be >= 8000 Hz and blocks >= 16 frames")
        if not (math.isfinite(self.grace_ms) and 0 <= self.grace_ms <= MAX_GRACE_MS):
            raise ValueError(f"grace window must be 0..{MAX_GRACE_MS:g} ms, got {self.grace_ms:g}")
        times = (self.lookahead_ms, self.heard_grace_ms, self.slack_ms, self.chord_wait_ms)
        if not all(math.isfinite(ms) and ms >= 0 for ms in times):
            raise ValueError("lookahead, chord wait and slack must be >= 0 ms")
        if self.split_key is not None and not 1 <= self.split_key <= 127:
            raise ValueError(f"split point {self.split_key} is not a MIDI key with keys below it (1..127)")
