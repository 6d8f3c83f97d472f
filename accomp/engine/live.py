"""The engine live: the audio callback keeps time, a worker thread drives the engine.

:class:`LiveSession` builds and owns the pieces for one run: the sample clock, the synth,
the audio device, MIDI input and output, the recorder. Its worker thread is the engine's
only caller: it polls the engine when lead input arrives (rtmidi's callback writes a byte to
a pipe) or when the engine asked to be woken, and checks the audio device is still alive.
A recorder thread drains the recording rings.

:meth:`LiveSession.stop` always runs to the end, whatever failed: the engine stops (its
sinks flush: every note ends, on the synth and on MIDI out), the audio device closes once
the synth has played the flush, MIDI input closes (the terminal's keys, when they are the
lead, close first: their last note-off reaches the engine), MIDI output sends its note-offs and CCs
and closes, the recording is written.
A device that failed leaves its one-line reason in :attr:`LiveSession.error`. A MIDI
keyboard unplugged while playing is not a failure: a watch thread sees its port go, lets every
lead key up (nothing stays held, on the synth or for the band), says so in
:attr:`LiveSession.notices`, and listens to it again when it is back.

For waveforms and meters, :attr:`LiveSession.output_monitor` (and, with an audio input,
:attr:`LiveSession.input_monitor`) receive a copy of every block the callback plays (and
records); one reader (the GUI's timer) drains them; what nobody reads is dropped.

Listening (``LiveSettings.input`` "audio" or "both"): the callback also copies the input
into a :class:`~accomp.listen.live.Listener`'s ring, whose thread hears notes in it and hands
them to the engine. Follow mode (``LiveSettings.follow``, or :meth:`LiveSession.set_follow`
while playing) puts a :class:`~accomp.listen.follow.Follower` in the engine.
:meth:`LiveSession.listen_state` is what a GUI shows of both (input level, pitch heard,
input state such as "no signal", tempo and the player's tracked tempo);
:meth:`LiveSession.tap` is tap tempo.
"""

from __future__ import annotations

import os
import queue
import select
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from accomp.config import check_tempo
from accomp.devices.audio import AudioDevice, AudioSettings, raise_thread_priority
from accomp.realtime.clock import SampleClock
from accomp.engine.engine import Engine
from accomp.engine.recorder import Recorder
from accomp.realtime.rings import AudioRing
from accomp.errors import DeviceError, SettingsError
from accomp.listen.analyzer import ListenSettings
from accomp.listen.follow import FollowSettings, Follower, TapTempo

INPUTS = ("midi", "audio", "both")

FIRST_CALLBACK_S = 5.0
WORKER_TICK_S = 0.05  # the worker looks at the devices at least this often
RECORDER_TICK_S = 0.05
WAIT_SLICE_S = 0.1  # LiveSession.wait wakes this often, to see a Ctrl+C
MIDI_WATCH_S = 0.5  # the MIDI input's port is looked for this often (a keyboard unplugged?)
FLUSH_WAIT_S = 1.0
# The audio callback is Python: it needs the GIL, which a busy worker hands over only every
# switch interval (5 ms by default, longer than a 128-frame block). Shorter while playing.
SWITCH_INTERVAL_S = 0.0005
WORKER_NICE = -5  # the engine's thread, when allowed: below the audio thread, above the rest
MONITOR_S = 0.5  # audio kept for the monitor rings


def midi_in_gone(port: str) -> str:
    """How a notice that the MIDI input went away begins (a window takes it down when it is back)."""
    return f"MIDI input '{port}' went away"


def midi_in_back(port: str) -> str:
    return f"MIDI input '{port}' is back"


@dataclass(frozen=True)
class LiveSettings:
    audio: AudioSettings = field(default_factory=AudioSettings)
    synth: bool = True  # the built-in SoundFont synth on the audio output
    soundfont: str | None = None
    midi_in: str | int | None = None  # port name (part of it) or number
    midi_in_virtual: str | None = None  # or open a virtual input port of this name
    midi_out: str | int | None = None  # None and no virtual port: no MIDI output
    midi_out_virtual: str | None = None
    midi_api: str | None = None  # 'alsa', 'jack', ...; None: the best one present
    use_midi_in: bool = True
    keys: bool = False  # the lead from the terminal's keys instead of a MIDI input port
    record_midi: str | None = None
    record_wav: str | None = None
    start_delay_s: float = 0.0  # the transport (count-in first) starts this long after the devices
    input: str = "midi"  # the lead: "midi", "audio" (heard in audio.input_device) or "both"
    listen: ListenSettings = field(default_factory=ListenSettings)
    follow: FollowSettings | None = None  # None: lead mode (the band keeps its own time)

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise SettingsError(f"input must be one of {', '.join(INPUTS)}, got '{self.input}'")
        if self.input != "midi" and self.audio.input_device is None:
            raise SettingsError("listening to audio needs an audio input device (use '' for the default one)")


