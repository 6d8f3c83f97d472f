"""The chord planner: which chord each beat gets, decided from the lead (DESIGN §2b).

Two models over the same per-beat features, both GRUs, both deciding in key-relative
terms (the input is rotated to a key's tonic and the chord is rotated back):

- *causal* (live): beat b's chord from the lead up to the first step of beat b (the
  grace window brings the beat's first note in time), the beats before it and a causal key
  tracker (a decaying pitch-class histogram of the lead, Krumhansl-Schmuckler). It carries
  a hidden state from beat to beat: :class:`PlannerStream` runs it one beat at a time.
- *bidirectional* (offline): every beat's chord from the whole lead and the whole piece's
  key; it serves ``accomp render --whole-song``, the distillation's chord plans on
  teacher-written leads, and teaches the causal one (ReaLchords).

No chord history is fed back: in a feasibility run it made the model drift out of key.
Shapes: B batch, N beats, F features.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass, fields
from functools import cached_property

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from accomp.music.chords import CHROMA, N_CHORDS, NO_CHORD, chord_index, transpose
from accomp.music.keys import PROFILES, KeyHint
from accomp.music.metrics import beat_chroma, beat_index, key_pitch_classes, pc_counts

BEAT_SLOTS = 8  # beat-in-bar one-hot size (beats past the 8th share the last slot)
# The causal key tracker's memory: its histogram halves every KEY_HALF_LIFE beats where the
# planners decide (PlannerStream live, Planner.plan, a finished melody's causal half), and every
# TRAINING_KEY_HALF_LIFE beats in the frames they learn from (planner_train.piece_beats: the
# bundled planners were trained on them, and `accomp planner train` reproduces them so). 8 beats
# was the only way to follow a key change before the restart rule below; since it, the longer
# memory reads a song's key more steadily and the planners, untrained on it, decide better:
# exact accuracy on the validation songs planned live from their start (accomp planner eval),
# POP909 / chorales, 0.309 / 0.287 at 8 beats, 0.315 (12), 0.316 / 0.288 (16), 0.318 / 0.297
# (32), 0.318 / 0.298 (64), 0.317 (1000); 0.299 at 4. The plan's agreement with the human
# accompaniment (benchmarks/planner_entry.py) 8 -> 32: 91 openings 0.351 -> 0.354, first 48
# 0.332 -> 0.332, 996 mid-song segments 0.291 -> 0.294, chorales 0.426 -> 0.428.
KEY_HALF_LIFE = 32.0
TRAINING_KEY_HALF_LIFE = 8.0
# A key change: when the last two beats, or else the last beat alone, with the new beat's
# first step put at least KEY_CHANGE_SHARE of their note time, on at least two pitch classes,
# outside the tracked key, and the key those notes suggest holds at least KEY_CHANGE_FIT of
# it, the tracker drops the older history and starts again from those notes. A melody in a
# new key is followed on its second beat instead of after a half-life; chromatic passing
# notes fit no key that well. (The two beats alone missed the second beat, where the new
# key's first beat and the old key's last fit neither key; the last beat alone seeded a key
# too thin to hold: a phrase in Ab drifted to Eb and F.)
KEY_CHANGE_SHARE = 0.34
KEY_CHANGE_FIT = 0.9
# ... "outside the tracked key": outside the key the band was in, the one read for the beat
# before (once the tracker had heard HELD_MIN steps of notes, two beats of them; before that,
# and for the frames the bundled planners learnt from, the key read with the new notes in it),
# and not all inside the key read with them either. Read with the new notes, a key change that
# left only one note foreign on its first beats was absorbed: after C F# Bb (benchmarks/
# key_change.py), F# major's notes and Bb major's read as Bb minor, whose nine-note scale holds
# all of the Bb phrase but its D, and the next changes (to E, and after Ab to D) were followed
# on their third beat, not their second. Judged against the key held, the far-key take's
# offline worst case went 2.0 -> 1.0 beats but for D -> Db (nothing foreign to D on Db's first
# two notes, C# and F but F); restarts on POP909's validation melodies 26 -> 28 in 31,397
# beats, the chorales' 0 -> 2 in 1,641; the plans' agreement with the human accompaniment and
# the tracker's keys: docs/harmony.md, "Following a key change".
HELD_MIN = 8.0


@dataclass(frozen=True)
class TrackerRecipe:
    """How the causal key tracker reads a lead: its memory, and whether a key change is judged
    against the key held on the beat before (else only against the key read with the new notes)."""

    half_life: float = KEY_HALF_LIFE
    from_held: bool = True


LIVE_TRACKER = TrackerRecipe()  # every decision, and the songs a planner is measured on
# The frames `accomp planner train` reads its training songs with: the tracker the bundled
# planners learnt from, so that the README's commands make them again.
TRAINING_TRACKER = TrackerRecipe(TRAINING_KEY_HALF_LIFE, from_held=False)
# The live planner's logit bonus for chords that hold the beat's first lead note (a note on
# the beat is usually a chord tone). On POP909 / chorale validation it moves exact accuracy
# by +0.003 / +0.009 at 2 (0 to 5 all within 0.01), and makes the chord under a held
# melody note one that holds it; the bidirectional planner, which hears the whole beat, gets none.
MELODY_BONUS = 2.0
# The live planner's logit bonus for keeping the chord of the beat before (a chord holds until
# the lead gives a reason to leave it). On the training split chord agreement with the human
# accompaniment is flat for bonuses 0.25-0.6 (POP909 0.292 -> 0.294-0.296, chorales 0.440 ->
# 0.437) while changes fall (pop 0.51 of beats -> 0.45 at 0.25, 0.40 at 0.5). With the planner
# trained on POP909's annotated bars (encoder 2), 0.25 -> 0.5 -> 1.0 moves the plan's agreement
# on the 91 validation openings 0.333 -> 0.341 -> 0.349 and on 996 mid-song segments 0.288 ->
# 0.289 -> 0.284, changes 0.47 -> 0.43 -> 0.38 of beats (a musician: one or two a bar); 0.5
# (0.25 before: at 0.5 the first planner's pop part fell under 0.7x the human's diversity).
# Not on a beat where the key tracker starts again (a key change): the old key's chord gets none.
STAY_BONUS = 0.5
# The live planner's logit bonus for the key's tonic chord (I, or i in minor) on the beat the
# lead enters. The first chord was decided from one note, and a one-note key is a near tie of
# major and minor: Twinkle opened on C minor, Frere Jacques on F minor. A musician starts on
# the tonic. With it (1.0) the plan's agreement on the 91 POP909 validation openings goes
# 0.341 -> 0.360, on 996 mid-song segments (each from a cold start) 0.289 -> 0.290, on the
# chorales 0.380 -> 0.380; over the entry's first 2 or 4 beats, or at 2.0, it gains less and
# costs the mid-song segments up to 0.004. A bonus for every chord in the key over the first
# four beats instead gained 0.009 and opened Twinkle on F.
ENTRY_TONIC_BONUS = 1.0
# Once the key tracker has heard PRIMARY_FROM steps of melody (16: a bar of quarter notes), the
# key's primary triads, I, IV and V (i, iv and V in minor), get a logit bonus of PRIMARY_BONUS on
# every beat the live planner decides: where it is near a tie between one of them and a colour
# chord (vi for I, ii for IV, iii for V), the band plays the one a listener expects. The planners
# learnt POP909's and Bach's harmony; under folk tunes with their chords written (the Nottingham
# Music Database, benchmarks/lead_sheets.py) the band played vi on 0.11 of the beats, the sheets
# 0.05. With it, the band's agreement with the written chords of 188 of those tunes went 0.496 ->
# 0.520 (every collection up; the harmonizer, which hears the whole beat and the whole tune's
# key, 0.554); with POP909's pianists, live, on the 91 validation openings 0.357 -> 0.364, on the
# first 48 (seeds 0, 1, 2) 0.322, 0.313, 0.327 -> 0.325, 0.316, 0.328; with Bach 0.422 -> 0.426
# (the presets calibrated again for it).
# The plan alone (benchmarks/planner_entry.py): 91 openings 0.354 -> 0.361, 996 mid-song segments
# 0.293 -> 0.289, 31 chorales 0.428 -> 0.433; training split 728 openings 0.335 -> 0.337, 334
# chorales 0.412 -> 0.410. From the entry on, without the wait, it cost the first 48 openings
# 0.01: there the entry's tonic bonus already leans to I, and IV and V competed with it.
PRIMARY_BONUS = 0.25
PRIMARY_FROM = 16.0
# The live planner's logit bonus for the key's tonic chord (I, or i in minor) on a strong beat
# after the dominant (V or V7) whose first note is the tonic or the key's third: the authentic
# cadence, the move a listener waits for. The planners hear no chord history (fed their own
# chords, they drifted out of key), so after V the tonic note on a strong beat read as pop's
# deceptive vi as often as I: under the Nottingham folk tunes (benchmarks/lead_sheets.py) the
# sheets had I and the band vi after V on 127 of 375 such beats. Under a note of V itself (the
# fifth held at a half cadence, Amazing Grace's "me") the planner keeps its own choice: there a
# bonus for every note after V resolved too early. Weak beats get none: there the chord mostly
# holds. Before -> with it: the band under 188 of those tunes 0.520 -> 0.530, under 80 jigs
# 0.534 -> 0.545; the plan alone, POP909 validation's exact chord 0.317 -> 0.317, the chorales'
# 0.303 -> 0.305 (0.5 gained the folk tunes about half as much, 1.5 no more).
CADENCE_BONUS = 1.0
# On a weak beat (an odd beat of the bar: the 2nd and 4th of 4/4, the 2nd of 3/4) the melody's
# note is more often a passing note and the chord more often holds: there the stay bonus counts
# WEAK_BEAT_STAY times and the melody bonus WEAK_BEAT_MELODY times. The plan's agreement with
# the human accompaniment (POP909 validation openings / 996 mid-song segments / chorales), one
# bonus for every beat -> these: 0.354 -> 0.366 / 0.289 -> 0.291 / 0.380 -> 0.391; on the training
# split 0.335 -> 0.343 / 0.317 -> 0.319 / 0.438 -> 0.439; chord changes 0.45 -> 0.41 of beats.
# (Stay 1.0 and melody 1.0 on weak beats: the same within 0.004, 0.39 changes; strong-beat stay
# 0.25 or 0.75 no better.) Under Ode to Joy the band moved on every melody note (3.0 changes a bar).
WEAK_BEAT_STAY = 1.5
WEAK_BEAT_MELODY = 0.5
# A finished melody's plan (render --whole-song, Planner.song_plan): the weight of the causal
# planner's log-probabilities against the bidirectional one's. Two planners trained apart err
# apart: on 4-bar validation segments the plan's agreement with the human accompaniment was
# (bidirectional alone -> together, melody bonus on both) pop 0.358 -> 0.367, chorales
# 0.384 -> 0.435 (48 / 31 pieces; the causal planner alone: 0.254 / 0.382).
SONG_CAUSAL_WEIGHT = 0.5
# A finished melody's plan is the best path through the beats, not each beat's best chord
# alone: a change of chord costs SONG_CHANGE_COST[style] (on a strong beat, on a weak one) in
# log-probability, the style mix's weighted sum (a style not named here: none). Beat by beat,
# the pop plan changed chord on 0.40 of beats, a pianist about once a bar; with (0.5, 1.0) the
# plan's agreement with the human accompaniment on POP909 goes, validation openings / 996
# mid-song segments, 0.414 -> 0.447 / 0.381 -> 0.390, training split 0.428 -> 0.437 / 0.403 ->
# 0.414, changes 0.40 -> 0.25 of beats ((0.5, 1.5) and (1.0, 2.0) within 0.01 of it). Chorales
# change chord on most beats: there the same cost lost 0.011 on the training split. Half that
# cost, (0.25, 0.5): the same on the training split (728 openings 0.437 -> 0.436, mid-song
# 0.406 -> 0.406), less on the validation openings (0.447 -> 0.432; the band's 0.427 -> 0.418),
# and the band's part more varied (diversity 0.71x -> 0.75x the pianist's, on the first 48
# songs 0.69x -> 0.71x) and more often under the melody in the ten tunes everybody knows
# (benchmarks/tunes.py 283 -> 286 of 313 on-beat notes in the chord, 1.56 -> 1.65 changes a bar).
# Half that again, (0.125, 0.25): the plan agrees with the human accompaniment about as well
# (benchmarks/planner_entry.py --whole-song: 91 validation openings 0.417 -> 0.414, 728 training
# openings 0.415 -> 0.413), its root changes per beat 0.262 -> 0.299 and 0.293 -> 0.325 against
# the pianists' 0.293 and 0.296, and the band's part is more varied (first 48 songs, diversity
# 0.68x -> 0.71x the pianist's, the bar 0.7x; its chords 0.372 -> 0.373) and a little more often
# under the melodies of 100 folk songs (benchmarks/folk.py --whole-song 0.946 -> 0.949).
SONG_CHANGE_COST: dict[str, tuple[float, float]] = {"pop": (0.125, 0.25)}
# A finished melody's band comes in SONG_LEAD_IN_BEATS[style] beats before the melody, where the
# song leaves room (the style mix's weighted mean, rounded; a style not named here: none, the
# band enters with the melody), on the chords the plan's best path gives those beats: the
# planners learnt what pianists play before a melody comes in. A pop band gives the singer the
# key and the time before the first phrase; four-part chorale writing starts with the tune.
# Measured in docs/harmony.md, "A lead-in for a finished melody".
SONG_LEAD_IN_BEATS: dict[str, int] = {"pop": 2}


@dataclass(frozen=True)
class PlannerConfig:
    styles: tuple[str, ...] = ("pop", "chorale")
    hidden: int = 192
    layers: int = 2
    n_chords: int = N_CHORDS
    dropout: float = 0.0  # in training only: on the input layer's output and between GRU layers
    members: int = 1  # pairs of networks (causal, bidirectional) in the file: see Planner

    @property
    def n_features(self) -> int:
        return 12 + 12 + 2 + BEAT_SLOTS + 2 + len(self.styles) + 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["styles"] = list(self.styles)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "PlannerConfig":
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown planner config fields {sorted(unknown)}")
        return cls(**{**data, "styles": tuple(data.get("styles", cls.styles))})


# ----------------------------------------------------------------------------- features


def keys_of(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Krumhansl-Schmuckler over (N, 12) histograms at once -> (tonic (N,), minor (N,) bool).
    An empty or flat histogram reads as C major."""
    h = np.asarray(hist, dtype=np.float64)
    std = h.std(axis=1, keepdims=True)
    z = (h - h.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)
    best = np.argmax(z @ PROFILES.T, axis=1)
    best = np.where(std[:, 0] > 0, best, 0)
    return best % 12, best >= 12


