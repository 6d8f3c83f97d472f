"""A long recording in `accomp render`: read a block at a time (memory stays a few seconds of
audio), and a progress line on stderr while it is heard and played."""

from __future__ import annotations

import io

import numpy as np
import pytest

from accomp.engine import progress as progress_module
from accomp.engine.progress import Progress, clock_time
from accomp.listen import offline
from accomp.listen.offline import RecordingStream, check_audio


def test_clock_time():
    assert [clock_time(s) for s in (0, 59.9, 720, 3600, 3725)] == ["0:00", "0:59", "12:00", "1:00:00", "1:02:05"]


def test_progress_writes_a_line_at_the_start_every_few_seconds_and_at_the_end(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    p = Progress("listening", 3600 * 1000, 1000, stream=out, every_s=3.0)
    for second, wall in ((0, 100.0), (60, 101.0), (720, 103.5), (800, 104.0)):
        now[0] = wall
        p(second * 1000)
    p.done()
    p.done()
    assert out.getvalue().splitlines() == ["listening 0:00 / 1:00:00", "listening 12:00 / 1:00:00", "listening 1:00:00 / 1:00:00"]


@pytest.mark.parametrize("rate", [48000, 44100])
def test_a_recording_stream_reads_forward_with_bounded_memory(tmp_path, monkeypatch, rate):
    import soundfile
    import soxr

    monkeypatch.setattr(offline, "READ_FRAMES", 4096)
    rng = np.random.default_rng(0)
    stereo = (rng.standard_normal((rate * 3, 2)) * 0.1).astype(np.float32)
    path = tmp_path / "take.wav"
    soundfile.write(path, stereo, rate, subtype="FLOAT")
    whole = stereo.mean(axis=1)
    if rate != 48000:
        whole = soxr.resample(whole, rate, 48000)
    assert check_audio(path, 48000) == len(RecordingStream(path, 48000)) == pytest.approx(len(whole), abs=1)
    stream = RecordingStream(path, 48000)
    block, most = 128, 0
    parts = []
    for start in range(0, len(stream) + block, block):
        parts.append(stream[start : start + block].copy())
        most = max(most, len(stream._buf))
    streamed = np.concatenate(parts)
    n = min(len(streamed), len(whole))
    assert abs(len(streamed) - len(whole)) <= 1
    np.testing.assert_allclose(streamed[:n], whole[:n], atol=1e-3)
    assert most <= offline.KEEP_S * 48000 + 2 * 4096 * 48000 / rate + block  # never the whole file
    with pytest.raises(ValueError, match="reads forward"):
        stream[0:block]
