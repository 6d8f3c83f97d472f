"""The chord planner, the chord-conditioned teacher and student, the guard, and a preset
that follows a plan through the engine's accompanist."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from accomp.config import DEFAULT_SPEC
from accomp.errors import CheckpointError, SettingsError
from accomp.model.checkpoint import file_hash, save_teacher
from accomp.model.generate import chord_tensor
from accomp.model.harmony import Harmony, load_harmony, open_harmony
from accomp.model.planner import WAIT_FOR_LEAD, Guard, KeyTracker, Planner, PlannerConfig, PlannerStream, TrackerRecipe
from accomp.model.planner_train import load_planner, save_planner
from accomp.model.student import Student
from accomp.model.teacher import Cond, Teacher, TeacherConfig
from accomp.music.chords import CHROMA, N_CHORDS, NO_CHORD, chord_index, transpose
from tiny_models import tiny_teacher  # noqa: E402

K = 88
STYLES = ("chorale", "pop")


def random_planner(styles=STYLES, seed: int = 0, members: int = 1, layers: int = 1) -> Planner:
    torch.manual_seed(seed)
    planner = Planner.create(PlannerConfig(styles=styles, hidden=32, layers=layers, members=members))
    with torch.no_grad():
        for pair in planner.pairs:
            for net in pair:
                for p in net.parameters():
                    p.add_(torch.randn_like(p) * 0.3)
                net.eval()
    return planner


def melody(T: int, seed: int = 3) -> np.ndarray:
    """A lead roll (T, 2, K): a note every 2-6 steps from a C major scale, rests between."""
    rng = np.random.default_rng(seed)
    lead = np.zeros((T, 2, K), np.uint8)
    t = 0
    while t < T:
        n = int(rng.integers(2, 7))
        if rng.random() < 0.8:
            key = 60 + int(rng.choice([0, 2, 4, 5, 7, 9, 11])) - 21
            lead[t, 0, key] = 1
            lead[t : t + n, 1, key] = 1
        t += n
    return lead


def streamed(planner: Planner, lead: np.ndarray, style: np.ndarray, bar: int = 16) -> np.ndarray:
    stream = PlannerStream(planner, style, 4, 21, K)
    out, prev = [], np.zeros((2, K), np.uint8)
    chord = NO_CHORD
    for t in range(len(lead)):
        stream.hear(prev)
        if t % 4 == 0:
            chord = stream.decide(lead[t], t % bar)
        out.append(chord)
        prev = lead[t]
    return np.array(out)


def test_the_streamed_planner_decides_as_the_parallel_pass():
    planner = random_planner()
    lead, style = melody(96), np.array([0.0, 1.0, 0.0])
    plan = planner.plan(lead, np.arange(96) % 16, 4, style)
    assert np.array_equal(streamed(planner, lead, style), plan.chords)
    assert len(set(plan.chords.tolist())) > 1


@pytest.mark.parametrize("stay", [0.0, 3.0, 1e9])
def test_the_live_chord_holds_by_the_stay_bonus_streamed_and_parallel_alike(monkeypatch, stay):
    import accomp.model.planner as planner_module

    monkeypatch.setattr(planner_module, "STAY_BONUS", stay)
    planner = random_planner(seed=1)
    lead, style = melody(192, seed=5), np.array([0.0, 1.0, 0.0])
    plan = planner.plan(lead, np.arange(192) % 16, 4, style).chords
    assert np.array_equal(streamed(planner, lead, style), plan)
    heard = plan[plan != NO_CHORD][::4]  # one per beat
    changes = int(np.count_nonzero(heard[1:] != heard[:-1]))
    if stay == 1e9:
        assert changes == 0  # the first chord holds for good
    elif stay == 0.0:
        assert changes >= 10
    else:
        monkeypatch.setattr(planner_module, "STAY_BONUS", 0.0)
        free = planner.plan(lead, np.arange(192) % 16, 4, style).chords[plan != NO_CHORD][::4]
        assert changes < int(np.count_nonzero(free[1:] != free[:-1]))


def test_a_key_change_lets_go_of_the_held_chord(monkeypatch):
    """The stay bonus holds a chord within a key; on the beat the key tracker starts again in
    a new key the old key's chord gets none (streamed and parallel alike)."""
    import accomp.model.planner as planner_module

    monkeypatch.setattr(planner_module, "STAY_BONUS", 1e9)
    both = np.zeros((192, 2, K), np.uint8)  # quarter notes up and down a C major scale, then F# major
    for beat, degree in enumerate([0, 2, 4, 5, 7, 5, 4, 2] * 6):
        key = 60 + degree + (6 if beat >= 24 else 0) - 21
        both[beat * 4, 0, key] = 1
        both[beat * 4 : beat * 4 + 3, 1, key] = 1
    bl = planner_module.beat_lead(both, np.arange(192) % 16, 4)
    restarts = bl.key_track[1]
    assert restarts[:24].sum() == 0 and restarts[24:].any()  # the tracker saw the change
    planner, style = random_planner(seed=1), np.array([0.0, 1.0, 0.0])
    plan = planner.plan(both, np.arange(192) % 16, 4, style).chords
    assert np.array_equal(streamed(planner, both, style), plan)
    per_beat = plan[::4]
    first = int(np.flatnonzero(restarts)[0])
    heard = per_beat[: first][per_beat[: first] != NO_CHORD]
    assert len(set(heard.tolist())) == 1  # held until the key changed
    assert per_beat[first] != heard[-1] or len(set(per_beat[first:].tolist())) > 1


@pytest.mark.parametrize("minor", [False, True])
def test_the_beat_the_lead_enters_on_leans_to_the_keys_tonic_chord(monkeypatch, minor):
    """The first chord is decided from a note or two: the key's tonic chord gets a bonus there
    (only there), streamed and parallel alike."""
    import accomp.model.planner as planner_module

    lead = np.zeros((64, 2, K), np.uint8)  # rests for a bar, then A C E / A C# E (A minor / major) in quarters
    for beat, pc in enumerate([9, 0 if minor else 1, 4, 9, 4, 0 if minor else 1, 9, 9, 4, 9, 4, 9]):
        key = 60 + pc - 21
        lead[16 + beat * 4, 0, key] = 1
        lead[16 + beat * 4 : 16 + beat * 4 + 3, 1, key] = 1
    planner, style = random_planner(seed=2), np.array([0.0, 1.0, 0.0])
    beats = np.arange(64) % 16
    monkeypatch.setattr(planner_module, "ENTRY_TONIC_BONUS", 0.0)
    free = planner.plan(lead, beats, 4, style).chords[::4]
    monkeypatch.setattr(planner_module, "ENTRY_TONIC_BONUS", 1e9)
    plan = planner.plan(lead, beats, 4, style)
    assert np.array_equal(streamed(planner, lead, style), plan.chords)
    per_beat = plan.chords[::4]
    tonic = int(plan.tonic[16])
    assert per_beat[4] == chord_index(tonic, "min" if bool(plan.minor[16]) else "maj")  # the entry beat
    assert (per_beat[:4] == NO_CHORD).all() and (free[:4] == NO_CHORD).all()
    monkeypatch.setattr(planner_module, "STAY_BONUS", 0.0)  # without the hold, the beats after the entry are as before
    monkeypatch.setattr(planner_module, "ENTRY_TONIC_BONUS", 0.0)
    free = planner.plan(lead, beats, 4, style).chords[::4]
    monkeypatch.setattr(planner_module, "ENTRY_TONIC_BONUS", 1e9)
    assert np.array_equal(planner.plan(lead, beats, 4, style).chords[::4][5:], free[5:])