def _scale(tonic: int, minor: bool) -> np.ndarray:
    """(12,) bool: the key's pitch classes as a melody uses them (minor: natural, harmonic and
    melodic minor together)."""
    mask = key_pitch_classes(int(tonic), "minor" if minor else "major")  # minor: natural + raised 7th
    if minor:
        mask[(int(tonic) + 9) % 12] = True  # + raised 6th
    return mask


class KeyTracker:
    """The causal key tracker: a pitch-class histogram of the lead that halves every
    ``recipe.half_life`` beats (:data:`KEY_HALF_LIFE`) and starts again on a key change
    (:data:`KEY_CHANGE_SHARE`, :data:`HELD_MIN`).

    Per beat: :meth:`view` at the beat's first step (again when that step changes: the last
    call counts), then :meth:`advance` with the finished beat's chroma. ``hint``: what it
    starts from (:meth:`KeyHint.histogram`), else nothing; ``scoring``: how a histogram is
    read as a key (:func:`keys_of`; ``benchmarks/key_tracking.py`` tries another)."""

    def __init__(self, hint: np.ndarray | None = None, scoring=None, recipe: TrackerRecipe = LIVE_TRACKER) -> None:
        self.scoring = scoring or keys_of  # histograms (N, 12) -> (tonic, minor); another reading, to compare one
        self.decay = 0.5 ** (1.0 / recipe.half_life)
        self.from_held = recipe.from_held
        self.acc = np.zeros(12) if hint is None else np.array(hint, dtype=np.float64)  # beats before the current one, decayed
        self.last = np.zeros(12)  # the two beats before the current one
        self.before = np.zeros(12)  # the beat before the current one
        self.seed = self.last  # after a key change, the stretch it was heard in
        self.restart = False
        self.hist = np.zeros(12)
        self.tonic, self.minor = 0, False
        self.held: np.ndarray | None = None  # the scale of the key read for the last finished beat (HELD_MIN)

    def view(self, first: np.ndarray) -> np.ndarray:
        """The histogram the key is read from at a beat's first step; sets tonic and minor."""
        np.add(self.acc, first, out=self.hist)
        tonic, minor = self.scoring(self.hist[None])
        self.restart = False
        reading = _scale(tonic[0], minor[0])
        scale = reading if self.held is None else self.held
        for stretch in (self.last, self.before):  # the longer stretch first: it seeds a steadier key
            recent = stretch + first
            total = recent.sum()
            if total <= 0:
                continue
            outside = recent * ~scale
            if (outside.sum() >= KEY_CHANGE_SHARE * total and np.count_nonzero(outside) >= 2
                    and (recent * ~reading).any()):  # fmt: skip
                new_tonic, new_minor = self.scoring(recent[None])
                if recent[_scale(new_tonic[0], new_minor[0])].sum() >= KEY_CHANGE_FIT * total:
                    self.restart = True
                    self.seed = stretch
                    np.copyto(self.hist, recent)
                    tonic, minor = new_tonic, new_minor
                    break
        self.tonic, self.minor = int(tonic[0]), bool(minor[0])
        return self.hist

    def advance(self, chroma: np.ndarray) -> None:
        """The current beat is over; ``chroma`` is what the lead sounded in it."""
        base = self.seed if self.restart else self.acc  # after a key change: the stretch it was heard in
        if self.from_held and self.hist.sum() >= HELD_MIN:
            self.held = _scale(self.tonic, self.minor)
        self.acc = base * self.decay + chroma
        self.last = self.before + chroma
        self.before = np.array(chroma, dtype=np.float64)
        self.restart = False


