"""The streaming student: the three tests every streaming model has, and its state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from accomp.model.student import Student
from accomp.music.chords import CHORD_FEATURES
from accomp.model.teacher import Teacher, TeacherConfig

K = 88


def random_student(kv_window: int = 8, lora_rank: int = 0, chords: bool = False) -> Student:
    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16, chords=chords))
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return Student.from_teacher(teacher.eval(), kv_window=kv_window, lora_rank=lora_rank).eval()


def random_lead(T: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    lead = torch.zeros(T, 2, K)
    for t in range(0, T, 2):
        k = int(torch.randint(30, 60, (1,), generator=g))
        lead[t, :, k] = 1
        lead[t + 1, 1, k] = 1
    return lead


def stream(student: Student, lead: torch.Tensor, noise: torch.Tensor, style=(0.7, 0.3, 0.0), bar_steps: int = 16, chord=None):
    state = student.init_state(np.array(style), bar_steps)
    frames, x0s = [], []
    for t in range(lead.shape[0]):
        state, frame = student.step(state, lead[t], noise[t], None if chord is None else chord[t])
        frames.append(frame.clone())
        x0s.append(state.x0[0].clone())
    return torch.stack(frames), torch.stack(x0s), state


def random_chords(T: int, seed: int = 3) -> torch.Tensor:
    """(T, 24) chord plan features: a triad's tones and its root, a new chord every four steps."""
    g = torch.Generator().manual_seed(seed)
    chord = torch.zeros(T, CHORD_FEATURES)
    for start in range(0, T, 4):
        root = int(torch.randint(0, 12, (1,), generator=g))
        chord[start : start + 4, [(root + i) % 12 for i in (0, 4, 7)]] = 1.0
        chord[start : start + 4, 12 + root] = 1.0
    return chord


@pytest.mark.parametrize("chords", [False, True])
def test_streamed_steps_equal_one_causal_parallel_pass(chords):
    """The streaming step (its network folded: the embedding, the chord plan's layers and the
    output layers each one linear map) is the parallel pass's causal consistency function."""
    student = random_student(kv_window=8, chords=chords)  # 20 steps: the ring wraps twice
    if chords:
        with torch.no_grad():  # the plan's layers start at zero (ControlNet): give them weight
            for p in (*student.net.chord_in.parameters(), *student.net.chord_layers.parameters()):
                p.normal_(0, 0.3)
    T = 20
    lead = random_lead(T)
    noise = torch.randn(T, 2, K, generator=torch.Generator().manual_seed(2))
    plan = random_chords(T) if chords else None
    frames, x0s, _ = stream(student, lead, noise, chord=plan)
    with torch.no_grad():
        par = student.consistency(
            (noise * student.sigma_max)[None],
            torch.tensor(student.sigma_max),
            lead[None] * 2 - 1,
            frames[None].float() * 2 - 1,
            (torch.arange(T) % 16)[None],
            torch.tensor([[0.7, 0.3, 0.0]]),
            None if plan is None else plan[None],
        )[0]
    torch.testing.assert_close(x0s, par, atol=1e-4, rtol=1e-4)  # float32, different op order
    assert frames.sum() > 0
    if chords:  # the plan is heard: another plan, other cells
        _, other, _ = stream(student, lead, noise, chord=random_chords(T, seed=4))
        assert (other - x0s).abs().max() > 1e-2


def test_the_look_ahead_is_read_off_the_attention_mask():
    student = random_student()
    assert student.delay == 0  # Q[t] sees C[..t-1] and itself

    class Peeking(Student):  # a student whose queries could see the next frame's token
        def sequence_mask(self, T, device):
            mask = super().sequence_mask(T, device).clone()
            for t in range(T - 1):
                mask[0, 0, T + t, t + 1] = True
            return mask

    peeking = Peeking(student.net, kv_window=8)
    assert peeking.delay == 1


