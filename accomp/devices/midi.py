"""MIDI in/out through python-rtmidi: hardware ports, virtual ports, ALSA or JACK.

On Linux the ALSA sequencer is used when there is one, else rtmidi's JACK API (the JACK
server then carries MIDI too). :func:`midi_api` makes that choice; ``api=`` overrides it.

:class:`MidiInput`'s callback (rtmidi's thread) stamps each message with the sample clock,
drops system messages (sysex, clock, active sensing: the lead is notes, pedal and
controllers), and hands the rest to the engine's ring-filling ``receive``; then it nudges the
worker through a non-blocking pipe (a system call, not a lock). A keyboard unplugged shows
as its port gone (:meth:`MidiInput.present`, asked by the session's watch thread), and
:meth:`MidiInput.reopen` listens to it again once it is back.

:class:`MidiOutput` runs its own thread: it sends each queued event when its sample time
comes, keeps an :class:`~accomp.realtime.notes.ActiveNotes` of what it sent, and on a flush
(stop, panic, preset switch) or close ends every note it started.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager

from accomp.realtime.notes import ActiveNotes
from accomp.realtime.rings import EventRing, earliest
from accomp.errors import DeviceError

CLIENT_NAME = "accomp"
DRAIN_S = 0.05  # closing: time for the last messages (note-offs, all notes off) to leave the port
Receive = Callable[[int, int, int, int], None]  # (sample time, status, data1, data2)


def _rtmidi():
    import rtmidi

    return rtmidi


def wake(fd: int) -> None:
    """Nudge the engine's worker: a byte down its non-blocking pipe (a system call, not a lock)."""
    try:
        os.write(fd, b"\0")
    except BlockingIOError:
        pass  # the worker has wake-ups pending already


def compiled_apis() -> list[int]:
    rtmidi = _rtmidi()
    return [a for a in rtmidi.get_compiled_api() if a != rtmidi.API_RTMIDI_DUMMY]


def api_name(api: int) -> str:
    return _rtmidi().get_api_display_name(api)


def midi_api(name: str | None = None) -> int:
    """The rtmidi API to use: ``name`` ('alsa', 'jack', ...) or the best one present."""
    rtmidi = _rtmidi()
    apis = compiled_apis()
    if name is not None:
        for api in apis:
            if name.lower() in (rtmidi.get_api_name(api).lower(), api_name(api).lower()):
                return api
        known = ", ".join(rtmidi.get_api_name(a) for a in apis)
        raise DeviceError(f"no MIDI API '{name}' in this build of python-rtmidi (there are: {known})")
    if sys.platform.startswith("linux"):
        if rtmidi.API_LINUX_ALSA in apis and os.path.exists("/dev/snd/seq"):
            return rtmidi.API_LINUX_ALSA
        if rtmidi.API_UNIX_JACK in apis:
            return rtmidi.API_UNIX_JACK
    return apis[0] if apis else rtmidi.API_UNSPECIFIED