def _tracked(chroma: np.ndarray, first: np.ndarray, recipe: TrackerRecipe) -> tuple[np.ndarray, np.ndarray]:
    """The causal key tracker run over a lead's beats: what it has heard at each beat's
    decision (beats < b decayed, or after a key change only the beat or two it was heard in;
    plus beat b's first step; (N, 12)) and whether it started again there ((N,) bool)."""
    tracker = KeyTracker(recipe=recipe)
    hists = np.zeros_like(chroma, dtype=np.float64)
    restarts = np.zeros(len(chroma), dtype=bool)
    for b in range(len(chroma)):
        hists[b] = tracker.view(first[b])
        restarts[b] = tracker.restart
        tracker.advance(chroma[b])
    return hists, restarts


@dataclass
class BeatLead:
    """A lead summarised per beat: what the planner reads."""

    chroma: np.ndarray  # (N, 12) lead note-steps per pitch class in each beat
    first: np.ndarray  # (N, 12) pitch classes sounding at each beat's first step
    onset: np.ndarray  # (N,) a lead note starts at the beat's first step
    position: np.ndarray  # (N,) beat number inside its bar
    beats: np.ndarray  # (T,) beat number of every step
    tracker: TrackerRecipe = LIVE_TRACKER  # the key tracker's (TRAINING_TRACKER: the frames planners learn from)

    @cached_property
    def key_track(self) -> tuple[np.ndarray, np.ndarray]:
        """The causal key tracker over these beats, run once: (histograms (N, 12), restarts (N,))."""
        return _tracked(self.chroma, self.first, self.tracker)


def beat_lead(lead: np.ndarray, beat_in_bar: np.ndarray, steps_per_beat: int, lowest_pitch: int = 21, *,
              tracker: TrackerRecipe = LIVE_TRACKER) -> BeatLead:
    beats = beat_index(beat_in_bar, steps_per_beat)
    counts = pc_counts(lead, lowest_pitch)  # (T, 12)
    chroma = beat_chroma(counts, beats)
    starts = np.flatnonzero(np.diff(beats, prepend=-1))
    first = (counts[starts] > 0).astype(np.float64)
    onset = lead[starts, 0].any(axis=-1)
    position = np.asarray(beat_in_bar)[starts] // steps_per_beat
    return BeatLead(chroma, first, onset, position, beats, tracker)


def _rotate(x: np.ndarray, tonic: np.ndarray) -> np.ndarray:
    """Rotate (N, 12) rows so that each row's tonic becomes pitch class 0."""
    idx = (np.arange(12)[None, :] + tonic[:, None]) % 12
    return np.take_along_axis(x, idx, axis=1)


def _norm(x: np.ndarray) -> np.ndarray:
    s = x.sum(axis=1, keepdims=True)
    return x / np.where(s > 0, s, 1.0)


