"""Audio in/out through sounddevice (PortAudio): the callback that renders the engine's sound.

The callback is the engine's clock (it publishes each block's sample position, see
:class:`~accomp.realtime.clock.SampleClock`) and does only this: count xruns from the status
flags, render the synth into its preallocated buffer, copy it out, copy it to the recorder's
ring (and to a monitor ring for the GUI's waveforms), copy the input to the analysis ring
(and to the GUI's input monitor),
and note its own load. No allocation of arrays,
no lock, no logging, no import, no torch. (sounddevice itself wraps PortAudio's buffers in
numpy arrays for each call; that is outside our hands.)

Every way a device can fail (cannot be found or opened, refuses the sample rate, stops
mid-play) becomes a one-line :class:`~accomp.errors.DeviceError`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accomp.realtime.clock import SampleClock
from accomp.realtime.rings import AudioRing
from accomp.errors import DeviceError

LOAD_HISTORY = 4096
AUDIO_NICE = -11  # the callback's thread, when allowed (a real-time JACK server gives it more)
STALL_S = 0.5  # no callback for this long while running: the device is gone
CLOSE_TIMEOUT_S = 2.0
MAX_INPUT_CHANNELS = 64  # mixed to one; an interface with more is not a guitar or a voice

Render = Callable[[int, int], np.ndarray]  # (frames, start sample) -> (frames, 2) float32


@dataclass(frozen=True)
class AudioSettings:
    output_device: str | int | None = None  # name (or part of it), index, or the default
    input_device: str | int | None = None  # None: no audio input; "": the default input
    host_api: str | None = None  # e.g. "JACK", "ALSA"; None: any
    sample_rate: int = 48000
    block_frames: int = 128
    input_channels: int = 1

    def __post_init__(self) -> None:
        if not 8000 <= self.sample_rate <= 384000:
            raise DeviceError(f"sample rate {self.sample_rate} Hz is out of range (8000..384000)")
        if not 16 <= self.block_frames <= 8192:
            raise DeviceError(f"buffer size {self.block_frames} frames is out of range (16..8192)")
        if not 1 <= self.input_channels <= MAX_INPUT_CHANNELS:
            raise DeviceError(f"input channels {self.input_channels} is out of range (1..{MAX_INPUT_CHANNELS})")


def sounddevice():
    """Import sounddevice (PortAudio started), turning a missing PortAudio into a DeviceError."""
    try:
        import sounddevice as sd
    except OSError as exc:
        raise DeviceError(f"PortAudio is not available ({exc}); install libportaudio2") from None
    if sd._initialized == 0:
        sd._initialize()
    return sd


def release() -> None:
    """Shut PortAudio down (it lets go of a JACK server, which may then stop cleanly).

    Call only while no stream is open; :func:`sounddevice` starts it again when needed.
    """
    sd = sounddevice()
    while sd._initialized > 0:
        sd._terminate()


def abandon() -> None:
    """Never shut PortAudio down in this process: after its JACK server vanished, shutting
    down blocks or aborts (an assertion in its JACK host API). The OS reclaims it at exit."""
    import sounddevice as sd

    sd._initialized = 0


def refresh() -> None:
    """Re-scan devices: PortAudio only sees servers and devices present when it started.

    Call only while no stream is open.
    """
    release()
    sounddevice()


def host_api_index(name: str) -> int:
    """Index of the host API ``name`` (part of it); PortAudio re-scans once if it is missing."""
    sd = sounddevice()
    for attempt in range(2):
        names = [api["name"] for api in sd.query_hostapis()]
        matches = [i for i, n in enumerate(names) if name.lower() in n.lower()]
        if matches:
            return matches[0]
        if attempt == 0:
            refresh()  # e.g. a JACK server started after PortAudio did
    raise DeviceError(f"no audio host API '{name}' (there are: {', '.join(names)})")


def find_device(spec: str | int | None, kind: str, host_api: str | None = None) -> int:
    """Index of the ``kind`` ('input' or 'output') device named by ``spec``."""
    sd = sounddevice()
    devices = sd.query_devices()
    api = host_api_index(host_api) if host_api else None
    channels = "max_output_channels" if kind == "output" else "max_input_channels"
    usable = [(i, d) for i, d in enumerate(devices) if d[channels] > 0 and (api is None or d["hostapi"] == api)]
    if not usable:
        where = f" on host API '{host_api}'" if host_api else ""
        hint = ("start your sound server (PulseAudio/PipeWire) or a JACK server, plug in an audio interface, "
                "and check 'accomp devices'") if kind == "output" else "plug in a microphone or an audio interface, or play from MIDI"
        raise DeviceError(f"no audio {kind} device{where}: {hint}")
    if spec is None or spec == "":
        default = sd.default.device[0 if kind == "input" else 1]
        if api is not None:
            default = sd.query_hostapis(api)[f"default_{kind}_device"]
        return default if any(i == default for i, _ in usable) else usable[0][0]
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if any(i == index for i, _ in usable):
            return index
        raise DeviceError(f"no audio {kind} device number {index}")
    matches = [i for i, d in usable if str(spec).lower() in d["name"].lower()]
    if not matches:
        names = ", ".join(d["name"] for _, d in usable)
        raise DeviceError(f"no audio {kind} device matching '{spec}' (there are: {names})")
    return matches[0]


class AudioDevice:
    """One PortAudio stream (output, or duplex when an input is chosen) driving the engine."""

    def __init__(
        self,
        settings: AudioSettings,
        clock: SampleClock,
        render: Render | None,
        *,
        tap: AudioRing | None = None,
        monitor: AudioRing | None = None,
        input_ring: AudioRing | None = None,
        analysis_ring: AudioRing | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._render = render
        self._tap = tap  # the recorder's copy of the output
        self._monitor = monitor  # a second copy, for waveforms and meters
        self._input_ring = input_ring  # the GUI's input monitor
        self._analysis_ring = analysis_ring  # the listening analysis
        self._stream = None
        self._position = 0
        self._silence = np.zeros((settings.block_frames, 2), dtype=np.float32)
        self._loads = np.zeros(LOAD_HISTORY, dtype=np.float64)
        self._seconds_per_frame = 1.0 / settings.sample_rate
        self.callbacks = 0
        self.xrun_callbacks = 0
        self.output_underflows = 0
        self.output_overflows = 0
        self.input_underflows = 0
        self.input_overflows = 0
        self.priming = 0
        self.failed: str | None = None
        self.device_name = ""
        self.output_latency_s = 0.0  # as PortAudio reported it when the stream opened
        self.input_latency_s = 0.0  # likewise, with an input (0 without)
        self.callback_thread = 0  # native id of the thread running the callback (once it has run)
        self.finished = threading.Event()
        self._last_seen = (0, 0.0)  # (callbacks, perf_counter) at the last alive() check

    # ------------------------------------------------------------------ control thread

    def open(self) -> None:
        sd = sounddevice()
        s = self.settings
        out_dev = find_device(s.output_device, "output", s.host_api)
        in_dev = find_device(s.input_device, "input", s.host_api) if s.input_device is not None else None
        out_name = sd.query_devices(out_dev)["name"]
        try:
            sd.check_output_settings(out_dev, channels=2, dtype="float32", samplerate=s.sample_rate)
            if in_dev is not None:
                sd.check_input_settings(in_dev, channels=s.input_channels, dtype="float32", samplerate=s.sample_rate)
        except sd.PortAudioError as exc:
            raise DeviceError(f"audio device '{out_name}' refuses {s.sample_rate} Hz stereo float output ({_one_line(exc)})") from None
        except ValueError as exc:
            raise DeviceError(f"audio device '{out_name}': {_one_line(exc)}") from None
        common = dict(samplerate=s.sample_rate, blocksize=s.block_frames, dtype="float32", latency="low",
                      finished_callback=self._finished)  # fmt: skip
        try:
            if in_dev is None:
                self._stream = sd.OutputStream(device=out_dev, channels=2, callback=self._output_callback, **common)
            else:
                self._stream = sd.Stream(device=(in_dev, out_dev), channels=(s.input_channels, 2),
                                         callback=self._duplex_callback, **common)  # fmt: skip
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open audio device '{out_name}' ({_one_line(exc)})") from None
        self.device_name = out_name
        self.output_latency_s = self.output_latency
        latency = self._stream.latency
        self.input_latency_s = float(latency[0]) if isinstance(latency, tuple) else 0.0

    def start(self) -> None:
        if self._stream is None:
            self.open()
        try:
            self._stream.start()
        except Exception as exc:  # sounddevice raises PortAudioError; anything else is as fatal
            raise DeviceError(f"cannot start audio device ({_one_line(exc)})") from None
        self._last_seen = (self.callbacks, time.perf_counter())

    def close(self) -> None:
        """Close the stream. A device that has gone away can make PortAudio's close block for
        ever (its JACK host API waits for a server that is gone): then the stream is left to a
        daemon thread and PortAudio is never shut down in this process (:func:`abandon`)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        errors: list[BaseException] = []

        def close_it() -> None:
            try:
                stream.close(ignore_errors=True)
            except Exception as exc:  # a vanished device may fail even to close; it is gone anyway
                errors.append(exc)

        closer = threading.Thread(target=close_it, name="accomp-audio-close", daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT_S)
        if closer.is_alive():
            abandon()
            self.failed = self.failed or "audio device did not close (it has gone away)"
        elif errors:
            self.failed = self.failed or f"audio device failed while closing ({_one_line(errors[0])})"

    @property
    def output_latency(self) -> float:
        """Seconds from a rendered sample to the speaker, as PortAudio reports it."""
        if self._stream is None:
            return 0.0
        latency = self._stream.latency
        return float(latency[1] if isinstance(latency, tuple) else latency)

    def alive(self) -> bool:
        """False once the stream has died or its callback has stalled (device gone)."""
        if self.failed:
            return False
        if self._stream is None:
            return False
        now = time.perf_counter()
        seen, at = self._last_seen
        if self.callbacks != seen:
            self._last_seen = (self.callbacks, now)
        elif now - at > STALL_S:
            self.failed = f"audio device stopped responding (no callback for {now - at:.1f} s)"
            return False
        if not self._stream.active:
            self.failed = self.failed or f"audio device '{self.device_name}' stopped while playing (gone away?)"
            return False
        return True

    def raise_priority(self, nice: int = AUDIO_NICE) -> bool:
        """Ask the OS to favour the callback's thread (as PortAudio's ALSA host API does with
        real-time scheduling; under a real-time JACK server it already is). Best effort: False
        where it is not allowed."""
        return raise_thread_priority(self.callback_thread, nice) if self.callback_thread else False

    def xruns(self) -> int:
        """Callbacks that reported an xrun (an underflow or overflow, in or out)."""
        return self.xrun_callbacks

    def load(self) -> np.ndarray:
        """Recent callback loads: time in the callback / duration of its block."""
        return self._loads[: min(self.callbacks, LOAD_HISTORY)].copy()

    def _finished(self) -> None:  # PortAudio's thread, once the stream has ended for any reason
        self.finished.set()

    # ------------------------------------------------------------------ audio thread

    def _count(self, status) -> None:
        if status.output_underflow or status.output_overflow or status.input_underflow or status.input_overflow:
            self.xrun_callbacks += 1  # one xrun, however many flags (PortAudio's JACK sets two)
        if status.output_underflow:
            self.output_underflows += 1
        if status.output_overflow:
            self.output_overflows += 1
        if status.input_underflow:
            self.input_underflows += 1
        if status.input_overflow:
            self.input_overflows += 1
        if status.priming_output:
            self.priming += 1

    def _output_callback(self, outdata, frames, time_info, status) -> None:
        self._duplex_callback(None, outdata, frames, time_info, status)

    def _duplex_callback(self, indata, outdata, frames, time_info, status) -> None:
        started = time.perf_counter()
        if not self.callback_thread:
            self.callback_thread = threading.get_native_id()
        if status:
            self._count(status)
        self.clock.publish(self._position, started)
        if self._render is not None:
            mix = self._render(frames, self._position)
        else:
            mix = self._silence[:frames] if frames != self.settings.block_frames else self._silence
        outdata[:] = mix
        if self._tap is not None:
            self._tap.write(mix)
        if self._monitor is not None:
            self._monitor.write(mix)
        if indata is not None and self._input_ring is not None:
            self._input_ring.write(indata)
        if indata is not None and self._analysis_ring is not None:
            self._analysis_ring.write(indata)
        self._position += frames
        self._loads[self.callbacks % LOAD_HISTORY] = (time.perf_counter() - started) / (frames * self._seconds_per_frame)
        self.callbacks += 1


def raise_thread_priority(thread_id: int, nice: int) -> bool:
    """Lower one thread's nice value (Linux: per thread); False when not permitted."""
    if not hasattr(os, "setpriority"):
        return False
    try:
        if os.getpriority(os.PRIO_PROCESS, thread_id) > nice:
            os.setpriority(os.PRIO_PROCESS, thread_id, nice)
        return True
    except OSError:
        return False


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