@contextmanager
def quiet_stderr():
    """Silence what C libraries print to fd 2 (libjack's 'server not running' chatter)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _client(kind: str, api: int, name: str):
    rtmidi = _rtmidi()
    cls = rtmidi.MidiIn if kind == "input" else rtmidi.MidiOut
    try:
        with quiet_stderr():
            return cls(api, name=name)
    except rtmidi.RtMidiError as exc:
        raise DeviceError(f"MIDI {kind} ({api_name(api)}) unavailable: {exc}") from None


def list_ports(api: int) -> tuple[list[str], list[str]]:
    """(input ports, output ports) of one API; DeviceError when the API cannot be reached."""
    ins = _client("input", api, f"{CLIENT_NAME}-list")
    outs = _client("output", api, f"{CLIENT_NAME}-list")
    try:
        return ins.get_ports(), outs.get_ports()
    finally:
        ins.delete()
        outs.delete()


def _open(client, kind: str, port: str | int | None, virtual: str | None, api: int) -> str:
    """Open ``port`` (name substring or index) or a virtual port; returns what was opened."""
    rtmidi = _rtmidi()
    try:
        if virtual is not None:
            client.open_virtual_port(virtual)
            return f"virtual port '{virtual}'"
        ports = client.get_ports()
        if port is None:
            if not ports:
                hint = ("connect a MIDI keyboard ('accomp devices' lists the ports), play a guitar or voice with "
                        "--input audio, use --no-midi-in to hear the band alone, or open the window ('accomp') and "
                        "play the computer keyboard") if kind == "input" else "connect a device or use a virtual port"  # fmt: skip
                raise DeviceError(f"no MIDI {kind} ports ({api_name(api)}): {hint}")
            index = 0
        elif isinstance(port, int) or str(port).isdigit():
            index = int(port)
            if not 0 <= index < len(ports):
                raise DeviceError(f"no MIDI {kind} port number {index} ({len(ports)} ports)")
        else:
            found = [i for i, p in enumerate(ports) if str(port).lower() in p.lower()]
            if not found:
                raise DeviceError(f"no MIDI {kind} port matching '{port}' (there are: {', '.join(ports) or 'none'})")
            index = found[0]
        client.open_port(index, name=f"{CLIENT_NAME} {kind}")
        return ports[index]
    except rtmidi.RtMidiError as exc:
        raise DeviceError(f"cannot open MIDI {kind} port ({exc})") from None


class MidiInput:
    """Lead input from a port: stamped, filtered, pushed into the engine."""

    def __init__(
        self,
        receive: Receive,
        clock,
        *,
        port: str | int | None = None,
        virtual: str | None = None,
        api: int | None = None,
        wake_fd: int | None = None,
    ) -> None:
        self._receive = receive
        self._clock = clock
        self._wake_fd = wake_fd
        self.api = midi_api() if api is None else api
        self._client = _client("input", self.api, CLIENT_NAME)
        self._client.ignore_types(sysex=True, timing=True, active_sense=True)
        self.port_name = _open(self._client, "input", port, virtual, self.api)
        self._virtual = virtual is not None
        self.received = 0
        self.ignored = 0
        self._listening = True
        self._client.set_callback(self._callback)

    def _callback(self, event, data=None) -> None:  # rtmidi's thread
        if not self._listening:
            self.ignored += 1
            return
        message = event[0]
        n = len(message)
        status = message[0] if n else 0
        if status < 0x80 or status >= 0xF0:
            self.ignored += 1
            return
        self.received += 1
        self._receive(self._clock.now(), status, message[1] if n > 1 else 0, message[2] if n > 2 else 0)
        if self._wake_fd is not None:
            wake(self._wake_fd)

    def _matching(self) -> int | None:
        """Index of the port this input listens to, in the ports there are now (None: gone).
        ALSA numbers a port by its client, and a keyboard plugged in again may get another
        number: the name without it is compared."""
        want = _unnumbered(self.port_name)
        try:
            ports = self._client.get_ports()
        except _rtmidi().RtMidiError:
            return None
        return next((i for i, p in enumerate(ports) if _unnumbered(p) == want), None)

    def present(self) -> bool:
        """Whether the port still exists (the app's own virtual port always does). Not for a
        real-time thread: it asks the MIDI system for its ports."""
        return self._virtual or self._client is None or self._matching() is not None

    def reopen(self) -> bool:
        """Listen to the port again if it is back (a keyboard plugged in again); True if so.
        The callback is in place before the port opens (a note in between would wait in
        rtmidi's queue, never played), and a port is opened by its number in a list that
        other clients coming and going may reorder: the port opened is checked by its name,
        and False (try again later) when it is another."""
        index = None if self._virtual or self._client is None else self._matching()
        if index is None:
            return False
        rtmidi = _rtmidi()
        try:
            self._client.cancel_callback()
            self._client.close_port()
            self._client.set_callback(self._callback)
            self._client.open_port(index, name=f"{CLIENT_NAME} input")
            if self._matching() == index:
                return True
            self._client.close_port()
        except rtmidi.RtMidiError:
            pass
        return False

    def stop_listening(self) -> None:
        """Pass nothing more to the engine (the port stays open): a session that stops calls it
        before the engine's last flush, so that a key played after it cannot start a note on the
        synth that nothing ends. Unlike :meth:`close`, it asks nothing of the MIDI system."""
        self._listening = False

    def close(self) -> None:
        self._listening = False
        client, self._client = self._client, None
        if client is not None:
            client.cancel_callback()
            client.close_port()
            client.delete()


def _unnumbered(port: str) -> str:
    """A port's name without ALSA's trailing client:port numbers ("Keys:Keys MIDI 1 20:0")."""
    return re.sub(r"\s+\d+:\d+$", "", port)


class MidiOutput:
    """Sends the engine's queued events to a port at their sample time, on its own thread."""

    def __init__(
        self,
        inputs: Sequence[EventRing],
        clock,
        *,
        port: str | int | None = None,
        virtual: str | None = None,
        api: int | None = None,
        ahead_s: float = 0.0005,
    ) -> None:
        self._inputs = tuple(inputs)
        self._clock = clock
        self.api = midi_api() if api is None else api
        self._client = _client("output", self.api, CLIENT_NAME)
        self.port_name = _open(self._client, "output", port, virtual, self.api)
        self._ahead = round(ahead_s * clock.sample_rate)
        self._notes = ActiveNotes(1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="accomp-midi-out", daemon=True)
        self._thread.start()

    def _send(self, status: int, data1: int, data2: int) -> None:
        if status >= 0xF8:
            self._client.send_message([status])
        elif status & 0xF0 in (0xC0, 0xD0):
            self._client.send_message([status, data1])
        else:
            self._client.send_message([status, data1, data2])
            self._notes.track(0, status, data1, data2)
        self.sent += 1

    def _run(self) -> None:
        rtmidi = _rtmidi()
        try:
            while not self._stop.is_set():
                for ring in self._inputs:
                    if ring.take_flush():
                        self._notes.release(0, self._send)
                r = earliest(self._inputs)
                ring = self._inputs[r] if r >= 0 else None
                wait = self._clock.seconds_until(ring.head_time() - self._ahead) if ring is not None else 0.005
                if wait > 0:
                    self._stop.wait(min(wait, 0.005))
                    continue
                i = ring.head()
                self._send(ring.status_mv[i], ring.data1_mv[i], ring.data2_mv[i])
                ring.advance()
        except (rtmidi.RtMidiError, OSError) as exc:
            self.failed = f"MIDI output failed ({exc})"

    def panic(self) -> None:
        """End every note this output started (flushes its queues)."""
        for ring in self._inputs:
            ring.request_flush()

    def close(self) -> None:
        """Stop the thread, end every note it started, close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        client, self._client = self._client, None
        if client is not None:
            self._client = client
            try:
                self._notes.release(0, self._send)
                time.sleep(DRAIN_S)  # rtmidi's JACK port sends from its process callback: let those leave first
            finally:
                self._client = None
                client.close_port()
                client.delete()