def features(bl: BeatLead, style: np.ndarray, *, causal: bool, key: KeyHint | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, F) float32, tonic (N,)) for every beat of a lead.

    causal: the previous beat's chroma and this beat's first step, key from the tracker;
    bidirectional: this beat's chroma and its first step, key from the whole lead (``key``:
    the hinted one, of a key signature's two the one the lead fits better, unless it fits
    neither: :meth:`KeyHint.pick`).
    """
    n = len(bl.chroma)
    prev = np.vstack([np.zeros((1, 12)), bl.chroma[:-1]]) if n else bl.chroma
    if causal:
        tonic, minor = keys_of(bl.key_track[0])
        heard = prev
    else:
        whole = bl.chroma.sum(axis=0, keepdims=True)
        told = None if key is None else key.pick(whole[0])
        t, m = keys_of(whole) if told is None else (np.array([told[0]]), np.array([told[1]]))
        tonic, minor = np.repeat(t, n), np.repeat(m, n)
        heard = bl.chroma
    pos = np.zeros((n, BEAT_SLOTS))
    pos[np.arange(n), np.minimum(bl.position, BEAT_SLOTS - 1)] = 1.0
    flags = np.stack([bl.onset.astype(np.float64), (bl.first.sum(axis=1) == 0).astype(np.float64)], axis=1)
    mode = np.stack([~minor, minor], axis=1).astype(np.float64)
    feats = np.concatenate([_norm(_rotate(heard, tonic)), _rotate(bl.first, tonic), flags, pos, mode,
                            np.broadcast_to(style, (n, len(style)))], axis=1)  # fmt: skip
    return feats.astype(np.float32), tonic


# ----------------------------------------------------------------------------- models


class PlannerNet(nn.Module):
    """A GRU over beats -> chord logits (key-relative)."""

    def __init__(self, cfg: PlannerConfig, *, bidirectional: bool) -> None:
        super().__init__()
        self.cfg, self.bidirectional = cfg, bidirectional
        hidden = cfg.hidden // 2 if bidirectional else cfg.hidden
        self.inp = nn.Sequential(nn.Linear(cfg.n_features, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout))
        self.gru = nn.GRU(cfg.hidden, hidden, num_layers=cfg.layers, batch_first=True, bidirectional=bidirectional,
                          dropout=cfg.dropout if cfg.layers > 1 else 0.0)  # fmt: skip
        self.out = nn.Sequential(nn.LayerNorm(cfg.hidden), nn.Linear(cfg.hidden, cfg.n_chords))

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, F) -> logits (B, N, n_chords), final hidden state."""
        y, h = self.gru(self.inp(x), h)
        return self.out(y), h


@dataclass
class Plan:
    """A chord per grid step, and the key it was decided in."""

    chords: np.ndarray  # (T,) chord labels
    tonic: np.ndarray  # (T,) key tonic pitch class
    minor: np.ndarray  # (T,) bool


def chart_plan(chords_per_beat: np.ndarray, steps_per_beat: int) -> "Plan":
    """A plan that plays a chord chart (``Chart.per_beat()``, transposed as wanted): its chord
    on every step of each beat, in the key its chords' tones suggest (for the guard)."""
    beats = np.asarray(chords_per_beat, dtype=np.int64)
    tonic, minor = keys_of(CHROMA[beats].sum(axis=0, keepdims=True))
    steps = len(beats) * steps_per_beat
    return Plan(np.repeat(beats, steps_per_beat), np.full(steps, int(tonic[0])), np.full(steps, bool(minor[0])))


def features_minor(feats: np.ndarray) -> np.ndarray:
    """The minor flag of per-beat features (N, F)."""
    return feats[:, 27 + BEAT_SLOTS] > 0.5


# ----------------------------------------------------------------------------- the guard


WAIT_FOR_LEAD = 1000.0  # the guard's offset on "no chord": before the lead's first note the band waits


def _guard_table(lowest_pitch: int, n_keys: int) -> np.ndarray:
    """(N_CHORDS, 24 keys (tonic x mode), n_keys) in {0, 1, 2}: 0 chord tone, 1 another
    tone of the key, 2 outside both; the "no chord" row is 0 (:class:`Guard` sets it)."""
    pcs = (lowest_pitch + np.arange(n_keys)) % 12
    out = np.zeros((N_CHORDS, 24, n_keys), dtype=np.float32)
    for k in range(24):
        scale = key_pitch_classes(k % 12, "minor" if k >= 12 else "major")[pcs]
        for c in range(1, N_CHORDS):
            out[c, k] = np.where(CHROMA[c][pcs] > 0, 0.0, np.where(scale, 1.0, 2.0))
    return out


class Guard:
    """The decision-time guard: per key, how much higher a note's decision threshold is when it
    is not a tone of the planned chord (``strength``), or of the key either (twice that), so
    such notes sound only where the model is confident (the fine-grained guidance idea).
    Before the lead's first note (plan "no chord") the band waits: nothing sounds."""

    def __init__(self, strength: float, lowest_pitch: int = 21, n_keys: int = 88) -> None:
        self.strength = float(strength)
        self.table = _guard_table(lowest_pitch, n_keys) * self.strength
        self.table[NO_CHORD] = WAIT_FOR_LEAD  # planned only before the lead's first note: no chord, no key yet

    def offsets(self, chord: int, tonic: int, minor: bool) -> np.ndarray:
        """(K,) threshold offsets for one step."""
        return self.table[chord, tonic + 12 * bool(minor)]

    def plan_offsets(self, plan: "Plan") -> np.ndarray:
        """(T, K) offsets for a whole plan."""
        return self.table[plan.chords, plan.tonic + 12 * plan.minor.astype(np.int64)]