class LiveSession:
    def __init__(self, engine: Engine, settings: LiveSettings, parts=None) -> None:
        if engine.settings.sample_rate != settings.audio.sample_rate or engine.settings.block_frames != settings.audio.block_frames:
            raise ValueError("engine and audio device must agree on sample rate and block size")
        self.engine = engine
        self.settings = settings
        self._parts = parts
        self.clock = SampleClock(settings.audio.sample_rate, settings.audio.block_frames)
        engine.clock = self.clock  # decisions see the time after the model step, not before
        self.synth = None
        self.audio: AudioDevice | None = None
        self.midi_in = None
        self.midi_out = None
        self.recorder: Recorder | None = None
        monitor = round(MONITOR_S * settings.audio.sample_rate)
        self.output_monitor = AudioRing(monitor, 2)
        self.input_monitor = AudioRing(monitor, settings.audio.input_channels) if settings.audio.input_device is not None else None
        self.error: str | None = None
        self.notices: list[str] = []  # what the player should know while playing (a keyboard unplugged, back)
        self.listener = None  # the audio input's analysis thread, when listening
        self._tap = TapTempo(settings.audio.sample_rate)
        self._stop = threading.Event()
        self.ended = threading.Event()  # set when play ended by itself (a device failed)
        self._panic = False
        self._controls: queue.SimpleQueue = queue.SimpleQueue()  # engine changes, run by the worker
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._worker: threading.Thread | None = None
        self._recorder_thread: threading.Thread | None = None
        self._watch_thread: threading.Thread | None = None
        self._stopped = False
        self._switch_interval = sys.getswitchinterval()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Open every device and start playing; on any failure, close what was opened."""
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        try:
            self._open()
        except BaseException:
            if self.recorder is not None:
                self.recorder.discard()  # nothing was played: no empty take left behind
            self.stop()
            raise

    def _open(self) -> None:
        from accomp.devices import midi

        s = self.settings
        e = self.engine
        if s.synth:
            from accomp.synth.soundfont import DEFAULT_PARTS, Synth

            self.synth = Synth(s.audio.sample_rate, s.audio.block_frames, e.synth_inputs,
                               self._parts or DEFAULT_PARTS, s.soundfont)  # fmt: skip
        if s.record_midi or s.record_wav:
            accomp_program = next((p.program for p in self._parts or () if p.name == "accomp"), 0)
            self.recorder = Recorder(e.transport, e.record, midi_path=s.record_midi, wav_path=s.record_wav,
                                     bass_program=e.rhythm.band.bass_program, accomp_program=accomp_program)  # fmt: skip
        e.recording = self.recorder is not None  # else nobody drains the record ring: it would only overflow
        render = self.synth.render if self.synth is not None else None
        tap = self.recorder.audio if self.recorder is not None else None
        if s.input != "midi":
            from accomp.listen.live import Listener

            self.listener = Listener(s.audio.sample_rate, s.audio.input_channels, e.receive_heard, s.listen, self._nudge)
        if s.follow is not None:
            e.follower = Follower(e, s.follow)
        self.audio = AudioDevice(s.audio, self.clock, render, tap=tap, monitor=self.output_monitor, input_ring=self.input_monitor,
                                 analysis_ring=self.listener.ring if self.listener is not None else None)  # fmt: skip
        self.audio.open()
        api = midi.midi_api(s.midi_api)
        if s.use_midi_in and s.input != "audio" and s.keys:
            from accomp.devices.terminal_keys import TerminalKeys

            self.midi_in = TerminalKeys(e.receive, self.clock, note_s=lambda: 30.0 / e.transport.tempo, wake_fd=self._wake_w)
        elif s.use_midi_in and s.input != "audio":
            self.midi_in = midi.MidiInput(e.receive, self.clock, port=s.midi_in, virtual=s.midi_in_virtual,
                                          api=api, wake_fd=self._wake_w)  # fmt: skip
        if s.midi_out is not None or s.midi_out_virtual is not None:
            self.midi_out = midi.MidiOutput(e.midi_out_inputs, self.clock, port=s.midi_out,
                                            virtual=s.midi_out_virtual, api=api)  # fmt: skip
        self.audio.start()
        deadline = time.perf_counter() + FIRST_CALLBACK_S
        while self.audio.callbacks == 0:  # the clock starts with the first callback
            if time.perf_counter() > deadline or self.audio.finished.is_set():
                raise DeviceError(f"audio device '{self.audio.device_name}' never asked for audio")
            self._stop.wait(0.005)
        self.audio.raise_priority()
        if self.midi_out is not None:
            self.midi_out.start()
        if self.listener is not None:
            self.listener.start()
        self._worker = threading.Thread(target=self._run, name="accomp-engine", daemon=True)
        self._worker.start()
        if self.recorder is not None:
            self._recorder_thread = threading.Thread(target=self._record, name="accomp-recorder", daemon=True)
            self._recorder_thread.start()
        if isinstance(self.midi_in, midi.MidiInput) and s.midi_in_virtual is None:
            self._watch_thread = threading.Thread(target=self._watch_midi_in, name="accomp-midi-watch", daemon=True)
            self._watch_thread.start()

    def wait(self, seconds: float | None, on_notice: Callable[[str], None] | None = None) -> None:
        """Play for ``seconds`` (None: until a device fails or :meth:`stop` is called);
        ``on_notice`` is told each of :attr:`notices` as it comes.

        Waits in slices of :data:`WAIT_SLICE_S`: Ctrl+C's signal may be delivered to another
        thread (an audio or MIDI library's), and Python runs its handler on the main thread
        only when that thread wakes; an untimed wait slept through it (``accomp play`` did
        not stop on Ctrl+C, now and then)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        told = 0
        while not self.ended.is_set():
            if on_notice is not None:
                while told < len(self.notices):
                    on_notice(self.notices[told])
                    told += 1
            left = WAIT_SLICE_S if deadline is None else min(WAIT_SLICE_S, deadline - time.monotonic())
            if left <= 0:
                return
            self.ended.wait(left)

    def panic(self) -> None:
        """End every sounding note now (the transport keeps running)."""
        self._panic = True
        self._nudge()

    def set_player(self, player) -> None:
        """Switch the step player (a preset switch): the old one's notes all end first.

        The new player should be warmed up already; the worker swaps it in at once."""
        self._controls.put(lambda e, now: e.set_player(player, now))
        self._nudge()

    def set_band(self, band) -> None:
        """Change the rhythm section (a :class:`~accomp.music.band.Band`); its notes so far end first."""
        self._controls.put(lambda e, now: e.set_band(band, now))
        self._nudge()

    def set_tempo(self, bpm: float) -> None:
        """Change the tempo from now on (the position in the bar is kept)."""
        bpm = check_tempo(bpm)
        self._controls.put(lambda e, now: e.transport.set_tempo(bpm, now))
        self._nudge()

    def set_follow(self, settings: FollowSettings | None) -> None:
        """Follow the player (``settings``) or lead again (None); the tempo now is kept."""
        self._controls.put(lambda e, now: self._follow(e, settings))
        self._nudge()

    @staticmethod
    def _follow(e: Engine, settings: FollowSettings | None) -> None:
        e.follower = Follower(e, settings) if settings is not None else None
        if e.follower is not None and e.transport.running:
            e.follower.state = "following"  # already playing: nothing to wait for
        e.resting = False

    def tap(self) -> None:
        """Tap tempo: two taps or more set the tempo (the median of the last few intervals)."""
        at = self.clock.now()
        self._controls.put(lambda e, now: self._tapped(e, at, now))
        self._nudge()

    def _tapped(self, e: Engine, at: int, now: int) -> None:
        bpm = self._tap.tap(at)
        if bpm is not None:
            e.transport.set_tempo(bpm, now)
            if e.follower is not None:
                e.follower.tracker.forget()

    def set_input_gain(self, gain_db: float) -> None:
        if self.listener is not None:
            self.listener.analyzer.set_gain_db(gain_db)

    def set_gate(self, gate_db: float) -> None:
        if self.listener is not None:
            self.listener.analyzer.set_gate_db(gate_db)

    def set_listen_mode(self, mode: str) -> None:
        if self.listener is not None:
            self.listener.analyzer.set_mode(mode)

    def listen_state(self):
        """A :class:`~accomp.listen.live.ListenState` snapshot (any thread; the GUI's timer)."""
        from accomp.listen.live import midi_only_state

        e = self.engine
        f = e.follower
        follow = f.state if f is not None else "lead"
        estimate = f.tempo if f is not None and f.tracker.period is not None else None
        if self.listener is None:
            return midi_only_state(self.settings.input, follow, e.transport.tempo, estimate)
        return self.listener.state(self.settings.input, follow, e.transport.tempo, estimate)

    def stop(self) -> None:
        """Stop and close everything; safe to call more than once, and after a failure."""
        if self._stopped:
            return
        self._stopped = True
        if self.settings.keys and self.midi_in is not None:
            self.midi_in.close()  # the terminal's keys end their last note while the engine still listens
        elif self.midi_in is not None:
            # A key played from here on would reach the synth after the engine's last flush and
            # sound on; the port itself closes after the audio device (below).
            self.midi_in.stop_listening()
        self._stop.set()
        self._nudge()
        if self._watch_thread is not None:
            self._watch_thread.join(timeout=10)  # before the input it watches closes
        if self.listener is not None:
            self.listener.stop()
        if self._worker is not None:
            self._worker.join(timeout=10)
        else:
            self.engine.stop(self.clock.now())
        self._wait_for_flushes()
        # The audio device first: its callback is Python, and python-rtmidi closes a JACK
        # client holding the GIL, which waits for every client's cycle (synchronous JACK).
        if self.audio is not None:
            self.audio.close()
        if self.midi_in is not None:
            self.midi_in.close()
        if self.midi_out is not None:
            self.midi_out.close()
            self.error = self.error or self.midi_out.failed
        if self._recorder_thread is not None:
            self._recorder_thread.join(timeout=10)
        if self.recorder is not None:
            self.recorder.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        sys.setswitchinterval(self._switch_interval)
        self.ended.set()

    def _wait_for_flushes(self) -> None:
        """Give the audio thread a few blocks to apply the stop (its flushes end every note)."""
        if self.audio is None or not self.audio.alive():
            return
        target = self.audio.callbacks + 3
        deadline = time.perf_counter() + FLUSH_WAIT_S
        while self.audio.callbacks < target and time.perf_counter() < deadline and self.audio.alive():
            self._stop.wait(0.002)

    def _nudge(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass

    # ------------------------------------------------------------------ threads

    def _run(self) -> None:
        raise_thread_priority(threading.get_native_id(), WORKER_NICE)
        e, clock = self.engine, self.clock
        e.start(clock.now() + round(self.settings.start_delay_s * clock.sample_rate))
        wake = e.poll(clock.now())
        try:
            while not self._stop.is_set():
                timeout = min(max(clock.seconds_until(wake), 0.0), WORKER_TICK_S)
                if select.select([self._wake_r], [], [], timeout)[0]:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                while not self._controls.empty():
                    self._controls.get_nowait()(e, clock.now())
                if self._panic:  # cleared once done: whoever waits on it sees every note ended
                    e.panic(clock.now())
                    self._panic = False
                if not self.audio.alive():
                    self.error = self.audio.failed
                    break
                wake = e.poll(clock.now())
        finally:
            e.stop(clock.now())
            if self.error:
                self.ended.set()

    def _watch_midi_in(self) -> None:
        """A keyboard unplugged with keys down would leave them held for good, sounding on the
        synth and harmonized by the band: when its port goes, every lead key is let up (and a
        notice says so); when it comes back, it is listened to again."""
        m, gone = self.midi_in, False
        while not self._stop.wait(MIDI_WATCH_S):
            if not gone and not m.present():
                gone = True
                self._controls.put(lambda e, now: e.release_lead())
                self._nudge()
                self.notices.append(f"{midi_in_gone(m.port_name)}: its notes were let go; plug it in again and it is picked up")
            elif gone and m.reopen():
                gone = False
                self.notices.append(midi_in_back(m.port_name))

    def _record(self) -> None:
        while not self._stop.wait(RECORDER_TICK_S):
            self.recorder.poll()

    # ------------------------------------------------------------------ metrics

    def summary(self) -> dict:
        m = self.engine.metrics()
        audio = self.audio
        loads = audio.load() if audio is not None else None
        return {
            "engine": m.__dict__,
            "audio": {
                "device": getattr(audio, "device_name", None),
                "callbacks": audio.callbacks if audio else 0,
                "xruns": audio.xruns() if audio else 0,
                "load_mean": float(loads.mean()) if loads is not None and loads.size else 0.0,
                "load_max": float(loads.max()) if loads is not None and loads.size else 0.0,
                "output_latency_ms": 1000 * audio.output_latency_s if audio else 0.0,
            },
            "synth": None if self.synth is None else {
                "events": self.synth.events_played,
                "notes": {p.name: n for p, n in zip(self.synth.parts, self.synth.notes_played)},
                "muted_notes": self.synth.muted_notes, "late_events": list(self.synth.late_events),
            },
            "listen": None if self.listener is None else {
                "notes": self.listener.analyzer.notes_started, "onsets": len(self.listener.analyzer.onset_times),
                "pulses": self.listener.analyzer.pulses, "status": self.listener.analyzer.status,
                "dropped_frames": self.listener.ring.overflows, "error": self.listener.error,
            },
            "follow": None if self.engine.follower is None else {
                "state": self.engine.follower.state, "tempo_estimate": self.engine.follower.tempo,
                "onsets_used": self.engine.follower.tracker.accepted, "onsets_ignored": self.engine.follower.tracker.ignored,
            },
            "midi_in": None if self.midi_in is None else {
                "port": self.midi_in.port_name, "received": self.midi_in.received, "ignored": self.midi_in.ignored,
            },
            "transport_origin_sample": self.engine.transport.origin,
            "error": self.error,
        }  # fmt: skip
