"""The listening path's biquads: SciPy's numbers, without SciPy.

accomp.listen.biquads replaces ``scipy.signal`` (butter, iirnotch, tf2sos, sosfilt with its
state, sosfilt_zi) so that the app (and its bundle) does without SciPy. SciPy stays a test
dependency: the designs and the streamed output are compared with it at the sample rates
the app meets, on random signals cut into random block sizes with the state carried.
Their speed is measured in benchmarks/listen_filters.py, not here.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from accomp.listen.biquads import SosStream, butter_highpass2, notch
from accomp.listen.conditioning import HIGHPASS_HZ, HUM_HZ, HUM_Q, InputConditioner, db

signal = pytest.importorskip("scipy.signal")

RATES = (16000, 22050, 32000, 44100, 48000, 88200, 96000)


def scipy_cascade(rate: int) -> tuple[np.ndarray, int]:
    """The conditioner's cascade as SciPy designs it (high-pass, then the notches below 0.9
    Nyquist), and how many notches."""
    highpass = signal.butter(2, HIGHPASS_HZ, "highpass", fs=rate, output="sos")
    notches = [signal.tf2sos(*signal.iirnotch(f, HUM_Q, fs=rate)) for f in HUM_HZ if f < rate / 2 * 0.9]
    return np.vstack([highpass, *notches]), len(notches)


def blocks(n: int, rng: np.random.Generator, most: int) -> list[slice]:
    """[0, n) cut at random into blocks of 1..most samples."""
    cuts, start = [], 0
    while start < n:
        size = int(rng.integers(1, most + 1))
        cuts.append(slice(start, min(n, start + size)))
        start += size
    return cuts


def close(ours: np.ndarray, theirs: np.ndarray, rel: float = 1e-9) -> None:
    """Equal to ``rel`` of the signal's peak (an elementwise relative test fails at zero crossings)."""
    scale = float(np.abs(theirs).max())
    assert scale > 0.0
    np.testing.assert_allclose(ours, theirs, rtol=0.0, atol=rel * scale)


@pytest.mark.parametrize("rate", RATES)
def test_the_designs_are_scipys(rate):
    for cutoff in (HIGHPASS_HZ, 20.0, 1000.0, 0.4 * rate):
        np.testing.assert_allclose(butter_highpass2(cutoff, rate),
                                   signal.butter(2, cutoff, "highpass", fs=rate, output="sos"), rtol=0, atol=1e-14)
    for freq in (*HUM_HZ, 1000.0, 0.4 * rate):
        for q in (HUM_Q, 0.7, 5.0):
            np.testing.assert_allclose(notch(freq, q, rate), signal.tf2sos(*signal.iirnotch(freq, q, fs=rate)),
                                       rtol=0, atol=1e-14)  # fmt: skip


@pytest.mark.parametrize("rate", RATES)
def test_streaming_in_random_blocks_is_scipys_whole_signal(rate):
    rng = np.random.default_rng(rate)
    sos, notches = scipy_cascade(rate)
    x = rng.standard_normal(3 * rate) * 0.3 + 0.2  # 3 s with an offset: the high-pass's start matters
    x[rate : rate + 500] += np.sin(2 * np.pi * 50.0 * np.arange(500) / rate)  # and some hum
    zi = signal.sosfilt_zi(sos) * x[0]
    whole, final = signal.sosfilt(sos, x, zi=zi)
    after_highpass = signal.sosfilt(sos[:1], x, zi=zi[:1])[0]
    stream = SosStream(sos, taps=(1, 1 + notches))
    stream.steady(x[0])
    np.testing.assert_allclose(stream.state, zi.ravel(), rtol=0, atol=1e-9 * np.abs(zi).max())
    out = np.empty((2, len(x)))
    for piece in blocks(len(x), rng, most=700):  # from 1 sample to several of max_block's pieces
        out[:, piece] = stream.process(x[piece])
    close(out[0], after_highpass)
    close(out[1], whole)
    np.testing.assert_allclose(stream.state, final.ravel(), rtol=0, atol=1e-9 * np.abs(final).max())


