"""Recording the session: a .mid (tracks ``lead`` and ``accomp``, ``bass`` and ``drums`` when
they played, the tempo map and the band's chords as markers) and a .wav.

The audio callback writes each output block into :attr:`Recorder.audio` (an
:class:`AudioRing`); the engine writes every lead and accompaniment event into its
``record`` ring. :meth:`Recorder.poll`, called from a non-real-time thread (or the offline
loop), drains both: audio goes straight into a 16-bit PCM .wav being written under a
temporary name, events into a list. :meth:`Recorder.close` (idempotent, and called from
``finally`` blocks so a failing device or an interrupt still ends here) ends notes left
open, writes the .mid, and moves both files into place (:mod:`accomp.files`).

Live, the band answers a beat when the lead's note on it has come (the grace window), a few
milliseconds past the beat, and a take's file keeps that. An offline render plays the same
engine in simulated time, where that wait is the simulation's, not music: with ``on_grid``
its file writes the band's events (every part but the lead, and the chord markers) that
came within ``on_grid`` samples of a grid step's start at that start, as a sequencer writes
a part on its grid. A chord changed on the beat then starts and ends on it, where the old
chord's last millisecond in the new beat read, to a chord reader of the band's notes, as
another chord (an open fifth C-G, with an F ending a millisecond in, as Csus4).
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import mido
import numpy as np

from accomp.engine.engine import ACCOMP, LEAD
from accomp.engine.rhythm import BASS, DRUMS
from accomp.engine.transport import Transport
from accomp.errors import DeviceError
from accomp.files import commit, temp_path
from accomp.music.bass import BASS_CHANNEL, BASS_PROGRAM
from accomp.music.chords import NO_CHORD, chord_name
from accomp.music.drums import DRUM_CHANNEL
from accomp.music.frames import OUT_TICKS_PER_BEAT, delta_track, save_midi
from accomp.realtime.notes import CHORD, CUT, NOTE_OFF, NOTE_ON, RETRACT
from accomp.realtime.rings import AudioRing, EventRing

# part -> (track name, MIDI channel); the rhythm section's tracks only when it played
TRACKS = {LEAD: ("lead", 0), ACCOMP: ("accomp", 1), BASS: ("bass", BASS_CHANNEL), DRUMS: ("drums", DRUM_CHANNEL)}
OPTIONAL_TRACKS = (BASS, DRUMS)
CHUNK = 4096


class Recorder:
    def __init__(
        self,
        transport: Transport,
        events: EventRing,
        *,
        midi_path: str | os.PathLike | None = None,
        wav_path: str | os.PathLike | None = None,
        channels: int = 2,
        buffer_seconds: float = 4.0,
        bass_program: int = BASS_PROGRAM,
        accomp_program: int = 0,
        on_grid: int = 0,
    ) -> None:
        self.transport = transport
        self.on_grid = on_grid  # samples: the band's events this soon after a grid step's start are written at it (0: as they came)
        self.bass_program = bass_program  # the bass track's program change
        self.accomp_program = accomp_program  # the accompaniment's (written when not the GM default, 0)
        self.events = events
        self.midi_path = Path(midi_path) if midi_path else None
        self.wav_path = Path(wav_path) if wav_path else None
        sr = transport.sample_rate
        self.audio = AudioRing(max(CHUNK, round(buffer_seconds * sr)), channels)
        self._chunk = np.zeros((CHUNK, channels), dtype=np.float32)
        self._pcm = np.zeros((CHUNK, channels), dtype=np.int16)
        self._notes: list[tuple[int, int, int, int, int]] = []  # (time, part, status, pitch, velocity)
        self._wav: wave.Wave_write | None = None
        self._wav_file = None
        self.frames_written = 0
        self.unended: dict[str, int] = {}  # per track: notes whose note-off never came (the file ends them)
        self.closed = False
        if self.wav_path is not None:
            try:
                self._wav_file = open(temp_path(self.wav_path), "wb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise DeviceError(f"{self.wav_path}: cannot write ({exc.strerror or exc})") from None
            self._wav = wave.open(self._wav_file, "wb")
            self._wav.setnchannels(channels)
            self._wav.setsampwidth(2)
            self._wav.setframerate(sr)

    def poll(self) -> None:
        """Drain the audio and event rings (a non-real-time thread)."""
        while True:
            i = self.events.head()
            if i < 0:
                break
            ring = self.events
            event = (ring.time_mv[i], ring.part_mv[i], ring.status_mv[i], ring.data1_mv[i], ring.data2_mv[i])
            ring.advance()
            if event[2] == CUT:  # a stop or a switch: what this part had scheduled from then on never sounded
                self._notes = [e for e in self._notes if e[1] != event[1] or e[0] < event[0]]
            elif event[2] == RETRACT:  # a wrong first guess of the analyser: that note-on was never played
                self._forget_note_on(event[0], event[1], event[3])
            else:
                self._notes.append(event)
        while True:
            n = self.audio.read(self._chunk)
            if n == 0:
                break
            if self._wav is not None:
                np.multiply(self._chunk[:n], 32767.0, out=self._chunk[:n])
                np.clip(self._chunk[:n], -32768, 32767, out=self._chunk[:n])
                self._pcm[:n] = self._chunk[:n]
                self._wav.writeframesraw(self._pcm[:n].tobytes())
                self.frames_written += n

    def _forget_note_on(self, when: int, part: int, pitch: int) -> None:
        for i in range(len(self._notes) - 1, -1, -1):
            t, p, status, q, velocity = self._notes[i]
            if (t, p, q) == (when, part, pitch) and status & 0xF0 == NOTE_ON and velocity > 0:
                del self._notes[i]
                return

    def close(self) -> None:
        """Finish both files and move them into place. Safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        self.poll()
        if self._wav is not None:
            self._wav.close()
            self._wav_file.close()
            commit(temp_path(self.wav_path), self.wav_path)
        if self.midi_path is not None:
            save_midi(self.to_midi(), self.midi_path)

    def discard(self) -> None:
        """Drop the temporary files without writing anything (a recording never started)."""
        self.closed = True
        if self._wav is not None:
            self._wav.close()
            self._wav_file.close()
            temp_path(self.wav_path).unlink(missing_ok=True)

    def to_midi(self) -> mido.MidiFile:
        """The events so far as a type-1 file: conductor (tempo map, meter, chord markers), then
        ``lead`` and ``accomp``, then ``bass`` and ``drums`` where they played."""
        t = self.transport
        tpb = OUT_TICKS_PER_BEAT

        def tick(sample: int) -> int:
            return max(0, round(t.beats_since_origin(sample) * tpb))

        def band_tick(sample: int) -> int:
            if self.on_grid > 0:
                start = t.step_sample(t.step_at(sample))
                if sample - start <= self.on_grid:
                    return tick(start)
            return tick(sample)

        def off_tick(at, when: int, on: int) -> int:
            """A note-off's tick, after its note-on's ``on``: ``at`` its time where that leaves
            the note some length, else as it came, and a tick after the note-on at the least (at
            the same tick the note-off would be written first, and the note never end)."""
            off = at(when)
            return off if off > on else max(tick(when), on + 1)

        num, den = t.settings.meter
        conductor = [(0, mido.MetaMessage("time_signature", numerator=num, denominator=den))]
        conductor += [(round(b * tpb), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))) for b, bpm in t.tempo_map()]
        conductor += [(band_tick(when), mido.MetaMessage("marker", text=chord_name(c))) for when, c in self.chords()]
        midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
        midi.tracks.append(delta_track("conductor", sorted(conductor, key=lambda e: e[0])))
        end = max([t.origin + self.frames_written] + [e[0] for e in self._notes])
        for part, (name, channel) in TRACKS.items():
            timed: list[tuple[int, int, mido.Message]] = []
            if part in OPTIONAL_TRACKS and not any(e[1] == part for e in self._notes):
                continue
            if part == BASS:
                timed.append((0, 0, mido.Message("program_change", channel=channel, program=self.bass_program)))
            elif part == ACCOMP and self.accomp_program:
                timed.append((0, 0, mido.Message("program_change", channel=channel, program=self.accomp_program)))
            sounding: dict[int, int] = {}  # pitch -> its note-on's tick
            at = tick if part == LEAD else band_tick
            for when, p, status, pitch, velocity in self._notes:
                if p != part:
                    continue
                kind = status & 0xF0
                if kind == NOTE_ON and velocity > 0:
                    if pitch in sounding:
                        timed.append((off_tick(at, when, sounding.pop(pitch)), 0, mido.Message("note_off", channel=channel, note=pitch)))
                    sounding[pitch] = on = at(when)
                    timed.append((on, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
                elif kind in (NOTE_ON, NOTE_OFF) and pitch in sounding:
                    timed.append((off_tick(at, when, sounding.pop(pitch)), 0, mido.Message("note_off", channel=channel, note=pitch)))
                elif kind == 0xB0:
                    msg = mido.Message("control_change", channel=channel, control=pitch, value=velocity)
                    timed.append((at(when), 1, msg))
            self.unended[name] = len(sounding)
            for pitch in sorted(sounding):  # notes that never ended end with the recording
                timed.append((tick(end), 0, mido.Message("note_off", channel=channel, note=pitch)))
            timed.sort(key=lambda e: (e[0], e[1]))
            midi.tracks.append(delta_track(name, [(tk, m) for tk, _, m in timed]))
        return midi

    def chords(self) -> list[tuple[int, int]]:
        """``(sample, chord index)`` where the band's chord changed (a re-decided beat's latest
        chord counts; a leading "no chord" does not)."""
        latest: dict[int, int] = {}
        for when, _, status, chord, _ in self._notes:
            if status == CHORD:
                latest[when] = chord
        out, before = [], NO_CHORD
        for when in sorted(latest):
            if latest[when] != before:
                out.append((when, latest[when]))
                before = latest[when]
        return out
