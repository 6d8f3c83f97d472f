"""The listening path's mel and chroma filter banks: librosa's numbers, without librosa.

accomp.listen.filterbanks replaces ``librosa.filters.mel`` / ``librosa.filters.chroma`` so the
app (and its bundle) does without librosa, numba and LLVM. librosa stays a test dependency,
and the comparison runs for the exact settings the analyser builds at the sample rates and
pitch ranges it is used with; the properties below hold whatever librosa does.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from accomp.listen.analyzer import InputAnalyzer, ListenSettings
from accomp.listen.filterbanks import chroma_filters, hz_to_mel, mel_filters, mel_to_hz

RATES = (16000, 22050, 32000, 44100, 48000, 96000)


def analyser_sizes(rate: int, fmin: float) -> tuple[int, int]:
    """(onset FFT, chord frame) the analyser uses at this rate and lowest pitch."""
    analyser = InputAnalyzer(rate, lambda *event: None, ListenSettings(fmin=fmin))
    return analyser.onset_fft, analyser.chord_frame


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("fmin", [40.0, 60.0, 100.0])
def test_the_banks_are_librosas_for_the_analysers_settings(rate, fmin):
    librosa_filters = pytest.importorskip("librosa.filters")
    onset_fft, chord_frame = analyser_sizes(rate, fmin)
    fmax = min(8000.0, rate / 2)
    ours = mel_filters(rate, onset_fft, 64, 30.0, fmax)
    theirs = librosa_filters.mel(sr=rate, n_fft=onset_fft, n_mels=64, fmin=30.0, fmax=fmax)
    assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-9)
    ours = chroma_filters(rate, chord_frame)
    theirs = librosa_filters.chroma(sr=rate, n_fft=chord_frame, tuning=0.0, norm=None)
    assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-9)


def test_the_mel_scale_is_slaneys_and_inverts():
    assert hz_to_mel(1000.0) == pytest.approx(15.0)  # linear below 1 kHz: 200/3 Hz per mel
    assert hz_to_mel(200.0 / 3) == pytest.approx(1.0)
    assert hz_to_mel(6400.0) - hz_to_mel(1000.0) == pytest.approx(27.0)  # 27 mel per factor of 6.4 above it
    hz = np.array([0.0, 30.0, 999.0, 1000.0, 1001.0, 4000.0, 8000.0, 22050.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12, atol=1e-9)
    assert np.all(np.diff(hz_to_mel(hz)) > 0)


def test_mel_triangles_cover_their_range_in_order_and_have_unit_area():
    rate, n_fft = 48000, 4096
    bank = mel_filters(rate, n_fft, 40, 30.0, 8000.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    assert bank.shape == (40, n_fft // 2 + 1) and bank.min() >= 0.0
    assert not bank[:, (freqs < 30.0) | (freqs > 8000.0)].any()  # nothing outside fmin..fmax
    peaks = freqs[bank.argmax(axis=1)]
    assert np.all(np.diff(peaks) > 0)  # the bands rise with their index
    # Each triangle's area over Hz is 1 (Slaney's normalisation): sum * bin width ~ 1, the
    # narrow low bands aside (a few bins cannot hold a triangle's shape).
    area = bank.sum(axis=1) * (rate / n_fft)
    np.testing.assert_allclose(area[10:], 1.0, rtol=0.05)
    # Each triangle rises from its lower neighbour's centre to a peak of 2 / its width and falls
    # to its upper neighbour's centre: scaled back to a peak of 1, they sum to 1 between the
    # first and the last centre.
    edges = mel_to_hz(np.linspace(hz_to_mel(30.0), hz_to_mel(8000.0), 42))
    unit = bank * ((edges[2:] - edges[:-2]) / 2)[:, None]
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    np.testing.assert_allclose(unit.sum(axis=0)[inside], 1.0, rtol=1e-5)


@pytest.mark.parametrize("midi", [57, 60, 64, 67, 71, 76])
def test_a_pure_tone_lights_its_own_pitch_class(midi):
    rate, n_fft = 44100, 8192
    bank = chroma_filters(rate, n_fft)
    hz = 440.0 * 2 ** ((midi - 69) / 12)
    power = np.zeros(n_fft // 2 + 1)
    power[int(round(hz * n_fft / rate))] = 1.0
    chroma = bank @ power
    assert bank.shape == (12, n_fft // 2 + 1) and bank.min() >= 0.0
    assert int(np.argmax(chroma)) == midi % 12  # row 0 is C
    # A bump half a semitone wide at one standard deviation: the classes a semitone away get
    # little (exp(-2) ~ 0.14 at the tone's exact pitch), those further away nothing to speak of.
    neighbours = [(midi + 1) % 12, (midi - 1) % 12]
    assert chroma[neighbours].max() < 0.25 * chroma.max()
    assert np.delete(chroma, [midi % 12] + neighbours).max() < 0.01 * chroma.max()


def test_chroma_weights_favour_the_middle_octaves():
    rate, n_fft = 44100, 8192
    bank = chroma_filters(rate, n_fft)
    a = [int(round(440.0 * 2**k * n_fft / rate)) for k in (-3, -1, 1, 3)]  # A1, A3, A5, A7
    weight = bank[9, a]  # class A
    assert weight[1] > weight[0] and weight[2] > weight[3]
    assert bank[9, int(round(880.0 * n_fft / rate))] == pytest.approx(1.0, abs=0.01)  # the centre: A5


def test_listening_imports_neither_librosa_nor_numba():
    code = (
        "import sys; import accomp.listen.analyzer, accomp.listen.offline, accomp.listen.live; "
        "print(sorted(m for m in ('librosa', 'numba', 'llvmlite') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
