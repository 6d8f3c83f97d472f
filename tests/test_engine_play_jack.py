"""End to end on a JACK dummy server: `accomp play` with a real (random-weight) student.

A test client plays a melody into the app's MIDI input and records the app's audio output.
Every accompaniment note the app scheduled must have sounded (the synth's count of notes
played equals the accompaniment's note-ons in the app's recording), what the client heard
must be what the app rendered, sample for sample but for the cycles an xrun dropped, and
after the stop nothing may sound.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import wave

import mido
import numpy as np
import pytest

from accomp.realtime.notes import NOTE_OFF, NOTE_ON
from accomp.realtime.rings import AudioRing
from app_process import busy_preset, clean_up, jack_ports, read_line

pytest.importorskip("tinysoundfont")

from accomp.devices.audio import refresh, release  # noqa: E402

SR = 48000
BLOCK = 128
CLIENT = "accomp-e2e-keys"


@pytest.fixture(scope="module")
def jack(jack_server):
    refresh()
    yield jack_server
    release()


@pytest.fixture()
def preset(tmp_path):
    return busy_preset(tmp_path)


def heard_blocks(heard: np.ndarray, rendered: np.ndarray, block: int = 128, reach: int = 4096) -> tuple[int, int]:
    """Walk the app's recording block by block through what the listener heard (both 16-bit):
    (blocks heard sample for sample, blocks not heard). Blocks before the first heard one (the
    ports were not yet connected) and silent ones are not counted. A cycle JACK drops shifts
    what follows by whole blocks, so each block is first looked for where the one before it was
    heard, then within `reach` samples of there."""

    def heard_at(j: int, part: np.ndarray) -> bool:
        return 0 <= j <= len(heard) - block and np.array_equal(heard[j : j + block], part)

    def look(part: np.ndarray, lo: int, hi: int) -> int | None:
        lo, hi = max(0, lo), min(len(heard) - block, hi)
        starts = np.nonzero(heard[lo : hi + 1] == part[0])[0] + lo
        for k in (1, 2, 3):
            starts = starts[heard[starts + k] == part[k]]
        return next((int(j) for j in starts if heard_at(j, part)), None)

    offset, found, missing = None, 0, 0
    for i in range(0, len(rendered) - block + 1, block):
        part = rendered[i : i + block]
        if np.abs(part.astype(np.int32)).max() < 32:
            continue
        if offset is not None and heard_at(offset + i, part):
            found += 1
            continue
        j = look(part, 0, len(heard)) if offset is None else look(part, offset + i - reach, offset + i + reach)
        if j is not None:
            offset, found = j - i, found + 1
        elif offset is not None:
            missing += 1
    return found, missing


def test_accomp_play_end_to_end(jack, preset, tmp_path):
    import rtmidi
    import sounddevice as sd

    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=CLIENT)
    keys.open_virtual_port("keys")
    heard = AudioRing(SR * 30, 2)
    xruns = []  # the listener's own

    def listen(indata, frames, t, status):
        heard.write(indata)
        if status:
            xruns.append(status)

    listener = sd.InputStream(samplerate=SR, blocksize=BLOCK, channels=2, dtype="float32", callback=listen)
    listener.start()
    own_ports = set(jack_ports(jack))
    take = tmp_path / "take"
    cmd = [sys.executable, "-m", "accomp", "play", "--preset", str(preset), "--midi-in", f"{CLIENT}:keys",
           "--midi-api", "jack", "--host-api", "JACK", "--tempo", "120", "--count-in", "1", "--no-click",
           "--mute-lead", "--duration", "5.5", "--record", str(take), "--metrics-json", str(tmp_path / "metrics.json")]  # fmt: skip
    app = subprocess.Popen(cmd, env={**jack.env(), "ACCOMP_DATA_DIR": str(tmp_path / "data")},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        read_line(app.stderr, "accomp: playing", timeout=120)
        app_outs = [p for p in jack_ports(jack) if p not in own_ports and ":out_" in p]
        listener_ins = sorted(p for p in own_ports if p.startswith("PortAudio") and ":in_" in p)
        assert len(app_outs) == 2 and len(listener_ins) == 2, (app_outs, listener_ins)
        for src, dst in zip(sorted(app_outs), listener_ins):
            subprocess.run(["jack_disconnect", f"system:capture_{dst[-1] == '1' and 2 or 1}", dst],
                           env=jack.env(), capture_output=True, timeout=10)  # fmt: skip
            subprocess.run(["jack_connect", src, dst], env=jack.env(), check=True, capture_output=True, timeout=10)
        threading.Event().wait(2.0)  # the count-in bar
        melody = [67, 69, 71, 72, 74, 72, 71, 69]
        for pitch in melody:  # eighth notes at 120 bpm, after the count-in
            keys.send_message([NOTE_ON, pitch, 96])
            threading.Event().wait(0.2)
            keys.send_message([NOTE_OFF, pitch, 0])
            threading.Event().wait(0.05)
        keys.send_message([NOTE_ON, 60, 96])  # a note-off that never comes
        out, err = app.communicate(timeout=120)
    finally:
        clean_up(app, keys)
    threading.Event().wait(0.3)  # the listener records the silence once the app has gone
    listener.close()
    assert app.returncode == 0, err.decode(errors="replace")[-3000:]

    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["error"] is None
    assert summary["engine"]["accomp_sounding"] == 0 and summary["engine"]["steps"] > 0
    assert summary["latency"]["notes"] >= len(melody)
    midi = mido.MidiFile(f"{take}.mid")
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp"]
    lead_ons = [m.note for m in midi.tracks[1] if m.type == "note_on" and m.velocity > 0]
    accomp_ons = sum(1 for m in midi.tracks[2] if m.type == "note_on" and m.velocity > 0)
    assert lead_ons == melody + [60]
    assert accomp_ons > 0
    # Nothing missing: the recording holds the accompaniment notes the synth played (the lead
    # is muted). The stop cuts both at the first block not rendered; only a stop that races
    # that block's callback may leave the last step's notes (this preset has random weights
    # and plays dozens a step) in one and not the other.
    ons_at = np.cumsum([m.time for m in midi.tracks[2]])[[m.type == "note_on" and m.velocity > 0 for m in midi.tracks[2]]]
    last_step = int((ons_at >= ons_at.max() - midi.ticks_per_beat // 4).sum())
    assert abs(summary["synth"]["notes"]["accomp"] - accomp_ons) <= last_step
    assert summary["synth"]["notes"]["lead"] == 0 and summary["synth"]["muted_notes"] == len(lead_ons)
    assert summary["synth"]["notes"]["click"] == 4  # the count-in bar

    got = np.zeros((heard.available(), 2), dtype=np.float32)
    heard.read(got)
    assert np.abs(got).max() > 0.01
    assert np.abs(got[-SR // 10 :]).max() < 1e-4  # silence after the stop
    with wave.open(f"{take}.wav") as w:
        rendered = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, 2)[:, 0]
    # As the recorder writes it: scaled in float32, clipped, truncated to 16 bits.
    found, missing = heard_blocks(np.clip(got[:, 0] * np.float32(32767), -32768, 32767).astype(np.int16), rendered)
    # What was heard is what the app rendered, sample for sample, but for the cycles an xrun
    # dropped (the app's late callbacks, or the listener's) on a loaded machine.
    assert found > 2 * missing and missing <= summary["audio"]["xruns"] + len(xruns), (found, missing, summary["audio"], len(xruns))
