"""The key the band is told before the lead comes in (``accomp play|render --key``, or a MIDI
file's key signature): what the live key tracker (:class:`accomp.model.planner.KeyTracker`)
starts from, and the key a finished melody's plan is made in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accomp.errors import SettingsError
from accomp.music.chords import chord_index, chord_name, parse_root
from accomp.music.metrics import KS_MAJOR, KS_MINOR

# What the band is told of the key before the lead's first note (KeyHint: `--key`, or a MIDI
# file's key signature) enters the live key tracker as this much note time (steps: four beats
# of a held note at 4 steps a beat), shaped as the key's profile above its lowest degree, and
# fades with the tracker's half-life. Under 100 Essen folk songs (benchmarks/folk.py's), the
# live plan's chord on the first bar line was the song's tonic chord in 0.48 of them untold;
# told its key, in 0.86 / 0.92 / 0.92 / 0.92 at 4 / 8 / 16 / 32 (on-beat melody notes in the
# plan's chord 0.933 -> 0.934-0.937); told by a key signature (KeyHint.signature), 0.87 at 16.
# (The KS profile as it is, not above its lowest degree, needed more: 0.63 at 4 where this
# read 0.74, both with music21's notated keys.)
KEY_HINT_WEIGHT = 16.0
HEARD = "heard"  # --key heard: no hint, not even a MIDI file's key signature
PROFILES = np.stack([np.roll(p, t) for p in (KS_MAJOR, KS_MINOR) for t in range(12)])  # (24, 12), z-scored
PROFILES = (PROFILES - PROFILES.mean(1, keepdims=True)) / PROFILES.std(1, keepdims=True)


@dataclass(frozen=True)
class KeyHint:
    """The key the band is told before the lead's first note: one key (``accomp play|render
    --key F#m``), or the two a key signature leaves open (the key it names and its relative).

    Live it seeds the key tracker (:data:`KEY_HINT_WEIGHT`), so the first chord is decided in
    that key rather than from a note or two; what the lead then plays wins within a few beats.
    A finished melody's plan (``--whole-song``) is made in the hinted key, of a key
    signature's two the one the whole melody fits better."""

    def __post_init__(self) -> None:
        if not self.keys or (self.weights and len(self.weights) != len(self.keys)):
            raise ValueError("a key hint names one key or more, and a weight for each or none")

    keys: tuple[tuple[int, bool], ...]  # (tonic pitch class, minor)
    weights: tuple[float, ...] = ()  # each key's share of the tracker's start (default: equal)
    firm: bool = True  # False (a file's key signature): a whole melody that fits none of the keys overrules it

    @classmethod
    def parse(cls, text: str) -> "KeyHint":
        """``C``, ``F#``, ``Bb``, ``Am``, ``C#m``, ``Ebm`` (also ``C major``, ``A minor``); SettingsError otherwise."""
        words = text.strip().split()
        name, mode = (words[0], words[1].lower()) if len(words) == 2 else (text.strip(), "")
        minor = mode == "minor" or (not mode and name.endswith("m"))
        root = parse_root(name[:-1] if not mode and name.endswith("m") else name)
        if root is None or mode not in ("", "major", "minor"):
            raise SettingsError(f"--key: '{text}' is not a key (e.g. C, F#, Bb, Am, C#m)")
        return cls(((root, minor),))

    @classmethod
    def signature(cls, name: str) -> "KeyHint | None":
        """The hint of a MIDI key signature (as mido names it: ``F``, ``Dm``, ``Bb``...): the key
        it names and its relative, the named one two thirds of the tracker's start (a file's mode
        is often its program's default, major); None for C major / A minor, the key sequencers
        write by default (POP909's files carry it whatever the song's key)."""
        try:
            (root, minor), = cls.parse(name).keys
        except SettingsError:
            return None
        if root == (9 if minor else 0):
            return None
        relative = ((root + 3) % 12, False) if minor else ((root + 9) % 12, True)
        return cls(((root, minor), relative), (2 / 3, 1 / 3), firm=False)

    def histogram(self) -> np.ndarray:
        """(12,) what the key tracker starts from: the keys' profiles, each above its lowest
        degree, weighted, :data:`KEY_HINT_WEIGHT` in all."""
        total = np.zeros(12)
        for (tonic, minor), weight in zip(self.keys, self.weights or [1 / len(self.keys)] * len(self.keys)):
            profile = np.roll(KS_MINOR if minor else KS_MAJOR, tonic)
            profile = profile - profile.min()
            total += weight * profile / profile.sum()
        return total * KEY_HINT_WEIGHT

    def pick(self, hist: np.ndarray) -> tuple[int, bool] | None:
        """Of the hinted keys, the one a (12,) pitch-class histogram fits best (Krumhansl-Schmuckler);
        None where the hint is not firm and the histogram fits none of its keys (a negative
        correlation: a key signature left from before a transposition, say)."""
        h = np.asarray(hist, dtype=np.float64)
        z = (h - h.mean()) / (h.std() or 1.0)
        fit = [float(z @ PROFILES[tonic + 12 * minor]) for tonic, minor in self.keys]
        best = int(np.argmax(fit))
        return self.keys[best] if self.firm or fit[best] > 0 else None

    def __str__(self) -> str:
        return " or ".join(f"{chord_name(chord_index(t, 'min' if m else 'maj'))}" for t, m in self.keys)