@dataclass
class Planner:
    """The planners of one checkpoint: a causal and a bidirectional network and, in a merged
    file (``cfg.members`` > 1, :func:`~accomp.model.planner_train.planner_merge`), further
    pairs trained apart. Live, every member's causal planner decides together (their mean
    log-probability, :meth:`live_scores`); the first pair's bidirectional one plans the
    distillation's leads; a finished melody is planned by every network together
    (:meth:`song_plan`)."""

    cfg: PlannerConfig
    causal: PlannerNet
    whole: PlannerNet  # bidirectional
    more: tuple[tuple[PlannerNet, PlannerNet], ...] = ()  # the further members' (causal, whole)

    @classmethod
    def create(cls, cfg: PlannerConfig) -> "Planner":
        pairs = [(PlannerNet(cfg, bidirectional=False), PlannerNet(cfg, bidirectional=True)) for _ in range(max(1, cfg.members))]
        return cls(cfg, *pairs[0], tuple(pairs[1:]))

    @property
    def pairs(self) -> list[tuple[PlannerNet, PlannerNet]]:
        return [(self.causal, self.whole), *self.more]

    def _named(self):
        """(prefix, network) of every network: the first pair as in a one-pair file."""
        for i, pair in enumerate(self.pairs):
            for name, net in zip(("causal", "whole"), pair):
                yield f"m{i}.{name}." if i else f"{name}.", net

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {prefix + k: v for prefix, net in self._named() for k, v in net.state_dict().items()}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        for prefix, net in self._named():
            net.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})

    def eval(self) -> "Planner":
        for _, net in self._named():
            net.eval()
        return self

    @torch.inference_mode()
    def song_plan(self, lead: np.ndarray, beat_in_bar: np.ndarray, steps_per_beat: int, style: np.ndarray,
                  key: KeyHint | None = None) -> Plan:
        """The plan of a finished melody (``accomp render --whole-song``): both planners as one
        ensemble, their log-probabilities averaged (:data:`SONG_CAUSAL_WEIGHT`; in a merged
        file each kind is its members' mean), each rotated out of its own key frame, and
        chords that hold the beat's melody favoured as live
        (:data:`MELODY_BONUS`, here on the share of the whole beat's note time a chord holds);
        the chords are the best path through the beats, a change costing the style's
        :data:`SONG_CHANGE_COST`. The key is the whole melody's (``key``: the hinted one, of a
        key signature's two the one the melody fits better); "no chord" only before its first note."""
        bl = beat_lead(lead, beat_in_bar, steps_per_beat)
        if not len(bl.chroma):
            empty = np.zeros(0, dtype=np.int64)
            return Plan(empty, empty, empty.astype(bool))
        lead_in = round(float(self._style_sum(style, SONG_LEAD_IN_BEATS, 0)))
        chords, key_tonic, minor = self.song_beats(bl, style, key, lead_in=lead_in)
        return Plan(chords[bl.beats], key_tonic[bl.beats], minor[bl.beats])

    def _style_sum(self, style: np.ndarray, table: dict, default) -> np.ndarray:
        """A per-style setting (``table``: style name -> value, ``default`` for a style not in
        it) for a style mix: each style's value weighted by its share of ``style`` (the "no
        style" weight adds nothing)."""
        start = np.zeros_like(np.asarray(default, dtype=np.float64))  # no named style: nothing
        return sum((float(w) * np.asarray(table.get(name, default), dtype=np.float64) for name, w in zip(self.cfg.styles, style)), start)

    @torch.inference_mode()
    def song_beats(self, bl: BeatLead, style: np.ndarray, key: KeyHint | None = None, *,
                   lead_in: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`song_plan` per beat of a lead with at least one beat: (chord, key tonic,
        minor), chords from ``lead_in`` beats before the melody's first note (no chord before)."""
        scores = np.zeros((len(bl.chroma), self.cfg.n_chords))
        for kind, causal, weight in ((1, False, 1.0 - SONG_CAUSAL_WEIGHT), (0, True, SONG_CAUSAL_WEIGHT)):
            feats, tonic = features(bl, style, causal=causal, key=None if causal else key)
            x = torch.from_numpy(feats)[None]
            scores += weight * _absolute(self._mean_logp(x, kind).astype(np.float64), tonic)
            if not causal:
                key_tonic, minor = tonic, features_minor(feats)
        scores += MELODY_BONUS * (_norm(bl.chroma) @ CHROMA.T)
        scores[:, NO_CHORD] = -np.inf
        heard = np.flatnonzero(heard_by(bl, causal=False))  # from the first note on
        if len(heard) and lead_in > 0:  # ... and the lead-in before it
            heard = np.arange(max(0, int(heard[0]) - lead_in), len(bl.chroma))
        strong, weak = self._style_sum(style, SONG_CHANGE_COST, (0.0, 0.0))
        cost = np.where(weak_beat(bl.position[heard]), weak, strong)
        chords = np.full(len(bl.chroma), NO_CHORD, dtype=np.int64)
        chords[heard] = best_path(scores[heard], cost)
        return chords, key_tonic, minor

    @torch.inference_mode()
    def live_scores(self, x: torch.Tensor) -> np.ndarray:
        """The live decision's key-relative chord scores for causal features ``x`` (1, N, F):
        the causal planner's logits, or in a merged file its members' mean log-probability
        (:class:`PlannerStream` computes the same beat by beat)."""
        return self.causal(x)[0][0].numpy() if not self.more else self._mean_logp(x, 0)

    def _mean_logp(self, x: torch.Tensor, kind: int) -> np.ndarray:
        """Every member's log-probabilities for features ``x`` (1, N, F), averaged: of the
        causal planners (``kind`` 0) or the bidirectional ones (1) -> (N, n_chords)."""
        return (sum(torch.log_softmax(pair[kind](x)[0][0], dim=-1) for pair in self.pairs) / len(self.pairs)).numpy()

    @torch.inference_mode()
    def plan(self, lead: np.ndarray, beat_in_bar: np.ndarray, steps_per_beat: int, style: np.ndarray, *, whole: bool = False) -> Plan:
        """The chord plan of one lead (T, 2, K): by the causal planners as they decide live (one
        parallel pass, the same numbers as :class:`PlannerStream` beat by beat; in a merged file
        all its members), or with ``whole`` by the first pair's bidirectional one from the whole
        lead (the distillation's plans)."""
        bl = beat_lead(lead, beat_in_bar, steps_per_beat)
        if not len(bl.chroma):
            empty = np.zeros(0, dtype=np.int64)
            return Plan(empty, empty, empty.astype(bool))
        feats, tonic = features(bl, style, causal=not whole)
        x = torch.from_numpy(feats)[None]
        scores = self.whole(x)[0][0].numpy() if whole else self.live_scores(x)
        chords = decide(scores, tonic, bl, causal=not whole)
        minor = features_minor(feats)
        return Plan(chords[bl.beats], tonic[bl.beats], minor[bl.beats])


_TRANSPOSED = np.stack([transpose(np.arange(N_CHORDS), t) for t in range(12)])  # [t, key-relative chord] -> chord
_TONIC = np.array([chord_index(0, "maj"), chord_index(0, "min")])  # [minor]: the key-relative tonic chord
_DOMINANT = np.zeros(N_CHORDS, dtype=bool)  # [key-relative chord]: V or V7 (CADENCE_BONUS)
_DOMINANT[[chord_index(7, "maj"), chord_index(7, "7")]] = True
_RESOLVES = np.array([[0, 4], [0, 3]])  # [minor]: the melody notes after V that ask for the tonic: its root, the key's third
_PRIMARY = np.array([[chord_index(r, q) for r, q in ((0, "maj"), (5, "maj"), (7, "maj"))],
                     [chord_index(r, q) for r, q in ((0, "min"), (5, "min"), (7, "maj"))]])  # [minor]: I IV V, i iv V (PRIMARY_BONUS)


def _absolute(scores: np.ndarray, tonic: np.ndarray) -> np.ndarray:
    """Key-relative per-beat chord scores (N, C) -> the same scores per absolute chord."""
    out = np.empty_like(scores)
    np.put_along_axis(out, _TRANSPOSED[tonic], scores, axis=1)
    return out


def weak_beat(position):
    """Whether a beat (its number inside the bar, or an array of them) is a weak one: the bar's
    odd beats, the 2nd and 4th of 4/4, the 2nd of 3/4 (:data:`WEAK_BEAT_STAY`, :data:`SONG_CHANGE_COST`)."""
    return position % 2 == 1


def best_path(scores: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """The chord sequence with the highest total of per-beat scores (N, C) less ``cost[b]``
    for every beat b whose chord differs from the beat before (Viterbi: a chord either holds
    or comes from the best path into the beat before)."""
    n, c = scores.shape
    if not n:
        return np.zeros(0, dtype=np.int64)
    value = scores[0].copy()
    came_from = np.zeros((n, c), dtype=np.int64)
    held = np.arange(c)
    for b in range(1, n):
        best = int(np.argmax(value))
        moved = value[best] - cost[b]
        came_from[b] = np.where(value >= moved, held, best)
        value = np.maximum(value, moved) + scores[b]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmax(value))
    for b in range(n - 1, 0, -1):
        path[b - 1] = came_from[b, path[b]]
    return path


def heard_by(bl: BeatLead, *, causal: bool) -> np.ndarray:
    """(N,) bool: the lead has sounded by beat b's decision (causal: up to its first step)."""
    before = np.concatenate([[0.0], np.cumsum(bl.chroma.sum(axis=1))[:-1]])
    now = bl.first.sum(axis=1) if causal else bl.chroma.sum(axis=1)
    return before + now > 0


def _context_bonuses(scores: np.ndarray, before: int, *, weak: bool, minor: bool, sung: np.ndarray,
                     heard: float, restart: bool) -> None:
    """Add to one beat's key-relative scores (in place) what the beat's context asks, the one
    rule for the streamed and the parallel decision: once the key tracker has heard
    :data:`PRIMARY_FROM` of the melody (``heard``), the key's I, IV and V :data:`PRIMARY_BONUS`;
    on the beat the lead enters (``before`` is "no chord") the tonic chord
    :data:`ENTRY_TONIC_BONUS`; else, unless the key tracker starts again (``restart``), the
    chord before (key-relative in this beat's key) :data:`STAY_BONUS` (on a weak beat times
    :data:`WEAK_BEAT_STAY`) and, after V or V7 on a strong beat whose first notes (``sung``:
    (12,) bool, key-relative) hold the tonic or the key's third, the tonic chord :data:`CADENCE_BONUS`."""
    if heard >= PRIMARY_FROM:
        scores[_PRIMARY[int(minor)]] += PRIMARY_BONUS
    if before == NO_CHORD:
        scores[_TONIC[int(minor)]] += ENTRY_TONIC_BONUS
    elif not restart:
        scores[before] += STAY_BONUS * (WEAK_BEAT_STAY if weak else 1.0)
        if _DOMINANT[before] and not weak and sung[_RESOLVES[int(minor)]].any():
            scores[_TONIC[int(minor)]] += CADENCE_BONUS


def decide(logits: np.ndarray, tonic: np.ndarray, bl: BeatLead, *, causal: bool) -> np.ndarray:
    """Per-beat chords from key-relative logits: the best chord, rotated back to the key;
    "no chord" only before the lead's first note; live, chords that hold the beat's first
    note get :data:`MELODY_BONUS`, the chord of the beat before :data:`STAY_BONUS` (on a weak
    beat scaled by :data:`WEAK_BEAT_MELODY` and :data:`WEAK_BEAT_STAY`), on the beat the lead
    enters the key's tonic chord :data:`ENTRY_TONIC_BONUS`, once the key tracker has heard
    :data:`PRIMARY_FROM` of the melody the key's I, IV and V :data:`PRIMARY_BONUS`, and on a
    strong beat after V or V7 that starts on the tonic or the key's third the tonic chord
    :data:`CADENCE_BONUS`."""
    heard = heard_by(bl, causal=causal)
    logits = logits.copy()
    weak = weak_beat(bl.position)
    if causal:
        melody = MELODY_BONUS * np.where(weak, WEAK_BEAT_MELODY, 1.0)
        sung = _rotate(bl.first, tonic) > 0  # key-relative pitch classes at each beat's first step
        logits += melody[:, None] * (sung @ CHROMA.T > 0)
    logits[heard, NO_CHORD] = -np.inf
    if not causal:
        return np.where(heard, _TRANSPOSED[tonic, np.argmax(logits, axis=1)], NO_CHORD)
    out = np.full(len(logits), NO_CHORD, dtype=np.int64)
    restarts = bl.key_track[1]
    minor = keys_of(bl.key_track[0])[1]
    for b in np.flatnonzero(heard):  # beat by beat: each beat's bonus goes to the chord before
        before = _TRANSPOSED[-tonic[b] % 12, out[b - 1] if b else NO_CHORD]  # "no chord" stays "no chord"
        _context_bonuses(logits[b], int(before), weak=bool(weak[b]), minor=bool(minor[b]), sung=sung[b],
                         heard=float(bl.key_track[0][b].sum()), restart=bool(restarts[b]))
        out[b] = _TRANSPOSED[tonic[b], np.argmax(logits[b])]
    return out


def _step_weights(net: PlannerNet) -> tuple:
    """A causal :class:`PlannerNet`'s tensors as :func:`_beat_step` uses them."""
    gru, norm, head = net.gru, net.out[0], net.out[1]
    layers = [tuple(getattr(gru, f"{w}_l{layer}").detach() for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
              for layer in range(gru.num_layers)]  # fmt: skip
    return (net.inp[0].weight.detach(), net.inp[0].bias.detach(), layers,
            (norm.normalized_shape, norm.weight.detach(), norm.bias.detach(), norm.eps), head.weight.detach(), head.bias.detach())  # fmt: skip


def _beat_step(weights: list[tuple], hidden: int):
    """One beat of every member's causal :class:`PlannerNet`, by its weights (``_step_weights``):
    ``(x (B, F), the state before the beat (M, L, 1, H), that state's hidden-side gate inputs
    (M, L, 1, 3H): w_hh h + b_hh, computed ahead, the states after the beat (M, L, B, H),
    written)`` -> the scores (B, n_chords) of :meth:`Planner.live_scores`, one row per input
    row: B = 1 for the beat as it comes, or one row per first note the beat may start with,
    all from the same state (:meth:`PlannerStream.anticipate`). The GRU cell is torch's own
    arithmetic (aten's GRUCell: the same operations in the same order), so the state and the
    scores are the module's to the bit; only its hidden side is taken out, to be done between
    beats."""

    def step(x, before, gates, after):
        total = None
        for m, (w_in, b_in, gru, norm, w_out, b_out) in enumerate(weights):
            y = F.gelu(F.linear(x, w_in, b_in))
            for layer, (w_ih, _, b_ih, _) in enumerate(gru):
                gi, gh = F.linear(y, w_ih, b_ih), gates[m, layer]
                rz = gh[:, : 2 * hidden].add(gi[:, : 2 * hidden]).sigmoid_()  # the reset and update gates
                n = gi[:, 2 * hidden :].add(gh[:, 2 * hidden :].mul(rz[:, :hidden])).tanh_()
                y = torch.sub(before[m, layer], n).mul_(rz[:, hidden:]).add_(n)
                after[m, layer].copy_(y)
            logits = F.linear(F.layer_norm(y, *norm), w_out, b_out)
            if len(weights) == 1:
                return logits
            logp = torch.log_softmax(logits, dim=-1)
            total = logp if total is None else total + logp
        return total / len(weights)

    return step


AHEAD_ROWS = 25  # the first frames a beat is decided ahead for: no note, or one pitch class held or struck


def _ahead_row(first: np.ndarray, onset: bool) -> int:
    """The row of :meth:`PlannerStream.anticipate` for a beat's first frame (its pitch classes
    (12,) 0/1 and whether a note starts there): 0 for silence, ``1 + 2 pc + onset`` for one
    pitch class; -1 for two or more, which are decided as they come."""
    count = int(first.sum())
    if count == 0:
        return 0
    return 1 + 2 * int(np.argmax(first)) + int(onset) if count == 1 else -1


class PlannerStream:
    """The causal planner run live, one beat at a time, with a revisable decision.

    Call :meth:`decide` at a beat's first step with what the lead holds there (again, from
    the same state, when a late note changes it: :meth:`decide` with ``revise=True``), and
    :meth:`hear` with the lead frame of every step. Between steps, once a beat's decision is
    final, :meth:`prepare` takes nearly half the next beat's arithmetic off its step; and once
    the beat's last step is final, :meth:`anticipate` decides the next beat ahead for each
    first note it may start with, so that the beat's own step only looks its answer up (the
    cached plan of the issue: proposed a beat ahead, confirmed when the note comes). Everything
    a beat's step touches is preallocated. ``hint``: the key the band is told
    (:class:`KeyHint`), taken at the next :meth:`reset`.
    """

    def __init__(self, planner: Planner, style: np.ndarray, steps_per_beat: int, lowest_pitch: int, n_keys: int) -> None:
        # Every member's causal planner, its tensors taken out once (a module's attributes cost more than its arithmetic).
        self._weights = [_step_weights(pair[0].eval()) for pair in planner.pairs]
        members, layers, hidden = len(self._weights), planner.cfg.layers, planner.cfg.hidden
        self._h = torch.zeros(2, members, layers, 1, hidden)  # two buffers: before the beat, after it
        self._gates = torch.zeros(2, members, layers, 1, 3 * hidden)  # each buffer's hidden-side gate inputs
        self._ready = [False, False]  # whether _gates[b] is buffer b's (prepare)
        self._hs, self._gs = list(self._h), list(self._gates)
        self.x = torch.zeros(1, 1, planner.cfg.n_features)
        self._step = self._traced(_beat_step(self._weights, hidden), 1)
        # The next beat decided ahead (anticipate): a row per first frame, the key each first frame
        # gives the tracker (hist, tonic, minor, restart, which stretch seeded a restart: 0 the last
        # two beats, 1 the last), the states after it, the scores, and what it was decided from.
        self._ahead_step = self._traced(_beat_step(self._weights, hidden), AHEAD_ROWS)
        self._ahead_x = torch.zeros(AHEAD_ROWS, planner.cfg.n_features)
        self._ahead_h = torch.zeros(members, layers, AHEAD_ROWS, hidden)
        self._ahead_scores = np.zeros((AHEAD_ROWS, planner.cfg.n_chords), dtype=np.float32)  # as the networks give them
        self._ahead_hist = np.zeros((13, 12))
        self._ahead_key = np.zeros((13, 4), dtype=np.int64)
        self._ahead_prev = np.zeros(12)
        self._ahead_firsts = np.vstack([np.zeros((1, 12)), np.eye(12)])  # [(row + 1) // 2]: the row's first frame
        self._scores = np.zeros(planner.cfg.n_chords, dtype=np.float32)
        self._rot = (np.arange(12)[None, :] + np.arange(12)[:, None]) % 12  # row t: rotate tonic t to 0
        self.cfg = planner.cfg
        self.style = np.asarray(style, dtype=np.float64)
        self.steps_per_beat = steps_per_beat
        fold = np.zeros((n_keys, 12))
        fold[np.arange(n_keys), (lowest_pitch + np.arange(n_keys)) % 12] = 1.0
        self.fold = fold
        self.hint: KeyHint | None = None
        self.reset()

    @torch.inference_mode()
    def _traced(self, step, rows: int):
        """``step`` traced for ``rows`` input rows (TorchScript: about a quarter less time per beat
        than op by op), on scratch copies of the state so that tracing and warming it up leave the
        stream untouched."""
        x, before, gates = torch.zeros(rows, self.x.shape[-1]), self._hs[0].clone(), self._gs[0].clone()
        after = torch.zeros(*self._h.shape[1:3], rows, self._h.shape[-1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes are fixed
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript: still the lightest way here
            traced = torch.jit.trace(step, (x, before, gates, after), check_trace=False)
            for _ in range(3):  # TorchScript profiles and optimises on its first calls: not in play
                traced(x, before, gates, after)
        return traced

    def reset(self) -> None:
        self._h.zero_()
        self._ready[:] = (False, False)
        self._before = 0  # which buffer holds the GRUs' hidden state before the current beat (per member and layer)
        self.keys = KeyTracker(None if self.hint is None else self.hint.histogram())
        self.beat_chroma = np.zeros(12)  # the current beat so far
        self.prev_chroma = np.zeros(12)
        self.heard_any = False
        self.chord = NO_CHORD
        self.prev_chord = NO_CHORD  # the chord of the beat before the current one
        self.tonic, self.minor = 0, False
        self.revised = False
        self._beats = 0  # beats begun since the reset
        self._ahead_for = self._ahead_position = -1  # the beat (its number, its place in the bar) decided ahead

    def _features(self, first: np.ndarray, onset: bool, position: int) -> int:
        self.keys.view(first)
        self._write_features(self.x[0, 0].numpy(), self.prev_chroma, first, onset, position, self.keys.tonic, self.keys.minor)
        return self.keys.tonic

    def _write_features(self, x: np.ndarray, prev_chroma: np.ndarray, first: np.ndarray, onset: bool, position: int,
                        tonic: int, minor: bool) -> None:  # fmt: skip
        rot = self._rot[tonic]
        prev = prev_chroma[rot]
        x[:12] = prev / prev.sum() if prev.sum() > 0 else 0.0
        x[12:24] = first[rot]
        x[24], x[25] = float(onset), float(first.sum() == 0)
        x[26 : 26 + BEAT_SLOTS] = 0.0
        x[26 + min(position, BEAT_SLOTS - 1)] = 1.0
        x[26 + BEAT_SLOTS], x[27 + BEAT_SLOTS] = float(not minor), float(minor)
        x[28 + BEAT_SLOTS :] = self.style

    @torch.inference_mode()
    def anticipate(self, pending: np.ndarray, beat_in_bar: int) -> None:
        """Decide the next beat ahead, for every first frame it may start with: silence, or one
        pitch class held or struck (:data:`AHEAD_ROWS` rows through the networks in one pass,
        about twice one row's time), so that its step only looks its row up (:meth:`decide`).

        Call it between steps once the last step before the beat can no longer change:
        ``pending`` is that step's lead frame, which :meth:`hear` will count at the beat's step,
        ``beat_in_bar`` the beat's first step's. It changes nothing that the stream decides from;
        a beat that does not start as foreseen (another history, another place in the bar, two
        or more pitch classes at once) is decided as it comes. Called again for the same beat,
        it has nothing to do. The rows come from one batched pass, so a beat decided ahead and
        one decided as it comes agree to float rounding (about 1e-6), not to the bit."""
        target, position = self._beats + 1, beat_in_bar // self.steps_per_beat
        if self._ahead_for == target and self._ahead_position == position:
            return
        self.prepare()  # the hidden side of the state the next beat starts from
        prev = self._ahead_prev
        np.add(self.beat_chroma, pending.any(axis=0).astype(np.float64) @ self.fold, out=prev)  # its prev_chroma
        keys = copy.copy(self.keys)  # the tracker as the next beat will find it
        keys.hist = self.keys.hist.copy()  # its own (view writes into it); advance reads whether anything was heard
        keys.advance(prev)
        x = self._ahead_x.numpy()
        for k, first in enumerate(self._ahead_firsts):
            np.copyto(self._ahead_hist[k], keys.view(first))
            self._ahead_key[k] = (keys.tonic, keys.minor, keys.restart, keys.seed is not keys.last)
            for row in (0,) if k == 0 else (2 * k - 1, 2 * k):  # silence; held, struck
                self._write_features(x[row], prev, first, row > 0 and row % 2 == 0, position, keys.tonic, keys.minor)
        start = 1 - self._before
        scores = self._ahead_step(self._ahead_x, self._hs[start], self._gs[start], self._ahead_h)
        np.copyto(self._ahead_scores, scores.numpy())
        self._ahead_for, self._ahead_position = target, position

    def _recall(self, row: int, position: int) -> bool:
        """Take the beat's decision made ahead for ``row`` (:meth:`anticipate`), if there is one
        for this beat as it came: the tracker's key, the networks' state after the beat, the
        scores in ``self._scores``."""
        if (row < 0 or self._ahead_for != self._beats or self._ahead_position != position
                or not np.array_equal(self._ahead_prev, self.prev_chroma)):  # fmt: skip
            return False
        k, keys = (row + 1) // 2, self.keys
        np.copyto(keys.hist, self._ahead_hist[k])
        tonic, minor, restart, stretch = self._ahead_key[k]
        keys.tonic, keys.minor, keys.restart = int(tonic), bool(minor), bool(restart)
        if restart:
            keys.seed = keys.before if stretch else keys.last
        after = 1 - self._before
        self._hs[after].copy_(self._ahead_h[:, :, row : row + 1])
        self._ready[after] = False
        np.copyto(self._scores, self._ahead_scores[row])
        return True

    @torch.inference_mode()
    def decide(self, lead_frame: np.ndarray, beat_in_bar: int, *, revise: bool = False) -> int:
        """The chord of the beat starting at this step, given the lead frame (2, K) there."""
        if not revise:  # a new beat: the finished one enters the tracker and the history
            self.prev_chord = self.chord
            self.keys.advance(self.beat_chroma)
            self.prev_chroma[:] = self.beat_chroma
            self._before = 1 - self._before  # the state after the beat before is the state before this one
            self.beat_chroma[:] = 0.0
            self._beats += 1
        if self._ahead_for > self._beats:  # this beat decided again after the next was decided ahead
            self._ahead_for = -1
        first = (lead_frame.any(axis=0).astype(np.float64) @ self.fold > 0).astype(np.float64)
        onset = bool(lead_frame[0].any())
        position = beat_in_bar // self.steps_per_beat
        if self._recall(_ahead_row(first, onset), position):
            tonic, scores = self.keys.tonic, self._scores
        else:
            tonic = self._features(first, onset, position)
            scores = self._step_net().numpy()
        heard = self.heard_any or first.any()
        weak = weak_beat(position)
        sung = first[self._rot[tonic]] > 0  # key-relative
        scores += MELODY_BONUS * (WEAK_BEAT_MELODY if weak else 1.0) * (CHROMA @ sung > 0)
        _context_bonuses(scores, int(_TRANSPOSED[-tonic % 12, self.prev_chord]), weak=weak, minor=bool(self.keys.minor),
                         sung=sung, heard=float(self.keys.hist.sum()), restart=bool(self.keys.restart))
        if heard:
            scores[NO_CHORD] = -np.inf
        best = int(np.argmax(scores))
        minor = self.keys.minor
        if best == _TONIC[int(not minor)] and self._told_mode(tonic, minor, first):
            best = int(_TONIC[int(minor)])
        chord = int(_TRANSPOSED[tonic, best]) if heard else NO_CHORD
        self.revised = revise and chord != self.chord
        self.chord, self.tonic, self.minor = chord, tonic, self.keys.minor
        return chord

    def _told_mode(self, tonic: int, minor: bool, first: np.ndarray) -> bool:
        """Whether the tonic chord must be the tracked mode's: the band was told this very key
        (``--key``, not a signature) and the beat's first notes do not sound the other mode's
        third. Early in a song the planner prefers the minor tonic in a major frame (from
        minor songs whose first notes read as major: Twinkle's C C G G read C Cm Cm Cm on the
        lead sheet while the band, its Eb held back by the guard, played C-G); told C major,
        the tonic is C."""
        hint = self.hint
        if hint is None or not hint.firm or hint.keys != ((tonic, minor),):
            return False
        return not first[(tonic + (4 if minor else 3)) % 12]

    def _step_net(self) -> torch.Tensor:
        """One beat of each member's :class:`PlannerNet`: ``self.x`` and the state before the
        beat in, the state after it written -> the scores (n_chords,) of :meth:`Planner.live_scores`."""
        before, after = self._before, 1 - self._before
        if not self._ready[before]:  # not prepared between the steps
            self._gates_of(before)
        self._ready[after] = False
        return self._step(self.x[0], self._hs[before], self._gs[before], self._hs[after])[0]

    def _gates_of(self, b: int) -> None:
        for m, (_, _, gru, _, _, _) in enumerate(self._weights):
            for layer, (_, w_hh, _, b_hh) in enumerate(gru):
                torch.addmm(b_hh, self._h[b, m, layer], w_hh.t(), out=self._gates[b, m, layer])
        self._ready[b] = True

    @torch.inference_mode()
    def prepare(self) -> None:
        """What the next beat's decision needs of the state it starts from (the GRUs' hidden
        side, nearly half the beat's weights to read), done now: between steps, once this beat's
        decision is final (the engine calls it when the beat's grace window has closed). A
        decision revised after it makes it again; one not prepared does it itself."""
        if not self._ready[1 - self._before]:
            self._gates_of(1 - self._before)

    def hear(self, lead_frame: np.ndarray) -> None:
        """Count a step's sounding lead notes into the current beat."""
        pcs = lead_frame.any(axis=0).astype(np.float64) @ self.fold
        self.beat_chroma += pcs
        self.heard_any = self.heard_any or bool(pcs.any())