def test_no_chord_only_before_the_first_note():
    planner = random_planner()
    lead = np.zeros((32, 2, K), np.uint8)
    lead[9, :, 40] = 1
    plan = planner.plan(lead, np.arange(32) % 16, 4, np.array([0.0, 1.0, 0.0]))
    assert (plan.chords[:8] == NO_CHORD).all() and (plan.chords[12:] != NO_CHORD).all()
    whole = planner.plan(lead, np.arange(32) % 16, 4, np.array([0.0, 1.0, 0.0]), whole=True)
    assert (whole.chords[8:] != NO_CHORD).all()


def each_beats_best_song_chord(planners: list[Planner], lead: np.ndarray, beat: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Per beat, the best absolute chord of a finished melody's scores, worked out the long
    way: each kind of network's log-probabilities averaged over the planners, weighted, each
    rotated out of its key frame, plus the melody bonus (no cost of a change)."""
    from accomp.model.planner import MELODY_BONUS, SONG_CAUSAL_WEIGHT, beat_lead, features

    bl = beat_lead(lead, beat, 4)
    scores = np.zeros((len(bl.chroma), N_CHORDS))
    for kind, causal, w in (("whole", False, 1 - SONG_CAUSAL_WEIGHT), ("causal", True, SONG_CAUSAL_WEIGHT)):
        feats, tonic = features(bl, style, causal=causal)
        logp = np.mean([torch.log_softmax(getattr(p, kind)(torch.from_numpy(feats)[None])[0][0], -1).detach().numpy()
                        for p in planners], axis=0)  # fmt: skip
        for b in range(len(logp)):  # key-relative chord c in beat b is absolute chord transpose(c, tonic[b])
            for c in range(N_CHORDS):
                scores[b, transpose(np.array([c]), int(tonic[b]))[0]] += w * logp[b, c]
    share = bl.chroma / np.maximum(bl.chroma.sum(axis=1, keepdims=True), 1)
    scores += MELODY_BONUS * share @ CHROMA.T
    scores[:, NO_CHORD] = -np.inf
    return np.argmax(scores, axis=1)


def test_a_finished_melodys_plan_is_both_planners_together_in_absolute_chords(monkeypatch):
    import accomp.model.planner as planner_module

    monkeypatch.setattr(planner_module, "SONG_CHANGE_COST", {})  # each beat's best chord alone
    monkeypatch.setattr(planner_module, "SONG_LEAD_IN_BEATS", {})  # the band enters with the melody
    planner = random_planner(seed=4)
    style, beat = np.array([0.0, 1.0, 0.0]), np.arange(96) % 16
    lead = melody(96)
    lead[:10] = 0  # the melody starts in the third beat
    song = planner.song_plan(lead, beat, 4, style)
    want = each_beats_best_song_chord([planner], lead, beat, style)
    assert (song.chords[::4][:2] == NO_CHORD).all() and np.array_equal(song.chords[::4][3:], want[3:])
    assert len(song.chords) == 96 and (song.chords[::4] == song.chords[3::4]).all()  # one chord per beat
    empty = planner.song_plan(np.zeros((0, 2, K), np.uint8), np.zeros(0, np.int16), 4, style)
    assert len(empty.chords) == 0


def test_a_finished_pop_melodys_band_comes_in_two_beats_before_it_a_chorales_with_it(monkeypatch):
    """The pop lead-in: the two beats before the melody's first note get chords (where the
    song has them), the best path's through those beats; "no chord" before them, as before.
    The chorale style (and the planner's accuracy, song_beats without a lead-in) has none."""
    import accomp.model.planner as planner_module
    from accomp.model.planner import beat_lead

    monkeypatch.setattr(planner_module, "SONG_CHANGE_COST", {})  # each beat's best chord alone
    planner = random_planner(seed=4)
    pop, chorale = np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])
    beat = np.arange(96) % 16
    for first_beat, lead_in in ((5, 2), (1, 1), (0, 0)):
        lead = melody(96)
        lead[: 4 * first_beat] = 0
        lead[4 * first_beat, :, 60 - 21] = 1  # the melody's first note on that beat
        per_beat = planner.song_plan(lead, beat, 4, pop).chords[::4]
        want = each_beats_best_song_chord([planner], lead, beat, pop)  # the networks' chords, the lead-in's too
        assert (per_beat[: first_beat - lead_in] == NO_CHORD).all()
        assert np.array_equal(per_beat[first_beat - lead_in :], want[first_beat - lead_in :])
        assert (planner.song_plan(lead, beat, 4, chorale).chords[::4][:first_beat] == NO_CHORD).all()
        entered = int((planner.song_beats(beat_lead(lead, beat, 4), pop)[0] != NO_CHORD).argmax())
        assert entered == first_beat  # what the planner is measured on: from the melody's first note


def test_a_revision_reruns_the_beat_from_the_same_state():
    planner = random_planner()
    style = np.array([0.0, 1.0, 0.0])
    lead = melody(64)
    a, b = PlannerStream(planner, style, 4, 21, K), PlannerStream(planner, style, 4, 21, K)
    for t in range(0, 60, 4):  # same history in both
        for s in (a, b):
            s.decide(lead[t], t % 16)
            for u in range(t, t + 4):
                s.hear(lead[u])
    late = np.zeros((2, K), np.uint8)
    late[:, 66 - 21] = 1  # F#: the late first note of the beat
    first = a.decide(np.zeros((2, K), np.uint8), 0)
    revised = a.decide(late, 0, revise=True)
    assert revised == b.decide(late, 0)
    assert a.revised == (revised != first)