def test_causality_no_gradient_from_the_future():
    student = random_student(kv_window=6)
    T, t = 12, 5
    lead = (random_lead(T) * 2 - 1).requires_grad_(True)
    past = (torch.randn(T, 2, K) > 1).float().mul(2).sub(1).requires_grad_(True)
    x = torch.randn(T, 2, K).requires_grad_(True)
    out = student.consistency(x[None], torch.tensor(3.0), lead[None], past[None], (torch.arange(T) % 16)[None], torch.tensor([[1.0, 0, 0]]))
    out[0, t].sum().backward()
    assert lead.grad[t + 1 :].abs().max() == 0 and x.grad[t + 1 :].abs().max() == 0
    assert past.grad[t:].abs().max() == 0  # frame t's own output is fed back only from t + 1
    assert lead.grad[t].abs().sum() > 0 and past.grad[t - 1].abs().sum() > 0


def test_window_limits_the_past():
    student = random_student(kv_window=4)
    T, t = 12, 9
    lead = (random_lead(T) * 2 - 1).requires_grad_(True)
    past = torch.zeros(T, 2, K).requires_grad_(True)
    out = student.consistency(torch.randn(1, T, 2, K), torch.tensor(3.0), lead[None], past[None], (torch.arange(T) % 16)[None], torch.tensor([[1.0, 0, 0]]))
    out[0, t].sum().backward()
    # W=4, 2 layers: Q[t] sees C[t-3 .. t-1], each of which saw C[s-2 .. s] one layer down.
    reach = (4 - 1) + (2 - 1) * (4 - 2)
    assert past.grad[: t - reach].abs().max() == 0
    assert past.grad[t - reach].abs().sum() > 0


def test_state_copy_continues_bit_identically():
    student = random_student(kv_window=8)
    lead = random_lead(30)
    noise = torch.randn(30, 2, K, generator=torch.Generator().manual_seed(3))
    state = student.init_state(np.array([1.0, 0.0, 0.0]))
    for t in range(12):
        state, _ = student.step(state, lead[t], noise[t])
    saved = state.copy()
    outs_a = [student.step(state, lead[t], noise[t])[1].clone() for t in range(12, 30)]
    outs_b = [student.step(saved, lead[t], noise[t])[1].clone() for t in range(12, 30)]
    for a, b in zip(outs_a, outs_b):
        assert torch.equal(a, b)


