"""Arranger mode's chord recognition (accomp.music.fingering): fingered and single-finger chords."""

from __future__ import annotations

import itertools

import pytest

from accomp.music.chords import INTERVALS, chord_index, chord_name
from accomp.music.fingering import recognise, split_keys

ISSUE_QUALITIES = ("maj", "min", "7", "min7", "maj7", "dim", "sus4")


@pytest.mark.parametrize("quality", ISSUE_QUALITIES)
def test_every_fingered_chord_in_every_inversion_and_spread(quality):
    for root in range(12):
        tones = [root + i for i in INTERVALS[quality]]
        want = chord_index(root, quality)
        for inversion in range(len(tones)):
            # the inversion's bass first, the rest above it, in close and in open position
            voiced = tones[inversion:] + [t + 12 for t in tones[:inversion]]
            for spread in (0, 12):
                keys = [36 + voiced[0]] + [36 + t + spread for t in voiced[1:]]
                got = recognise(keys)
                assert got == want or (quality == "sus4" and chord_name(got).endswith("sus2") and inversion != 0), \
                    (chord_name(want), keys, chord_name(got) if got is not None else None)  # fmt: skip
        # root position always names the written chord, even when its notes name another too
        assert recognise([48 + t for t in tones]) == want
        assert recognise(reversed([48 + t for t in tones])) == want  # order of pressing does not matter


def test_a_sus4_inversion_reads_as_the_sus2_on_its_bass():
    # C F G with F in the bass is Fsus2: the same notes, rooted on the lowest key
    assert chord_name(recognise([53, 55, 60])) == "Fsus2"
    assert chord_name(recognise([48, 53, 55])) == "Csus4"


@pytest.mark.parametrize("keys, name", [
    ([48], "C"), ([61], "C#"), ([47], "B"),
    ([46, 48], "Cm"), ([45, 48], "C7"), ([45, 46, 48], "Cm7"),   # Bb below C: minor; A below: seventh; both
    ([54, 55], "Gm"), ([52, 55], "G7"), ([52, 54, 55], "Gm7"),
])  # fmt: skip
def test_single_finger_chords(keys, name):
    assert chord_name(recognise(keys)) == name


def test_what_names_no_chord():
    assert recognise([]) is None
    assert recognise([30, 48]) is None  # the lower key more than an octave below
    assert recognise([44, 45, 46, 48]) is None  # three keys below the root, no chord's notes


def test_the_split_point_divides_chord_and_lead():
    assert split_keys([72, 48, 52, 55, 60], 60) == ([48, 52, 55], [60, 72])
    assert all(recognise(c) is not None for c in itertools.combinations(range(48, 60), 1))