def test_a_stream_prepared_between_steps_decides_to_the_bit_as_one_that_is_not():
    """PlannerStream.prepare (the engine calls it between steps) takes the GRUs' hidden side
    off the beat: the same states and the same decisions with or without it, a beat revised
    after it included, and the states the planners' own GRUs reach over the same lead."""
    from accomp.model.planner import beat_lead, features

    planner = random_planner(members=2, layers=2)
    style = np.array([0.0, 1.0, 0.0])
    lead = melody(96, seed=7)
    late = np.zeros((2, K), np.uint8)
    late[:, 66 - 21] = 1
    for t in range(4, 96, 8):
        lead[t] = late  # every other beat's note comes late: the beat is decided on silence, then revised
    prepared, plain = PlannerStream(planner, style, 4, 21, K), PlannerStream(planner, style, 4, 21, K)
    prepared.prepare()  # before the first beat too
    for t in range(0, 96, 4):
        for s in (prepared, plain):
            s.decide(np.zeros((2, K), np.uint8), t % 16)
        prepared.prepare()  # what it prepared is stale after the revision
        assert prepared.decide(lead[t], t % 16, revise=True) == plain.decide(lead[t], t % 16, revise=True)
        prepared.prepare()
        for u in range(t, t + 4):
            for s in (prepared, plain):
                s.hear(lead[u])
        assert torch.equal(prepared._h, plain._h)
    assert prepared._ready[1 - prepared._before]  # the next beat's hidden side is done
    x = torch.from_numpy(features(beat_lead(lead, np.arange(96) % 16, 4), style, causal=True)[0])[None]
    with torch.inference_mode():
        for m, pair in enumerate(planner.pairs):
            assert torch.allclose(prepared._h[1 - prepared._before, m, :, 0], pair[0](x)[1][:, 0], atol=1e-5)


def test_a_beat_decided_ahead_is_the_beat_decided_as_it_comes():
    """PlannerStream.anticipate (the engine calls it between steps before each beat) decides the
    next beat for each first frame it may bring, and the beat then looks its own up: the same
    chords, keys and networks' states (to float rounding) as a stream that decides every beat
    as it comes, through a key change and late notes revised. What does not start as foreseen
    is decided as it comes: a beat on two pitch classes, a beat foreseen from another last
    step or at another place in the bar, a beat whose predecessor was revised after it."""
    planner = random_planner(members=2, layers=2)
    style = np.array([0.0, 1.0, 0.0])
    T = 192
    lead = melody(T, seed=5)
    lead[96:] = 0  # then F# major, a note a beat: its key heard on the beat that starts late
    for b in range(24):
        key = 54 + [0, 4, 7, 9, 2, 5, 11][b % 7] - 21
        lead[96 + 4 * b, 0, key] = 1
        lead[96 + 4 * b : 99 + 4 * b, 1, key] = 1
    for t in range(40, T, 48):
        lead[t, :, 64 - 21] = lead[t, :, 67 - 21] = 1  # two pitch classes on the beat
    ahead, plain = PlannerStream(planner, style, 4, 21, K), PlannerStream(planner, style, 4, 21, K)
    looked_up, recall = [], ahead._recall
    ahead._recall = lambda row, position: looked_up.append(recall(row, position)) or looked_up[-1]
    silence, prev = np.zeros((2, K), np.uint8), np.zeros((2, K), np.uint8)
    chords, restarts = set(), 0
    for t in range(T):
        for s in (ahead, plain):
            s.hear(prev)
        if t % 4 == 0:
            late = t % 12 == 4
            for s in (ahead, plain):
                s.decide(silence if late else lead[t], t % 16)
            if late:
                for s in (ahead, plain):
                    s.decide(lead[t], t % 16, revise=True)
            assert ahead.chord == plain.chord and (ahead.tonic, ahead.minor) == (plain.tonic, plain.minor)
            assert ahead.revised == plain.revised and ahead.keys.restart == plain.keys.restart
            chords.add(ahead.chord)
            restarts += plain.keys.restart
        if t % 4 == 3:
            beat = t // 4 + 1  # the beat foreseen
            pending = np.ones_like(prev) if beat == 9 else lead[t]  # beat 9: from another last step
            ahead.anticipate(pending, (t + 1 + 4 * (beat == 13)) % 16)  # beat 13: at another place in the bar
            if beat == 17:  # the beat before decided again after this one was foreseen
                for s in (ahead, plain):
                    s.decide(lead[t - 3], (t - 3) % 16, revise=True)
        prev = lead[t]
        torch.testing.assert_close(ahead._h, plain._h, rtol=1e-5, atol=1e-5)
    assert restarts == 1 and len(chords) > 3
    assert len(looked_up) == T // 4 + T // 12 + 1  # every decision: revisions, and beat 16's again
    # As they came: the first beat (not foreseen), beats 10, 22, 34 and 46 revised onto two
    # pitch classes, beat 9, beat 13's two decisions, beat 16 again and beat 17 after it.
    assert len(looked_up) - sum(looked_up) == 1 + 4 + 1 + 2 + 2


def _track_keys(beats: list[list[int]], **recipe) -> list[tuple[int, bool]]:
    """The tracker's (tonic, restarted) at each beat of a lead given as pitch classes per beat
    (two steps each; the first is the beat's first step); ``recipe``: a TrackerRecipe's fields."""
    tracker, out = KeyTracker(recipe=TrackerRecipe(**recipe)), []
    for pcs in beats:
        chroma, first = np.zeros(12), np.zeros(12)
        for p in pcs:
            chroma[p % 12] += 2
        first[pcs[0] % 12] = 1
        tracker.view(first)
        out.append((tracker.tonic, tracker.restart))
        tracker.advance(chroma)
    return out


# 1 3 5 7 8 5 | 6 4 3 2 7 1 in C, one list per beat
C_PHRASE = [[0], [4, 7], [11, 0], [7], [9, 5], [4, 2], [11], [0]]


@pytest.mark.parametrize("shift", [6, 4, 8, 2, 1])
def test_the_key_tracker_follows_a_melody_into_a_far_key_within_a_few_beats(shift):
    moved = [[p + shift for p in beat] for beat in C_PHRASE]
    keys = _track_keys(C_PHRASE * 2 + moved * 2)
    assert all(tonic == 0 for tonic, _ in keys[4:16])
    assert all(tonic == shift for tonic, _ in keys[16 + 4 :]), keys[16:]


def test_a_key_change_is_heard_on_the_new_keys_second_beat_when_its_first_two_notes_leave_the_old_key():
    moved = [[p + 6 for p in beat] for beat in C_PHRASE]  # F# major after C: F#, then A#
    keys = _track_keys(C_PHRASE * 2 + moved)
    assert keys[16] == (0, False) and keys[17] == (6, True), keys[16:18]