def test_a_long_stream_in_the_analysers_blocks_stays_exact():
    """Four minutes at 48 kHz in 128-sample blocks (what render feeds the analyser): the
    carried state does not drift from SciPy's single pass."""
    rate, block = 48000, 128
    rng = np.random.default_rng(7)
    sos, notches = scipy_cascade(rate)
    x = np.repeat(rng.standard_normal(4 * 60 * rate // 64), 64) * 0.1  # a rough, rumbly signal
    whole = signal.sosfilt(sos, x)
    stream = SosStream(sos, taps=(1 + notches,))
    out = np.concatenate([stream.process(x[i : i + block])[0] for i in range(0, len(x), block)])
    close(out, whole)


def test_small_pieces_and_a_small_cache_give_the_same_output():
    rng = np.random.default_rng(3)
    sos = np.vstack([butter_highpass2(100.0, 8000), notch(1000.0, 2.0, 8000), notch(2000.0, 8.0, 8000)])
    x = rng.standard_normal(20000)
    whole = signal.sosfilt(sos, x)
    stream = SosStream(sos, taps=(1, 2, 3), max_block=16, cached=2)  # every piece length evicts another
    out = np.concatenate([stream.process(x[piece]) for piece in blocks(len(x), rng, most=50)], axis=1)
    close(out[0], signal.sosfilt(sos[:1], x))
    close(out[1], signal.sosfilt(sos[:2], x))
    close(out[2], whole)
    assert stream.process(np.zeros(0)).shape == (3, 0)


def test_reset_forgets_the_past():
    rng = np.random.default_rng(4)
    stream = SosStream(notch(50.0, HUM_Q, 48000))
    first = stream.process(rng.standard_normal(1000))
    stream.process(rng.standard_normal(777))
    stream.reset()
    x = rng.standard_normal(1000)
    np.testing.assert_array_equal(stream.process(x), SosStream(notch(50.0, HUM_Q, 48000)).process(x))
    assert first.shape == (1, 1000)


def test_bad_sections_and_taps_are_refused():
    with pytest.raises(ValueError, match="sections"):
        SosStream(np.ones((2, 5)))
    with pytest.raises(ValueError, match="taps"):
        SosStream(notch(50.0, 30.0, 48000), taps=(2,))
    with pytest.raises(ValueError, match="cutoff"):
        butter_highpass2(30000.0, 48000)
    with pytest.raises(ValueError, match="notch"):
        notch(50.0, 0.0, 48000)


def scipy_conditioner(rate: int, parts: list[np.ndarray]) -> list[tuple[np.ndarray, float, float]]:
    """What the conditioner computed with SciPy: per block (output, hum dB, output dB)."""
    sos, notches = scipy_cascade(rate)
    zi_hp, zi_notch, results = signal.sosfilt_zi(sos[:1]) * parts[0][0], np.zeros((notches, 2)), []
    for x in (part.astype(np.float64) for part in parts):
        hp, zi_hp = signal.sosfilt(sos[:1], x, zi=zi_hp)
        out, zi_notch = signal.sosfilt(sos[1:], hp, zi=zi_notch)
        hp_power, out_power = np.dot(hp, hp) / len(x), np.dot(out, out) / len(x)
        results.append((out, db(max(0.0, hp_power - out_power)), db(out_power)))
    return results


@pytest.mark.parametrize("rate", [22050, 44100, 48000, 96000])
def test_the_conditioner_filters_as_it_did_with_scipy(rate):
    rng = np.random.default_rng(rate + 1)
    t = np.arange(2 * rate) / rate
    x = 0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.05 * np.sin(2 * np.pi * 60.0 * t) + 0.1 + 0.01 * rng.standard_normal(len(t))
    parts = [x[piece].astype(np.float32) for piece in blocks(len(x), rng, most=600)]  # as the input arrives
    conditioner = InputConditioner(rate)
    for part, (out, hum_db, out_db) in zip(parts, scipy_conditioner(rate, parts), strict=True):
        ours, levels = conditioner.process(part)
        np.testing.assert_allclose(ours, out.astype(np.float32), rtol=0, atol=1e-6)
        assert levels.out_db == pytest.approx(out_db, abs=1e-6)
        if hum_db > -100.0:
            assert levels.hum_db == pytest.approx(hum_db, abs=1e-3)


def test_the_app_imports_no_scipy():
    code = (
        "import sys; import accomp.cli, accomp.listen.analyzer, accomp.listen.offline, accomp.listen.live, "
        "accomp.engine.session, accomp.gui.main_window; "
        "print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"
