"""Simulated time: the engine's live code path driven by an offline clock, no sound card.

:func:`run_offline` plays the part of both live threads. Before rendering the audio block
that starts at sample ``b`` (when a live audio callback would run), it hands the engine every
lead message and every wake-up due at or before ``b``, each at its own exact sample time (as
the MIDI input callback and the worker thread would, had they no jitter). Then the synth
renders the block and the recorder takes it. Audio input plays its part through ``heard``: called
once per block with the block's first sample, it returns the lead events an audio analyser
could tell by then (the input block before it, as a live duplex callback hands it over), and
they reach the engine at that sample, after every wake-up due before it. The MIDI output rings are drained as a MIDI
output would (and kept, for tests). Nothing reads a wall clock, so with a seeded player the
result is identical on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from accomp.engine.engine import Engine
from accomp.engine.recorder import Recorder
from accomp.realtime.rings import EventRing

LeadEvent = tuple[int, int, int, int]  # (sample, status, data1, data2)


@dataclass
class OfflineRun:
    """What an offline run produced besides the recorder's files."""

    samples: int
    audio: np.ndarray | None  # (samples, 2) float32 when a synth rendered and audio was kept
    midi_out: list[tuple[int, int, int, int, int]] = field(default_factory=list)  # what MIDI out would send


def drain(ring: EventRing, into: list | None) -> None:
    if not len(ring):
        return
    while True:
        record = ring.pop()
        if record is None:
            return
        if into is not None:
            into.append(record)


def run_offline(
    engine: Engine,
    lead: Sequence[LeadEvent],
    seconds: float,
    *,
    synth=None,
    recorder: Recorder | None = None,
    tempo_changes: Sequence[tuple[int, float]] = (),
    tail_seconds: float = 0.5,
    keep_audio: bool = True,
    heard: Callable[[int], Sequence[LeadEvent]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> OfflineRun:
    """Run ``engine`` for ``seconds`` of simulated time from sample 0, then stop it.

    ``lead`` must be sorted by sample time; ``tempo_changes`` are ``(sample, bpm)``. After
    the stop, ``tail_seconds`` more are rendered so that releases and the panic are heard.
    ``progress`` is called with each block's first sample (a :class:`~accomp.engine.progress.Progress`).
    """
    sr = engine.settings.sample_rate
    block = engine.settings.block_frames
    n_play = round(seconds * sr)
    n_total = n_play + round(tail_seconds * sr)
    n_blocks = -(-n_total // block)
    audio = np.zeros((n_blocks * block, 2), dtype=np.float32) if synth is not None and keep_audio else None
    run = OfflineRun(samples=n_blocks * block, audio=audio)
    tempos = sorted(tempo_changes)
    engine.start(0)
    wake = engine.poll(0)
    i = j = 0
    stopped = False
    for b in range(0, n_blocks * block, block):
        if progress is not None:
            progress(b)
        pending = list(heard(b)) if heard is not None and b < n_play else []
        while True:
            t_lead = lead[i][0] if i < len(lead) else None
            t_tempo = tempos[j][0] if j < len(tempos) else None
            if t_tempo is not None and t_tempo <= b and (t_lead is None or t_tempo <= t_lead) and t_tempo <= wake:
                engine.transport.set_tempo(tempos[j][1], t_tempo)
                j += 1
                wake = engine.poll(t_tempo)
            elif t_lead is not None and t_lead <= b and t_lead <= wake and t_lead < n_play:
                engine.receive(*lead[i])
                i += 1
                wake = engine.poll(t_lead)
            elif pending and wake >= b and not (t_lead is not None and t_lead <= b and t_lead < n_play):
                for event in pending:
                    engine.receive_heard(*event)
                pending = []
                wake = engine.poll(b)
            elif wake <= b and wake < n_play:
                wake = engine.poll(wake)
            else:
                break
        if not stopped and b >= n_play:
            engine.stop(b)
            stopped = True
        if synth is not None:
            out = synth.render(block, b)
            if audio is not None:
                audio[b : b + block] = out
            if recorder is not None:
                recorder.audio.write(out)
        else:
            for ring in engine.synth_inputs:
                drain(ring, None)
        for ring in engine.midi_out_inputs:
            drain(ring, run.midi_out)
        if recorder is not None:
            recorder.poll()
        else:
            drain(engine.record, None)
    if not stopped:
        engine.stop(n_blocks * block)
    if recorder is not None:
        recorder.close()
    return run