def test_a_chain_of_far_keys_restarts_the_tracker_at_every_change():
    # C F# Bb E Ab D Db G Eb A F B, one phrase each (benchmarks/key_change.py's take). A change
    # is judged against the key the band was in on the beat before: read with the new key's
    # first notes in it, a histogram of F# major and Bb major is Bb minor, in whose scale the
    # Bb phrase's notes but one lie, and the chain was followed a beat or more late after it.
    chain = [0, 6, 10, 4, 8, 2, 1, 7, 3, 9, 5, 11]
    beats = [list(b) for b in C_PHRASE * 2]
    for shift in chain[1:]:
        beats += [[p + shift for p in beat] for beat in C_PHRASE]
    keys = _track_keys(beats)
    for i, shift in enumerate(chain[1:]):
        start = 16 + 8 * i
        assert any(restart for _, restart in keys[start + 1 : start + 3]), (shift, keys[start : start + 4])
        assert keys[start + 3][0] == shift, (shift, keys[start : start + 4])
    # Judged only against the key read with the new notes (the frames the bundled planners
    # learnt from), the Bb phrase starts nothing.
    keys = _track_keys(beats, from_held=False)
    assert not any(restart for _, restart in keys[24:28])


def test_a_chromatic_passing_note_does_not_restart_the_key():
    passing = [[0], [4, 7], [11, 0], [7], [9, 8], [7, 6], [5, 4], [2], [0]]
    keys = _track_keys(C_PHRASE * 2 + passing * 2)
    assert not any(restart for _, restart in keys) and all(tonic == 0 for tonic, _ in keys[4:])


def test_planner_files_round_trip_and_a_foreign_one_is_refused(tmp_path):
    planner = random_planner()
    path = tmp_path / "planner.safetensors"
    save_planner(planner, path, metrics={"val": {}})
    loaded, header = load_planner(path, STYLES)
    lead, style = melody(48), np.array([0.3, 0.7, 0.0])
    assert np.array_equal(loaded.plan(lead, np.arange(48) % 16, 4, style).chords, planner.plan(lead, np.arange(48) % 16, 4, style).chords)
    with pytest.raises(CheckpointError, match="do not match its teacher"):
        load_planner(path, ("pop", "rock"))
    teacher = tmp_path / "teacher.safetensors"
    save_teacher(Teacher(TeacherConfig(d_model=32, n_layers=1, n_heads=2, window=16)), DEFAULT_SPEC, teacher)
    with pytest.raises(CheckpointError) as err:
        load_planner(teacher)
    assert "\n" not in str(err.value)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        load_planner(path)


def test_merged_planners_decide_live_and_plan_a_finished_melody_together(tmp_path, monkeypatch, capsys):
    import accomp.model.planner as planner_module
    from accomp.cli import main
    from accomp.model.planner import beat_lead, decide, features

    first, second = random_planner(seed=1), random_planner(styles=("pop", "chorale"), seed=2)  # styles in another order
    a, b, out = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "merged.safetensors"
    save_planner(first, a)
    save_planner(second, b)
    songs = write_songs(tmp_path / "songs")
    corpus = ["--corpus", "midi-folder", "--path", str(songs), "--style", "pop"]
    assert main(["planner", "merge", str(a), str(b), "--out", str(out), *corpus]) == 0
    assert "2 pairs" in capsys.readouterr().out
    merged, header = load_planner(out, STYLES)
    assert merged.cfg.members == 2 and [m["hash"] for m in header["training"]["merged"]] == [file_hash(a), file_hash(b)]
    assert 0.0 <= header["metrics"]["val"]["song"] <= 1.0 and header["metrics"]["val_by_style"]["pop"]["beats"] > 0
    lead, beat, style = melody(96), np.arange(96) % 16, np.array([0.0, 1.0, 0.0])
    swapped, _ = load_planner(b, STYLES)  # the second as the merged file holds it: its style inputs in the first's order
    bl = beat_lead(lead, beat, 4)
    feats, tonic = features(bl, style, causal=True)
    x = torch.from_numpy(feats)[None]
    with torch.inference_mode():  # live: both causal planners, their mean log-probability
        mean = sum(torch.log_softmax(p.causal(x)[0][0], dim=-1) for p in (first, swapped)).numpy() / 2
    live = merged.plan(lead, beat, 4, style).chords
    assert np.array_equal(live, decide(mean, tonic, bl, causal=True)[bl.beats])
    assert np.array_equal(streamed(merged, lead, style), live)  # beat by beat as in one pass
    assert not np.array_equal(live, first.plan(lead, beat, 4, style).chords)  # the second one counts
    monkeypatch.setattr(planner_module, "SONG_CHANGE_COST", {})  # each beat's best chord alone
    lead[:10] = 0
    want = each_beats_best_song_chord([first, swapped], lead, beat, style)
    assert np.array_equal(merged.song_plan(lead, beat, 4, style).chords[::4][3:], want[3:])
    assert not np.array_equal(want, each_beats_best_song_chord([first], lead, beat, style))  # the second one counts
    wider = tmp_path / "wider.safetensors"
    save_planner(Planner.create(PlannerConfig(styles=STYLES, hidden=48, layers=1)), wider)
    assert main(["planner", "merge", str(a), str(wider), "--out", str(tmp_path / "x.safetensors"), *corpus]) != 0
    error = capsys.readouterr().err.strip()
    assert "another shape (width 48" in error and "\n" not in error and not (tmp_path / "x.safetensors").exists()
    assert main(["planner", "merge", str(a), "--out", str(tmp_path / "x.safetensors"), *corpus]) != 0
    assert "at least two" in capsys.readouterr().err
    rock = tmp_path / "rock.safetensors"
    save_planner(random_planner(styles=("pop", "rock")), rock)
    assert main(["planner", "merge", str(a), str(rock), "--out", str(tmp_path / "x.safetensors"), *corpus]) != 0
    assert "only planners of the same styles merge" in capsys.readouterr().err and not (tmp_path / "x.safetensors").exists()


def test_a_planner_file_of_the_first_format_still_loads(tmp_path):
    from accomp.model.checkpoint import atomic_save_tensors
    from accomp.model.planner_train import PLANNER_FORMAT

    planner = random_planner(seed=5)
    path = tmp_path / "old.safetensors"
    config = {k: v for k, v in planner.cfg.to_dict().items() if k != "members"}  # as version 1 wrote it
    atomic_save_tensors(planner.state_dict(), {"format": PLANNER_FORMAT, "format_version": 1, "model_config": config}, path)
    loaded, _ = load_planner(path, STYLES)
    lead, beat, style = melody(64), np.arange(64) % 16, np.array([0.0, 1.0, 0.0])
    assert loaded.cfg.members == 1 and np.array_equal(loaded.song_plan(lead, beat, 4, style).chords, planner.song_plan(lead, beat, 4, style).chords)


def test_styles_in_another_order_plan_the_same(tmp_path):
    planner = random_planner(styles=("pop", "chorale"))
    path = tmp_path / "planner.safetensors"
    save_planner(planner, path)
    swapped, _ = load_planner(path, ("chorale", "pop"))
    lead = melody(64)
    beat = np.arange(64) % 16
    a = planner.plan(lead, beat, 4, np.array([0.8, 0.2, 0.0])).chords
    b = swapped.plan(lead, beat, 4, np.array([0.2, 0.8, 0.0])).chords
    assert np.array_equal(a, b)


