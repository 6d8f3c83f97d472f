"""Diffusion functions, the teacher model, its checkpoints, training and sampling."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from accomp.config import DEFAULT_SPEC
from accomp.errors import CheckpointError, StyleError
from accomp.model.checkpoint import HEADER_KEY, load_teacher, save_teacher
from accomp.model.diffusion import (
    NoiseConfig,
    consistency_scalings,
    edm_scalings,
    karras_sigmas,
    sample_euler,
    sample_heun,
    sample_training_sigma,
)
from accomp.model.generate import SamplerSettings, generate, style_weights
from accomp.music.chords import N_CHORDS
from accomp.model.masks import MaskConfig, draw_masks, transpose_batch
from accomp.model.teacher import Cond, Teacher, TeacherConfig
from accomp.model.train import TrainConfig, TrainData, train_teacher

K = 88


def tiny_config(**kw) -> TeacherConfig:
    return TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16, **kw)


def random_teacher(seed: int = 0, **kw) -> Teacher:
    torch.manual_seed(seed)
    model = Teacher(tiny_config(**kw))
    with torch.no_grad():  # zero-initialised heads would hide every dependency: wake them
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def synthetic_windows(n: int = 24, w: int = 16, seed: int = 0) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    lead = np.zeros((n, w, 2, K), np.uint8)
    accomp = np.zeros((n, w, 2, K), np.uint8)
    for i in range(n):
        for t in range(0, w, 4):
            k = int(rng.integers(40, 60))
            lead[i, t, :, k] = 1
            lead[i, t : t + 4, 1, k] = 1
            for off in (-12, -8, -5):
                accomp[i, t, :, k + off] = 1
    beat = np.tile(np.arange(w) % 16, (n, 1)).astype(np.int16)
    chords = rng.integers(0, N_CHORDS, size=(n, w)).astype(np.int16)
    return SimpleNamespace(lead=lead, accomp=accomp, beat_in_bar=beat, style=["pop", "chorale"] * (n // 2), chords=chords)


# ----------------------------------------------------------------------------- diffusion


def test_consistency_scalings_are_identity_at_sigma_min():
    c_skip, c_out = consistency_scalings(torch.tensor(0.005), 0.5, 0.005)
    assert c_skip.item() == 1.0 and c_out.item() == 0.0
    c_skip, c_out = consistency_scalings(torch.tensor(40.0), 0.5, 0.005)
    assert c_skip.item() < 1e-3 and c_out.item() > 0.49


def test_edm_scalings_known_values():
    c_skip, c_out, c_in, c_noise = edm_scalings(torch.tensor(0.5), 0.5)
    assert c_skip.item() == pytest.approx(0.5)
    assert c_out.item() == pytest.approx(0.5 / math.sqrt(2))
    assert c_in.item() == pytest.approx(1 / math.sqrt(0.5))
    assert c_noise.item() == pytest.approx(math.log(0.5) / 4)


def test_karras_sigmas_decrease_to_zero():
    cfg = NoiseConfig()
    s = karras_sigmas(10, cfg)
    assert s.shape == (11,) and s[-1] == 0
    assert s[0].item() == pytest.approx(cfg.sigma_max) and s[-2].item() == pytest.approx(cfg.sigma_min, rel=1e-4)
    assert (s[:-1] > s[1:]).all()


def test_training_noise_mixes_a_high_level_share():
    g = torch.Generator().manual_seed(0)
    one = sample_training_sigma(20000, NoiseConfig(high_share=0.0), g)
    mixed = sample_training_sigma(20000, NoiseConfig(high_share=0.5), g)
    assert ((one > 5) & (one < 40)).float().mean() < 0.2  # the main log-normal seldom goes there (~16%)
    assert ((mixed > 5) & (mixed < 40)).float().mean() > 0.4  # half the draws aim near sigma = 12
    assert mixed.min() >= NoiseConfig().sigma_min and mixed.max() <= NoiseConfig().sigma_max


def test_a_config_from_before_the_mixture_reads_as_one_log_normal():
    old = TeacherConfig().to_dict()
    for name in ("high_share", "high_mean", "high_std"):
        del old["noise"][name]
    assert TeacherConfig.from_dict(old).noise.high_share == 0.0
    assert TeacherConfig.from_dict(TeacherConfig().to_dict()).noise == NoiseConfig()


@pytest.mark.parametrize("sampler", [sample_heun, sample_euler])
def test_samplers_solve_the_ode_of_a_point_mass(sampler):
    # Data is the single point mu: the ideal denoiser returns mu, and the ODE ends exactly at mu.
    mu = torch.tensor([0.3, -0.7])
    x = torch.tensor([5.0, -3.0])
    out = sampler(lambda x, s: mu.expand_as(x), x, karras_sigmas(8, NoiseConfig()))
    torch.testing.assert_close(out, mu)


# ----------------------------------------------------------------------------- model


def make_cond(B: int, T: int, styles: int = 2, given_lead: bool = True) -> Cond:
    given = torch.zeros(B, T, 2, dtype=torch.bool)
    given[:, :, 0] = given_lead
    context = torch.where(given[..., None, None], -torch.ones(B, T, 2, 2, K), torch.zeros(B, T, 2, 2, K))
    style = torch.zeros(B, styles + 1)
    style[:, 0] = 1
    return Cond(context, given, torch.ones(B, T, dtype=torch.bool), torch.arange(T).repeat(B, 1) % 16, style)


def test_causal_forward_ignores_the_future():
    model = random_teacher()
    x = torch.randn(1, 12, 2, 2, K, requires_grad=True)
    cond = make_cond(1, 12, given_lead=False)
    out = model(x, torch.zeros(1), cond, causal=True)
    out[0, 5].sum().backward()
    assert x.grad[0, 6:].abs().max().item() == 0.0
    assert x.grad[0, :6].abs().sum().item() > 0


def test_bidirectional_forward_sees_the_future_but_not_hidden_frames():
    model = random_teacher()
    x = torch.randn(1, 12, 2, 2, K, requires_grad=True)
    cond = make_cond(1, 12, given_lead=False)
    cond.visible[0, 9:] = False
    out = model(x, torch.zeros(1), cond)
    out[0, 5].sum().backward()
    assert x.grad[0, 6:9].abs().sum().item() > 0
    assert x.grad[0, 9:].abs().max().item() == 0.0


def test_denoise_pins_given_cells():
    model = random_teacher()
    cond = make_cond(2, 8)
    cond.context[:, :, 0, 1, 40] = 1.0
    d = model.denoise(torch.randn(2, 8, 2, 2, K), torch.tensor(3.0), cond)
    torch.testing.assert_close(d[:, :, 0], cond.context[:, :, 0])


def test_style_mix_is_a_weighted_sum_of_embeddings():
    model = random_teacher()
    a, b = torch.tensor([[1.0, 0, 0]]), torch.tensor([[0, 1.0, 0]])
    mix = 0.7 * a + 0.3 * b
    c = torch.zeros(1)
    lhs = model.cond_vector(c, mix) - model.cond_vector(c, torch.zeros(1, 3))
    rhs = 0.7 * (model.cond_vector(c, a) - model.cond_vector(c, torch.zeros(1, 3))) + 0.3 * (
        model.cond_vector(c, b) - model.cond_vector(c, torch.zeros(1, 3))
    )
    torch.testing.assert_close(lhs, rhs)


# ----------------------------------------------------------------------------- styles


def test_style_weights():
    styles = ("pop", "chorale")
    np.testing.assert_allclose(style_weights(styles, style="pop"), [1, 0, 0])
    np.testing.assert_allclose(style_weights(styles, mix="pop=0.7,chorale=0.3"), [0.7, 0.3, 0])
    np.testing.assert_allclose(style_weights(styles, mix="pop=2,chorale=2"), [0.5, 0.5, 0])
    for bad, msg in [
        (dict(style="jazz"), "unknown style 'jazz'"),
        (dict(mix="pop=-1,chorale=2"), ">= 0"),
        (dict(mix="pop=0,chorale=0"), "all zero"),
        (dict(mix="pop=x"), "not a number"),
        (dict(mix="pop=nan"), "finite"),
    ]:
        with pytest.raises(StyleError, match=msg):
            style_weights(styles, **bad)


# ----------------------------------------------------------------------------- masks


def test_masks_cover_every_mode():
    g = torch.Generator().manual_seed(0)
    given, visible = draw_masks(4000, 16, MaskConfig(), g)
    assert not (given & ~visible[..., None]).any()
    lead_all = given[..., 0].sum(1) == visible.sum(1)
    nothing = given.sum((1, 2)) == 0
    accomp_all = given[..., 1].sum(1) == visible.sum(1)
    hidden = ~visible.all(1)
    assert lead_all.float().mean() > 0.4  # (a)
    assert (accomp_all & ~lead_all).float().mean() > 0.05  # (b)
    assert nothing.float().mean() > 0.05  # (c)
    assert (hidden & lead_all & (given[..., 1].sum(1) > 0)).float().mean() > 0.05  # (d)


def test_transposition_keeps_notes_on_the_keyboard():
    g = torch.Generator().manual_seed(0)
    x = -torch.ones(64, 4, 2, 2, K)
    x[:, :, 0, :, 0] = 1  # lowest key: may only go up
    x[:, :, 1, :, 80] = 1
    lo, hi = torch.zeros(64, dtype=torch.long), torch.full((64,), 80)
    out = transpose_batch(x, lo, hi, 6, g)
    assert ((out > 0).sum((1, 2, 3, 4)) == (x > 0).sum((1, 2, 3, 4))).all()
    shifts = {int((o[0, 0, 0] > 0).nonzero()[0]) for o in out}
    assert shifts <= set(range(0, 7)) and len(shifts) > 1


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path):
    model = random_teacher()
    path = tmp_path / "t.safetensors"
    save_teacher(model, DEFAULT_SPEC, path, data={"corpora": []}, metrics={"x": 1})
    loaded, spec, header = load_teacher(path)
    assert spec == DEFAULT_SPEC and header["metrics"] == {"x": 1}
    cond = make_cond(1, 8)
    x = torch.randn(1, 8, 2, 2, K)
    torch.testing.assert_close(loaded.denoise(x, torch.tensor(1.0), cond), model.denoise(x, torch.tensor(1.0), cond), rtol=0, atol=0)


def test_bad_checkpoints_give_one_line_errors(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "t.safetensors"
    save_teacher(random_teacher(), DEFAULT_SPEC, path)
    data = path.read_bytes()
    cases = {}
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    cases["trunc.safetensors"] = "not a readable model file"
    (tmp_path / "junk.safetensors").write_bytes(b"hello world, not a model")
    cases["junk.safetensors"] = "not a readable model file"
    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    cases["foreign.safetensors"] = "not an accomp model file"
    header = {"format": "accomp-teacher", "format_version": 99}
    save_file({"w": torch.zeros(2)}, str(tmp_path / "future.safetensors"), metadata={HEADER_KEY: json.dumps(header)})
    cases["future.safetensors"] = "format version 99"
    save_file({"w": torch.zeros(2)}, str(tmp_path / "preset.safetensors"), metadata={HEADER_KEY: json.dumps({"format": "accomp-preset"})})
    cases["preset.safetensors"] = "expected 'accomp-teacher'"
    cases["missing.safetensors"] = "no such model file"
    for name, message in cases.items():
        with pytest.raises(CheckpointError, match=message) as info:
            load_teacher(tmp_path / name)
        assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- training


def test_training_writes_a_checkpoint_with_its_record(tmp_path):
    cfg = tiny_config()
    data = TrainData.from_windows(synthetic_windows(), cfg.styles)
    out = tmp_path / "teacher.safetensors"
    tc = TrainConfig(steps=4, batch=4, val_every=2, save_every=2, warmup=1)
    record = train_teacher(cfg, tc, DEFAULT_SPEC, data, data, out, {"corpora": "synthetic"}, device=torch.device("cpu"))
    assert record["steps"] == 4 and len(record["history"]) == 2
    _, _, header = load_teacher(out)
    assert header["training"]["steps"] == 4 and header["data"] == {"corpora": "synthetic"}
    assert not (tmp_path / "teacher.safetensors.state.pt").exists()


def test_training_resumes_from_its_state_file(tmp_path):
    cfg = tiny_config()
    data = TrainData.from_windows(synthetic_windows(), cfg.styles)
    out = tmp_path / "t.safetensors"
    tc = TrainConfig(steps=6, batch=4, val_every=3, save_every=3, warmup=1)

    class StopAfterSave(Exception):
        pass

    import accomp.model.train as train_mod

    real = train_mod.save_run_state
    calls = []

    def save_then_stop(path, **state):
        real(path, **state)
        calls.append(state["step"])
        if state["step"] == 3 and len(calls) == 1:
            raise KeyboardInterrupt

    train_mod.save_run_state = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            train_teacher(cfg, tc, DEFAULT_SPEC, data, data, out, {}, device=torch.device("cpu"))
    finally:
        train_mod.save_run_state = real
    assert not out.exists() and (tmp_path / "t.safetensors.state.pt").exists()
    record = train_teacher(cfg, tc, DEFAULT_SPEC, data, data, out, {}, device=torch.device("cpu"))
    assert record["steps"] == 6 and [h["step"] for h in record["history"]] == [3, 6]
    assert out.exists()


# ----------------------------------------------------------------------------- sampling


def test_generate_keeps_the_lead_and_is_seeded():
    model = random_teacher()
    lead = synthetic_windows(2, 32).lead
    beat = np.tile(np.arange(32) % 16, (2, 1))
    style = np.array([[1.0, 0, 0]] * 2)
    s = SamplerSettings(steps=3, chunk=8)
    out_lead, accomp, nfe = generate(model, beat, style, s, lead=lead)
    np.testing.assert_array_equal(out_lead, lead)
    assert accomp.shape == lead.shape and accomp.dtype == np.uint8
    assert (accomp[:, :, 0] <= accomp[:, :, 1]).all()
    _, again, _ = generate(model, beat, style, s, lead=lead)
    np.testing.assert_array_equal(accomp, again)
    assert nfe == 3 * 5 * 2  # 3 windows (16 frames, hop 8) x Heun over 3 levels (2 + 2 + 1: the last is Euler) x 2 (guidance)
    # Guidance on the lead as well: a third evaluation, with the lead hidden; the lead is kept.
    guided_lead, accomp_g, nfe_g = generate(model, beat, style, SamplerSettings(steps=3, chunk=8, lead_guidance=2.0), lead=lead)
    np.testing.assert_array_equal(guided_lead, lead)
    assert nfe_g == 3 * 5 * 3 and not np.array_equal(accomp_g, accomp)


def test_causal_generation_never_sees_later_lead_notes():
    model = random_teacher()
    lead = synthetic_windows(1, 32).lead
    changed = lead.copy()
    changed[0, 16:] = 0
    changed[0, 20, :, 70] = 1
    beat = np.arange(32)[None] % 16
    style = np.array([[0.5, 0.5, 0]])
    s = SamplerSettings(steps=3, chunk=8)
    _, a, _ = generate(model, beat, style, s, lead=lead, causal=True)
    _, b, _ = generate(model, beat, style, s, lead=changed, causal=True)
    np.testing.assert_array_equal(a[0, :16], b[0, :16])


def test_a_planted_state_file_is_refused_and_never_unpickled(tmp_path):
    class Planted:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    out = tmp_path / "t.safetensors"
    torch.save({"model": Planted()}, tmp_path / "t.safetensors.state.pt")
    cfg = tiny_config()
    data = TrainData.from_windows(synthetic_windows(), cfg.styles)
    with pytest.raises(CheckpointError, match="cannot resume"):
        train_teacher(cfg, TrainConfig(steps=2, batch=4, warmup=1), DEFAULT_SPEC, data, data, out, {}, device=torch.device("cpu"))
    assert not (tmp_path / "ran").exists() and not out.exists()