def test_lora_starts_as_the_teacher_and_trains_only_adapters():
    plain = random_student(kv_window=8)
    adapted = random_student(kv_window=8, lora_rank=4)
    lead = random_lead(10)
    noise = torch.randn(10, 2, K, generator=torch.Generator().manual_seed(4))
    a, xa, _ = stream(plain, lead, noise)
    b, xb, _ = stream(adapted, lead, noise)
    torch.testing.assert_close(xa, xb)
    trainable = {n for n, p in adapted.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_style_weights_are_checked():
    with pytest.raises(ValueError, match="3 entries"):
        random_student().init_state(np.array([1.0, 0.0]))


def test_batched_streams_equal_single_streams():
    student = random_student(kv_window=8)
    T = 10
    leads = [random_lead(T, seed) for seed in (1, 2)]
    noise = torch.randn(2, T, 2, K, generator=torch.Generator().manual_seed(5))
    styles = np.array([[1.0, 0.0, 0.0], [0.2, 0.8, 0.0]])
    state = student.init_state(styles, batch=2)
    batched = []
    for t in range(T):
        state, frames = student.step(state, torch.stack([leads[0][t], leads[1][t]]), noise[:, t])
        batched.append(state.x0.clone())
    batched = torch.stack(batched, dim=1)
    for i in range(2):
        _, single, _ = stream(student, leads[i], noise[i], style=tuple(styles[i]))
        torch.testing.assert_close(batched[i], single, atol=1e-5, rtol=1e-5)


def test_frozen_step_equals_the_eager_step():
    """A loaded preset streams through a traced network: same frames, state and copies."""
    eager = random_student(kv_window=8)
    frozen = random_student(kv_window=8).freeze_for_streaming(quantize=False)
    T = 20  # the ring wraps twice
    lead = random_lead(T)
    noise = torch.randn(T, 2, K, generator=torch.Generator().manual_seed(6))
    for style in ((0.7, 0.3, 0.0), (0.0, 1.0, 0.0)):  # the style reaches the traced net as input
        fa, xa, _ = stream(eager, lead, noise, style=style)
        fb, xb, sb = stream(frozen, lead, noise, style=style)
        torch.testing.assert_close(xb, xa, atol=1e-5, rtol=1e-5)
        assert torch.equal(fa, fb)
    assert set(frozen._frozen) == {(1, "cpu", False)}
    styles = np.array([[1.0, 0.0, 0.0], [0.2, 0.8, 0.0]])
    state = frozen.init_state(styles, batch=2)  # another batch size: a trace of its own
    leads = torch.stack([lead, random_lead(T, 7)], dim=1)
    for t in range(T):
        state, _ = frozen.step(state, leads[t], noise[t].expand(2, 2, K))
    _, single, _ = stream(eager, leads[:, 1], noise, style=tuple(styles[1]))
    torch.testing.assert_close(state.x0[1], single[-1], atol=1e-5, rtol=1e-5)
    assert set(frozen._frozen) == {(1, "cpu", False), (2, "cpu", False)}


def test_the_traced_step_decides_with_the_settings_as_they_are_now():
    """The thresholds, a guard and the density follower are in the traced step, read as
    inputs: a threshold moved between runs (as calibration does) and a density target give
    the eager step's frames, lifts and thresholds, bit for bit."""
    eager = random_student(kv_window=8)
    frozen = random_student(kv_window=8).freeze_for_streaming(quantize=False)
    T = 32  # the follower lifts once it has heard 16 steps
    g = torch.Generator().manual_seed(8)
    lead, noise = random_lead(T), torch.randn(T, 2, K, generator=g)
    chord = torch.zeros(T, CHORD_FEATURES)
    chord[:, [0, 4, 7]] = 1.0
    guard = torch.rand(T, K, generator=g) * 0.4
    runs = {}
    for onset, target in ((0.0, 0.0), (0.3, 0.0), (-0.2, 0.05), (0.1, 0.05)):
        got = []
        for student in (eager, frozen):
            student.onset_threshold, student.sustain_threshold, student.density_target = onset, onset / 2, target
            state = student.init_state(np.array([0.7, 0.3, 0.0]))
            frames, lifts = [], []
            for t in range(T):
                state, frame = student.step(state, lead[t], noise[t], chord[t], guard[t])
                frames.append(frame.clone())
                lifts.append(state.lift.clone())
            got.append((torch.stack(frames), torch.stack(lifts), state.thresholds.clone(), state.rate.clone()))
        for a, b in zip(*got):
            assert torch.equal(a, b)
        runs[onset, target] = got[1]
    assert not torch.equal(runs[0.0, 0.0][0], runs[0.3, 0.0][0])  # the moved threshold was read
    assert runs[-0.2, 0.05][1].max() > 0 and runs[0.0, 0.0][1].max() == 0  # the follower lifted, only when on
    assert set(frozen._frozen) == {(1, "cpu", False), (1, "cpu", True)}


def test_a_quantised_student_streams_close_to_the_float_one():
    """On a CPU a loaded preset's blocks run in int8: the denoised cells stay close to the
    float32 ones (the frames decided from them may differ where a cell sits on its threshold)."""
    eager = random_student(kv_window=8)
    quantised = random_student(kv_window=8).freeze_for_streaming()
    assert quantised.quantized and eager.quantized is False
    int8 = torch.ao.nn.quantized.dynamic.Linear
    block = quantised.net.blocks[0]
    assert all(isinstance(m, int8) for m in (block.qkv, block.proj, block.mlp[0], block.mlp[2]))
    assert type(block.ada) is torch.nn.Linear  # the style modulation, once per stream, stays float
    T = 20
    lead = random_lead(T)
    noise = torch.randn(T, 2, K, generator=torch.Generator().manual_seed(8))
    fa, xa, _ = stream(eager, lead, noise)
    fb, xb, _ = stream(quantised, lead, noise)
    spread = float(xa[0].std())
    assert float((xb[0] - xa[0]).abs().max()) < 0.05 * spread  # the first step: the same inputs
    assert float((fa == fb).float().mean()) > 0.9
    _, xc, _ = stream(quantised, lead, noise)
    assert torch.equal(xb, xc)  # and as deterministic as the float path


def test_a_step_builds_no_rotary_tables(monkeypatch):
    """The streaming contract: the rotary tables are made once per device (at init_state), a
    step only copies its two rows into the state's buffers: ``rope_tables`` is never called
    by a step, and the tables and buffers stay the same objects."""
    import accomp.model.student as student_module

    student = random_student(kv_window=8)
    state = student.init_state(np.array([1.0, 0.0, 0.0]))
    calls = []
    real = student_module.rope_tables
    monkeypatch.setattr(student_module, "rope_tables", lambda *a: calls.append(a) or real(*a))
    lead = random_lead(20)
    noise = torch.randn(20, 2, K, generator=torch.Generator().manual_seed(9))
    for t in range(10):
        state, _ = student.step(state, lead[t], noise[t])
    assert calls == []
    tables = student.rope(torch.device("cpu"))
    buffers = (state.rot.data_ptr(), state.slots.data_ptr())
    for t in range(10, 20):
        state, _ = student.step(state, lead[t], noise[t])
    assert calls == [] and student.rope(torch.device("cpu")) is tables
    assert (state.rot.data_ptr(), state.slots.data_ptr()) == buffers
    torch.testing.assert_close(state.rot, tables[19:21])  # rows of positions 18 and 19


def test_a_traced_step_runs_no_rotary_kernels():
    """A loaded preset streams through a traced step: no cos/sin (or table-building) kernel
    runs in it."""
    frozen = random_student(kv_window=8).freeze_for_streaming(quantize=False)
    state = frozen.init_state(np.array([1.0, 0.0, 0.0]))
    lead = random_lead(6)
    noise = torch.randn(6, 2, K, generator=torch.Generator().manual_seed(9))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for t in range(5):
            state, _ = frozen.step(state, lead[t], noise[t])
    ran = {e.key for e in prof.key_averages()}
    assert "aten::scaled_dot_product_attention" in ran  # the profiler saw the traced step's kernels
    assert not ran & {"aten::cos", "aten::sin", "aten::arange", "aten::pow"}


@pytest.mark.parametrize("freeze", [False, True])
def test_streaming_past_the_rotary_table_is_unchanged(freeze):
    """A stream longer than the rotary table turns its cached keys back and starts the table
    over: the same cells as with a table that never runs out, and as the parallel pass (which
    rotates by absolute positions), to float tolerance."""
    T = 40
    lead = random_lead(T)
    noise = torch.randn(T, 2, K, generator=torch.Generator().manual_seed(10))
    short = random_student(kv_window=8)
    short.rope_rows = 12  # rows for positions -1..10: rebased at steps 11, 21, 31
    long = random_student(kv_window=8)
    if freeze:
        short.freeze_for_streaming(quantize=False)
        long.freeze_for_streaming(quantize=False)
    fa, xa, sa = stream(short, lead, noise)
    fb, xb, sb = stream(long, lead, noise)
    assert sa.rope_shift == 30 and sb.rope_shift == 0 and sa.position == sb.position == T
    torch.testing.assert_close(xa, xb, atol=1e-5, rtol=1e-5)
    assert torch.equal(fa, fb)
    with torch.no_grad():
        par = long.consistency((noise * long.sigma_max)[None], torch.tensor(long.sigma_max), lead[None] * 2 - 1,
                               fb[None].float() * 2 - 1, (torch.arange(T) % 16)[None], torch.tensor([[0.7, 0.3, 0.0]]))[0]  # fmt: skip
    torch.testing.assert_close(xa, par, atol=1e-4, rtol=1e-4)