def test_the_guard_holds_back_notes_off_the_chord_and_more_so_off_the_key():
    guard = Guard(0.4)
    c_major = chord_index(0, "maj")
    offsets = guard.offsets(c_major, 0, False)  # C major chord in C major
    pcs = (21 + np.arange(K)) % 12
    assert np.allclose(offsets[np.isin(pcs, [0, 4, 7])], 0.0)
    assert np.allclose(offsets[np.isin(pcs, [2, 5, 9, 11])], 0.4)
    assert np.allclose(offsets[np.isin(pcs, [1, 3, 6, 8, 10])], 0.8)
    # "no chord" is planned only before the lead's first note: the band waits, whatever the key
    assert (guard.offsets(NO_CHORD, 0, False) >= WAIT_FOR_LEAD).all() and (guard.offsets(NO_CHORD, 9, True) >= WAIT_FOR_LEAD).all()


def test_the_band_waits_for_the_leads_first_note():
    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    student.onset_threshold = student.sustain_threshold = -1.0  # without the guard every key would sound
    planner = random_planner()
    T, start = 24, 9
    lead = np.zeros((T, 2, K), np.uint8)
    lead[start:, :, 60 - 21] = 1
    plan = planner.plan(lead, np.arange(T) % 16, 4, np.array([0.0, 1.0, 0.0]))
    offsets = torch.from_numpy(Guard(0.3).plan_offsets(plan))
    chord = chord_tensor(plan.chords)
    state = student.init_state(np.array([0.0, 1.0, 0.0]))
    g = torch.Generator().manual_seed(0)
    frames = []
    for t in range(T):
        state, frame = student.step(state, torch.from_numpy(lead[t]).float(), torch.randn(2, K, generator=g), chord[t], offsets[t])
        frames.append(frame.numpy())
    frames = np.stack(frames)
    assert not frames[:8].any()  # the beats before the lead's first note (it comes in beat 3, off its first step)
    assert frames[12:].any()


def test_zero_initialised_chord_layers_leave_a_teacher_unchanged():
    plain = tiny_teacher()
    grown = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16, chords=True)).eval()
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("chord_") for k in missing)
    B, T = 2, 16
    x = torch.randn(B, T, 2, 2, K)
    chord = chord_tensor(np.full((B, T), chord_index(7, "7")))
    cond = Cond(torch.zeros(B, T, 2, 2, K), torch.zeros(B, T, 2, dtype=torch.bool), torch.ones(B, T, dtype=torch.bool),
                torch.zeros(B, T, dtype=torch.long), torch.tensor([[0.0, 1.0, 0.0]] * B), chord)  # fmt: skip
    with torch.no_grad():
        torch.testing.assert_close(grown.denoise(x, torch.tensor(1.0), cond), plain.denoise(x, torch.tensor(1.0), cond))
        with_chord = grown.denoise(x, torch.tensor(1.0), cond)
        for layer in grown.chord_layers:
            layer.weight.normal_(0, 0.5)
        assert not torch.allclose(grown.denoise(x, torch.tensor(1.0), cond), with_chord)


def test_a_chord_conditioned_student_streams_as_its_parallel_pass():
    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    T = 20
    lead = torch.from_numpy(melody(T)).float()
    chords = np.repeat([chord_index(0, "maj"), chord_index(5, "maj"), chord_index(7, "7"), chord_index(9, "min"), chord_index(0, "maj")], 4)
    chord = chord_tensor(chords)
    noise = torch.randn(T, 2, K, generator=torch.Generator().manual_seed(2))
    state = student.init_state(np.array([0.0, 1.0, 0.0]))
    frames, x0s = [], []
    for t in range(T):
        state, frame = student.step(state, lead[t], noise[t], chord[t])
        frames.append(frame.clone())
        x0s.append(state.x0[0].clone())
    frames = torch.stack(frames)
    with torch.no_grad():
        par = student.consistency((noise * student.sigma_max)[None], torch.tensor(student.sigma_max), lead[None] * 2 - 1,
                                  frames[None].float() * 2 - 1, (torch.arange(T) % 16)[None], torch.tensor([[0.0, 1.0, 0.0]]),
                                  chord[None])[0]  # fmt: skip
    torch.testing.assert_close(torch.stack(x0s), par, atol=1e-4, rtol=1e-4)
    # and the chord matters: another plan gives other cells
    state = student.init_state(np.array([0.0, 1.0, 0.0]))
    other = chord_tensor(np.full(T, chord_index(6, "dim")))
    x0_other = []
    for t in range(T):
        state, _ = student.step(state, lead[t], noise[t], other[t])
        x0_other.append(state.x0[0].clone())
    assert not torch.allclose(torch.stack(x0_other), torch.stack(x0s))


def test_the_guard_keeps_notes_off_the_chord_out_of_the_frame():
    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    student.onset_threshold = student.sustain_threshold = -0.5  # a dense part
    lead = torch.from_numpy(melody(16)).float()
    chord = chord_tensor(np.full(16, chord_index(0, "maj")))
    guard = torch.from_numpy(Guard(5.0).offsets(chord_index(0, "maj"), 0, False))  # far beyond any cell value
    state = student.init_state(np.array([0.0, 1.0, 0.0]))
    g = torch.Generator().manual_seed(0)
    sounding = np.zeros(K, bool)
    for t in range(16):
        state, frame = student.step(state, lead[t], torch.randn(2, K, generator=g), chord[t], guard)
        sounding |= frame[1].numpy().astype(bool)
    pcs = set(((21 + np.flatnonzero(sounding)) % 12).tolist())
    assert pcs and pcs <= {0, 4, 7}


def test_a_preset_without_its_planner_is_refused_and_one_with_it_follows_the_plan(tmp_path):
    from accomp.engine.accompanist import Accompanist
    from accomp.model.preset import load_preset, save_preset

    teacher = tiny_teacher(chords=True)
    teacher_path = tmp_path / "teacher.safetensors"
    save_teacher(teacher, DEFAULT_SPEC, teacher_path)
    planner_path = tmp_path / "planner.safetensors"
    save_planner(random_planner(), planner_path)
    harmony = open_harmony(planner_path, teacher.cfg.styles, 0.3, chords=True)
    student = Student.from_teacher(teacher, lora_rank=4, kv_window=8)
    preset = tmp_path / "mine.safetensors"
    save_preset(student, teacher_path, preset, style={"name": "mine", "weights": [0.0, 1.0, 0.0]}, harmony=harmony.record())
    _, header = load_preset(preset)
    assert header["harmony"]["planner"]["file"] == "planner.safetensors" and header["harmony"]["guard"] == 0.3
    acc = Accompanist.from_preset(preset)
    assert acc.harmony.planner is not None and acc.harmony.guard.strength == 0.3
    lead = melody(32)
    chords = []
    for t in range(32):
        acc.step(t, lead[t], t % 16)
        chords.append(acc.chord)
    assert NO_CHORD not in chords[4:] and len(set(chords)) > 1
    assert Accompanist.from_preset(preset, guard=0.0).harmony.guard is None
    planner_path.unlink()
    with pytest.raises(CheckpointError, match=r"chord planner 'planner.safetensors' \(hash [0-9a-f]+\) is not in"):
        load_harmony(header, preset, teacher.cfg.styles, chords=True)


