"""Input conditioning: gain, a DC/rumble high-pass, hum notches, and the level meters.

Runs on the analysis thread (never in the audio callback). The filters keep their state
between blocks, so a stream cut into any block sizes is filtered exactly as a whole.

Mains hum is notched at 50 and 60 Hz and their 2nd and 3rd harmonics (narrow notches, Q 30:
a note near them loses a few dB of one partial, which the pitch tracker does not need).
What the notches removed is measured, so a hummy input can be shown as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accomp.listen.biquads import SosStream, butter_highpass2, notch

HIGHPASS_HZ = 40.0
HUM_HZ = (50.0, 60.0, 100.0, 120.0, 150.0, 180.0)
HUM_Q = 30.0
CLIP_LEVEL = 0.98  # an input sample this close to full scale counts as clipped
SILENT_DB = -120.0


def db(power: float) -> float:
    """Power (mean square) -> dBFS, floored at :data:`SILENT_DB`."""
    return 10.0 * np.log10(power) if power > 1e-12 else SILENT_DB


@dataclass
class BlockLevels:
    """What one conditioned block measured (dBFS; flags for the input state)."""

    peak: float  # raw input peak after gain, linear 0..
    rms_db: float  # after gain, before filtering
    clipped: int  # samples at or beyond CLIP_LEVEL
    dc: float  # mean of the raw input after gain
    hum_db: float  # power the hum notches removed
    out_db: float  # after every filter: what the analysis sees


class InputConditioner:
    """Mixes input channels to mono, applies gain, high-pass and hum notches."""

    def __init__(self, sample_rate: int, gain_db: float = 0.0) -> None:
        self.sample_rate = sample_rate
        self.gain = 10.0 ** (gain_db / 20.0)
        nyquist = sample_rate / 2
        notches = [notch(f, HUM_Q, sample_rate) for f in HUM_HZ if f < nyquist * 0.9]
        # One cascade, high-pass first: its output after the high-pass and after every notch.
        self._filters = SosStream(np.vstack([butter_highpass2(HIGHPASS_HZ, sample_rate), *notches]),
                                  taps=(1, 1 + len(notches)))
        self._started = False

    def set_gain_db(self, gain_db: float) -> None:
        self.gain = 10.0 ** (gain_db / 20.0)

    def reset(self) -> None:
        self._filters.reset()
        self._started = False

    def process(self, block: np.ndarray) -> tuple[np.ndarray, BlockLevels]:
        """``block`` (n,) or (n, channels) float -> (filtered mono float32 (n,), its levels)."""
        x = block.mean(axis=1) if block.ndim == 2 else block
        x = np.asarray(x, dtype=np.float64) * self.gain
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)  # a broken driver can send anything
        n = len(x)
        if n == 0:
            return np.zeros(0, dtype=np.float32), BlockLevels(0.0, SILENT_DB, 0, 0.0, SILENT_DB, SILENT_DB)
        peak = float(np.abs(x).max())
        raw_power = float(np.dot(x, x) / n)
        if not self._started:  # as if the first sample's level had always been there: a DC input makes no step
            self._filters.steady(x[0])
            self._started = True
        hp, out = self._filters.process(x)
        hp_power = float(np.dot(hp, hp) / n)
        out_power = float(np.dot(out, out) / n)
        levels = BlockLevels(
            peak=peak,
            rms_db=db(raw_power),
            clipped=int(np.count_nonzero(np.abs(x) >= CLIP_LEVEL)),
            dc=float(x.mean()),
            hum_db=db(max(0.0, hp_power - out_power)),
            out_db=db(out_power),
        )
        return out.astype(np.float32), levels