def write_songs(folder):
    """A MIDI folder of 8 songs: a lead in quarter notes over a three-note chord on every beat."""
    import mido

    folder.mkdir()
    for i in range(8):
        midi = mido.MidiFile(ticks_per_beat=480)
        for name, notes in (("lead", [[67 + (k * (i + 2)) % 7] for k in range(32)]), ("piano", [[48, 52, 55]] * 32)):
            track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
            for chord in notes:
                track.extend(mido.Message("note_on", note=n, velocity=80, time=0) for n in chord)
                track.extend(mido.Message("note_off", note=n, velocity=0, time=480 if j == 0 else 0) for j, n in enumerate(chord))
            midi.tracks.append(track)
        midi.save(folder / f"song{i}.mid")
    return folder


def test_preset_calibrate_fits_the_human_density_of_a_corpus_and_sets_the_guard(tmp_path, capsys):
    from accomp.cli import main
    from accomp.model.preset import load_preset, save_preset

    teacher = tiny_teacher(chords=True)
    teacher_path = tmp_path / "teacher.safetensors"
    save_teacher(teacher, DEFAULT_SPEC, teacher_path)
    planner_path = tmp_path / "planner.safetensors"
    save_planner(random_planner(), planner_path)
    student = Student.from_teacher(teacher, lora_rank=4, kv_window=8)
    preset = tmp_path / "mine.safetensors"
    save_preset(student, teacher_path, preset, style={"name": "mine", "weights": [0.0, 1.0, 0.0]},
                harmony=open_harmony(planner_path, teacher.cfg.styles, 0.3, chords=True).record())
    songs = write_songs(tmp_path / "songs")
    assert main(["preset", "calibrate", str(preset), "--corpus", "midi-folder", "--path", str(songs), "--style", "pop",
                 "--pieces", "8", "--guard", "0.5", "--device", "cpu"]) == 0
    _, header = load_preset(preset)
    found = header["thresholds"]
    assert "human leads x 4 bars from the songs training split" in found["leads"]
    assert found["reference"] == {"onsets_per_step": 0.75, "polyphony": 3.0}  # 3 onsets a beat, 3 notes sounding
    assert abs(found["student"]["onsets_per_step"] - 0.75) < 0.2
    assert found["density"]["target"] == 0.75 and found["density"]["leads"].endswith("x 8 bars")  # no song holds 16 bars
    assert load_preset(preset)[0].density_target == 0.75  # the student plays with it
    assert header["harmony"]["guard"] == 0.5 and header["harmony"]["planner"]["file"] == "planner.safetensors"
    figures = header["metrics"]  # what the preset's card shows: the student against human playing
    assert figures["reference"] == "human accompaniment" and "songs x 4 bars" in figures["leads"]
    assert set(figures["table"]) >= {"human reference", "rule-based harmonizer", "student"}
    assert 0.0 <= figures["table"]["student"]["key_adherence"] <= 1.0
    out = capsys.readouterr().out
    assert "thresholds:" in out and "student" in out
    retrained = tmp_path / "retrained.safetensors"  # a planner trained again: the preset takes it, the guard stays
    save_planner(random_planner(seed=1), retrained)
    assert main(["preset", "calibrate", str(preset), "--corpus", "midi-folder", "--path", str(songs), "--style", "pop",
                 "--pieces", "8", "--planner", str(retrained), "--device", "cpu"]) == 0
    _, header = load_preset(preset)
    assert header["harmony"]["planner"] == {"file": "retrained.safetensors", "hash": file_hash(retrained)}
    assert header["harmony"]["guard"] == 0.5


def test_a_chart_replaces_the_planner_and_plays_round_and_round():
    from accomp.engine.accompanist import Accompanist
    from accomp.music.charts import parse_chart

    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    student.onset_threshold = student.sustain_threshold = -1.0  # every key the guard lets through sounds
    acc = Accompanist(student, np.array([0.0, 1.0, 0.0]), harmony=Harmony(random_planner(), Guard(5.0)))
    chart = parse_chart("| F | Bb C7 |").per_beat()  # 8 beats, played twice
    acc.play_chart(chart)
    lead = melody(64)
    pcs = (21 + np.arange(K)) % 12
    for t in range(64):
        frame = acc.step(t, lead[t], t % 16)
        want = chart[(t // 4) % len(chart)]
        assert acc.chord == want
        assert np.isin(pcs[frame.any(axis=0)], np.flatnonzero(CHROMA[want])).all()  # the guard keeps it on the chart
    assert acc.fixed_plan.tonic[0] == 5 and not acc.fixed_plan.minor[0]  # the chart is in F
    acc.play_chart(None)
    assert acc.fixed_plan is None
    with pytest.raises(SettingsError, match="a chord chart needs a preset that follows a chord plan"):
        Accompanist(student, np.array([0.0, 1.0, 0.0])).play_chart(chart)


def test_in_six_eight_the_band_decides_on_dotted_quarters_and_a_chart_counts_eighths():
    """A compound meter's harmony moves on its dotted quarters: the live planner decides on
    steps 0 and 6 of a 12-step bar of 6/8 (never on the 3rd or 5th eighth, where a quarter-note
    beat would fall), as the parallel pass does with 6-step beats; a chart in 6/8 counts its
    beats in eighths, so its bars stay on the band's."""
    from accomp.engine.accompanist import Accompanist
    from accomp.music.charts import parse_chart

    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    planner, style = random_planner(), np.array([0.0, 1.0, 0.0])
    acc = Accompanist(student, style, harmony=Harmony(planner, None))
    acc.set_meter((6, 8))
    acc.reset()
    assert (acc.bar_steps, acc.steps_per_beat, acc.chart_steps) == (12, 6, 2)
    lead = melody(96)
    acc.chord_log = []
    for t in range(96):
        acc.step(t, lead[t], t % 12)
    assert [step for step, _ in acc.chord_log] == list(range(0, 96, 6))
    plan = planner.plan(lead, np.arange(96) % 12, 6, style)
    assert [chord for _, chord in acc.chord_log] == plan.chords[::6].tolist()

    chart = parse_chart("time: 6/8\n| C . . G . . | F . . . . Bb |").per_beat()  # 12 eighths, two bars
    acc.play_chart(chart)
    acc.reset()
    for t in range(48):
        acc.step(t, lead[t], t % 12)
        assert acc.chord == chart[(t // 2) % 12]
        if t % 2 == 1:
            assert acc.chord_after(t) == chart[(t // 2 + 1) % 12]
    acc.set_meter((4, 4))  # the chart laid out again in quarter notes
    acc.reset()
    for t in range(8):
        acc.step(t, lead[t], t % 16)
        assert acc.chord == chart[t // 4]

    # A preset switched in mid-play takes the meter from the engine, the chart and key from the player it replaces.
    from accomp.engine.engine import Engine, EngineSettings
    from accomp.engine.transport import TransportSettings
    from accomp.music.keys import KeyHint

    acc.set_meter((6, 8))
    acc.tell_key(KeyHint.parse("F"))
    engine = Engine(EngineSettings(transport=TransportSettings(meter=(6, 8))), acc)
    other = Accompanist(student, style, harmony=Harmony(random_planner(seed=1), None))
    other.take_setup(acc)
    engine.set_player(other, 0)
    assert (other.steps_per_beat, other.chart_steps, other.bar_steps) == (6, 2, 12)
    assert other.plan.hint == acc.plan.hint and np.array_equal(other._chart, chart)
    assert other.chord_after(1) == chart[1]


def test_a_whole_songs_last_chord_holds_past_the_melody():
    """Past the end of a finished melody's plan (the beat a render adds for the last notes to
    end) the band keeps the plan's last chord: the live planner struck a new one there, a
    pop ending G | F | (new chord) after the melody's last note."""
    from accomp.engine.accompanist import Accompanist
    from accomp.model.planner import Plan

    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    acc = Accompanist(student, np.array([0.0, 1.0, 0.0]), harmony=Harmony(random_planner(), None))
    c, last = chord_index(0, "maj"), chord_index(6, "dim")  # a last chord no live planner would pick alike
    acc.fixed_plan = Plan(np.array([c] * 8 + [last] * 8), np.zeros(16, dtype=np.int64), np.zeros(16, dtype=bool))
    lead = melody(32)
    chords = [(acc.step(t, lead[t], t % 16), acc.chord)[1] for t in range(32)]
    assert chords[:8] == [c] * 8 and chords[8:] == [last] * 24


def test_a_teacher_without_chords_needs_no_planner():
    assert open_harmony(None, STYLES, 0.3, chords=False) == Harmony(None, None)
    assert CHROMA.shape == (N_CHORDS, 12)


def test_planner_train_refuses_an_impossible_dropout():
    from accomp.errors import SettingsError
    from accomp.model.planner_train import PlannerTrainOptions, planner_train

    with pytest.raises(SettingsError, match="--dropout"):
        planner_train(PlannerTrainOptions(out="planner.safetensors", dropout=1.5, styles="pop,chorale", hidden=64))


def test_on_weak_beats_the_chord_holds_harder_streamed_and_parallel_alike(monkeypatch):
    """With the weak-beat stay made overwhelming, the live chord changes only on the bar's
    even beats (1 and 3 of 4/4), and the streamed decision still equals the parallel one."""
    import accomp.model.planner as planner_module

    planner = random_planner(seed=3)
    lead, style, beats = melody(192, seed=7), np.array([0.0, 1.0, 0.0]), np.arange(192) % 16
    monkeypatch.setattr(planner_module, "STAY_BONUS", 0.0)
    free = planner.plan(lead, beats, 4, style).chords[::4]
    moves = lambda per_beat: [b for b in range(1, len(per_beat)) if per_beat[b] != per_beat[b - 1] and per_beat[b - 1] != NO_CHORD]  # noqa: E731
    assert any(b % 2 == 1 for b in moves(free))  # free, it moves on weak beats too
    monkeypatch.setattr(planner_module, "STAY_BONUS", 1e-3)
    monkeypatch.setattr(planner_module, "WEAK_BEAT_STAY", 1e12)
    plan = planner.plan(lead, beats, 4, style).chords
    assert np.array_equal(streamed(planner, lead, style), plan)
    held = moves(plan[::4])
    assert held and all(b % 2 == 0 for b in held)


def test_once_a_bar_of_melody_is_heard_the_live_chord_leans_to_the_keys_primary_triads(monkeypatch):
    """After the tracker has heard PRIMARY_FROM steps of melody, the key's I, IV and V (i, iv and
    V in minor) get PRIMARY_BONUS: made overwhelming, every later chord is one of them in the key
    the tracker reads, while the beats before are decided as without it; streamed and parallel alike."""
    import accomp.model.planner as planner_module

    planner = random_planner(seed=1)
    lead, style, beats = melody(192, seed=5), np.array([0.0, 1.0, 0.0]), np.arange(192) % 16
    monkeypatch.setattr(planner_module, "PRIMARY_BONUS", 0.0)
    free = planner.plan(lead, beats, 4, style).chords[::4]
    monkeypatch.setattr(planner_module, "PRIMARY_BONUS", 1e9)
    plan = planner.plan(lead, beats, 4, style)
    assert np.array_equal(streamed(planner, lead, style), plan.chords)
    per_beat, tonic, minor = plan.chords[::4], plan.tonic[::4], plan.minor[::4]
    heard = planner_module.beat_lead(lead, beats, 4).key_track[0].sum(axis=1) >= planner_module.PRIMARY_FROM

    def primary(b: int) -> bool:
        triads = ((0, "min"), (5, "min"), (7, "maj")) if minor[b] else ((0, "maj"), (5, "maj"), (7, "maj"))
        return int(per_beat[b]) in {chord_index(int(tonic[b]) + r, q) for r, q in triads}

    assert heard.sum() > 30 and (~heard).sum() >= 2 and (per_beat[~heard] != NO_CHORD).any()
    assert all(primary(b) for b in np.flatnonzero(heard))
    assert np.array_equal(per_beat[~heard], free[~heard])  # before a bar was heard: as without it
    assert not all(int(free[b]) == int(per_beat[b]) for b in np.flatnonzero(heard))  # it changed some


def test_on_a_strong_beat_after_the_dominant_the_live_chord_leans_to_the_tonic():
    """CADENCE_BONUS goes to the key's tonic chord on a strong beat after V or V7 whose first
    note is the tonic or the key's third: there the planner's vi (which holds the tonic note
    too) gives way to I; after V under the fifth (a half cadence held, or iii) and on a weak
    beat it does not."""
    import accomp.model.planner as planner_module

    # A C major melody, a note a beat (4/4, steps of a 16th): a bar and a half to set the key,
    # then V on beats 10-11, 14-15, 18-19 and 22 (weak beat 23 after it).
    notes = [60, 64, 67, 72, 65, 69, 67, 60, 60, 64, 62, 71, 60, 60, 62, 67, 67, 64, 62, 59, 60, 60, 62, 60]
    lead = np.zeros((4 * len(notes), 2, K), np.uint8)
    for b, pitch in enumerate(notes):
        lead[4 * b, 0, pitch - 21] = 1
        lead[4 * b : 4 * b + 4, 1, pitch - 21] = 1
    bl = planner_module.beat_lead(lead, np.arange(len(lead)) % 16, 4)
    tonic, minor = planner_module.keys_of(bl.key_track[0])
    assert not tonic.any() and not minor.any() and not bl.key_track[1].any()  # C major all along
    I, V, vi, iii = (chord_index(r, q) for r, q in ((0, "maj"), (7, "maj"), (9, "min"), (4, "min")))
    logits = np.full((len(notes), N_CHORDS), -5.0)
    logits[:, I] = 1.0
    for b in (10, 11, 14, 15, 18, 19, 22):
        logits[b, V] = 4.0
    for b, colour in ((12, vi), (16, iii), (20, vi), (23, vi)):  # the colour chord by a little
        logits[b, colour], logits[b, I] = 3.0, 2.0
    decided = {}
    for bonus in (0.0, 1.0):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(planner_module, "CADENCE_BONUS", bonus)
            decided[bonus] = planner_module.decide(logits, tonic, bl, causal=True)
    before, after = decided[0.0], decided[1.0]
    # strong beat, tonic note | strong, the fifth | strong after V on a weak beat, tonic | weak, tonic
    assert [before[b] for b in (12, 16, 20, 23)] == [vi, iii, vi, vi]
    assert [after[b] for b in (12, 16, 20, 23)] == [I, iii, I, vi]
    moved = [12, 13, 20, 21]  # a resolved tonic holds into the weak beat after it
    assert np.array_equal(np.delete(before, moved), np.delete(after, moved))


def test_the_cadence_is_decided_alike_streamed_and_in_parallel(monkeypatch):
    """With CADENCE_BONUS made overwhelming, a planner's streamed decisions are its parallel
    plan's, on a melody where the bonus moves a chord."""
    import accomp.model.planner as planner_module

    planner = random_planner(seed=2)
    lead, style, beats = melody(384, seed=5), np.array([1.0, 0.0, 0.0]), np.arange(384) % 16
    monkeypatch.setattr(planner_module, "PRIMARY_BONUS", 3.0)
    plans = {}
    for bonus in (0.0, 1e9):
        monkeypatch.setattr(planner_module, "CADENCE_BONUS", bonus)
        plans[bonus] = planner.plan(lead, beats, 4, style).chords
        assert np.array_equal(streamed(planner, lead, style), plans[bonus])
    assert not np.array_equal(plans[0.0], plans[1e9])


def test_the_best_path_is_the_best_of_all_chord_sequences():
    import itertools

    from accomp.model.planner import best_path

    rng = np.random.default_rng(0)
    for trial in range(20):
        scores, cost = rng.normal(size=(5, 4)), rng.uniform(0, 2, size=5)
        def total(seq):  # noqa: E306
            return sum(scores[b, c] for b, c in enumerate(seq)) - sum(cost[b] for b in range(1, 5) if seq[b] != seq[b - 1])
        want = max(itertools.product(range(4), repeat=5), key=total)
        assert np.isclose(total(best_path(scores, cost)), total(want))
    assert np.array_equal(best_path(scores, np.zeros(5)), np.argmax(scores, axis=1))
    assert len(set(best_path(scores, np.full(5, 1e9)).tolist())) == 1
    assert len(best_path(np.zeros((0, 4)), np.zeros(0))) == 0


def test_a_finished_pop_melodys_plan_changes_chord_less_than_its_beats_best(monkeypatch):
    """The change cost is the style's: a pop plan holds its chords longer than beat-by-beat
    argmax; a style with no cost (or a weight of 0 on pop) plans as before."""
    import accomp.model.planner as planner_module

    planner = random_planner(seed=4)
    lead, beat = melody(192, seed=3), np.arange(192) % 16
    def changes(style):  # noqa: E306
        per_beat = planner.song_plan(lead, beat, 4, style).chords[::4]
        per_beat = per_beat[per_beat != NO_CHORD]
        return int(np.count_nonzero(per_beat[1:] != per_beat[:-1]))
    pop, chorale = (np.eye(len(STYLES) + 1)[STYLES.index(name)] for name in ("pop", "chorale"))
    monkeypatch.setattr(planner_module, "SONG_CHANGE_COST", {})
    free_pop, free_chorale = changes(pop), changes(chorale)
    monkeypatch.setattr(planner_module, "SONG_CHANGE_COST", {"pop": (2.0, 4.0)})
    assert changes(pop) < free_pop and changes(chorale) == free_chorale
    monkeypatch.setattr(planner_module, "SONG_CHANGE_COST", {"pop": (1e9, 1e9)})
    assert changes(pop) == 0 < free_pop


def test_the_planners_learn_from_the_8_beat_tracker_and_decide_with_the_longer_one(monkeypatch):
    """`planner train` reads its training songs with the tracker the bundled planners learnt
    from (so the README's command makes them again), the validation songs it measures and every
    live decision with the longer memory they decide with."""
    from accomp.model import planner_train as training
    from accomp.model.planner import LIVE_TRACKER, TRAINING_TRACKER, TrackerRecipe, beat_lead

    assert TRAINING_TRACKER == TrackerRecipe(8.0, from_held=False) and LIVE_TRACKER == TrackerRecipe(32.0, from_held=True)
    lead = melody(64)
    beat = np.arange(64) % 16
    assert beat_lead(lead, beat, 4).tracker == LIVE_TRACKER
    tracker = KeyTracker(recipe=TRAINING_TRACKER)
    tracker.view(np.eye(12)[0])
    tracker.advance(np.eye(12)[0] * 4)
    for _ in range(8):  # eight silent beats: one half-life of the training tracker
        tracker.view(np.zeros(12))
        tracker.advance(np.zeros(12))
    assert tracker.acc[0] == pytest.approx(2.0)

    seen = []
    import accomp.model.pieces as pieces

    monkeypatch.setattr(pieces, "load_pieces", lambda options, spec, split: ([split], {"split": split}))
    monkeypatch.setattr(training, "piece_beats", lambda piece, styles, tracker=LIVE_TRACKER: seen.append((piece, tracker)) or 1 / 0)
    with pytest.raises(ZeroDivisionError):  # stopped at the first piece read: only which tracker reads it matters
        training.planner_train(training.PlannerTrainOptions(out="p.safetensors", styles="pop,chorale", hidden=8))
    assert seen == [("train", TRAINING_TRACKER)]
