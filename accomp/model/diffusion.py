"""EDM noise levels, preconditioning, ODE samplers and guidance as plain functions.

Samplers know nothing about the network: they take ``denoise(x, sigma) -> x0_hat`` (a
closure that carries its conditioning) and a tensor of noise levels. References: Karras
et al. 2022 (EDM) for the preconditioning and the Heun sampler; Song et al. 2023 for the
consistency boundary scalings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class NoiseConfig:
    sigma_min: float = 0.005
    sigma_max: float = 40.0
    sigma_data: float = 0.5
    rho: float = 7.0
    # Log-normal training distribution of sigma. Centred near sigma = 1: on binary rolls the
    # lead only matters once the noise hides the accompaniment's own cells (sigma >~ 1).
    p_mean: float = 0.3
    p_std: float = 1.3
    # A second log-normal, drawn for this share of the examples, centred near sigma = 12,
    # where the accompaniment's own cells are drowned and only the lead (and the style)
    # says which chord to play: the sampler's first steps decide the harmony there, and
    # the main distribution alone visits those levels for ~6% of the examples.
    high_share: float = 0.5
    high_mean: float = 2.5
    high_std: float = 0.6

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- scalings


def edm_scalings(sigma: torch.Tensor, sigma_data: float) -> tuple[torch.Tensor, ...]:
    """(c_skip, c_out, c_in, c_noise) of EDM's preconditioned denoiser."""
    s2, sd2 = sigma**2, sigma_data**2
    c_skip = sd2 / (s2 + sd2)
    c_out = sigma * sigma_data / torch.sqrt(s2 + sd2)
    c_in = 1.0 / torch.sqrt(s2 + sd2)
    c_noise = torch.log(sigma) / 4.0
    return c_skip, c_out, c_in, c_noise


def student_scalings(sigma: torch.Tensor, sigma_data: float, sigma_min: float) -> tuple[torch.Tensor, ...]:
    """(c_skip, c_out, c_in, c_noise) of the consistency model: the network's input and noise
    scalings are EDM's (it starts as the teacher), its skip and output ones make it the
    identity at ``sigma_min``. The student's parallel pass and its streaming step (at
    ``sigma_max``, computed once) both take them from here."""
    _, _, c_in, c_noise = edm_scalings(sigma, sigma_data)
    c_skip, c_out = consistency_scalings(sigma, sigma_data, sigma_min)
    return c_skip, c_out, c_in, c_noise


def consistency_scalings(sigma: torch.Tensor, sigma_data: float, sigma_min: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(c_skip, c_out) that make the consistency function the identity at ``sigma_min``."""
    d = sigma - sigma_min
    c_skip = sigma_data**2 / (d**2 + sigma_data**2)
    c_out = d * sigma_data / torch.sqrt(sigma**2 + sigma_data**2)
    return c_skip, c_out


def edm_loss_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """lambda(sigma) = 1 / c_out^2: equalises the loss across noise levels."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


# ----------------------------------------------------------------------------- noise levels


def karras_sigmas(n: int, cfg: NoiseConfig, *, device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` decreasing levels from sigma_max to sigma_min (rho schedule), then a final 0."""
    if n < 1:
        raise ValueError(f"need at least one sampler step, got {n}")
    ramp = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    lo, hi = cfg.sigma_min ** (1 / cfg.rho), cfg.sigma_max ** (1 / cfg.rho)
    sigmas = (hi + ramp * (lo - hi)) ** cfg.rho
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)]).to(device=device, dtype=torch.float32)


def sample_training_sigma(n: int, cfg: NoiseConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Noise levels for denoiser training, shape (n,): a mixture of two log-normals."""
    z = torch.randn(n, generator=generator)
    high = torch.rand(n, generator=generator) < cfg.high_share
    log_sigma = torch.where(high, cfg.high_mean + cfg.high_std * z, cfg.p_mean + cfg.p_std * z)
    return torch.exp(log_sigma).clamp(cfg.sigma_min, cfg.sigma_max)


# ----------------------------------------------------------------------------- samplers


def sample_heun(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Deterministic 2nd-order EDM sampler; 2 evaluations per step except the last."""
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        d = (x - denoise(x, s)) / s  # dx/dsigma of the probability-flow ODE
        x_next = x + (s_next - s) * d
        if s_next > 0:  # Heun correction
            d_next = (x_next - denoise(x_next, s_next)) / s_next
            x_next = x + (s_next - s) * (d + d_next) / 2
        x = x_next
    return x


def sample_euler(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Deterministic 1st-order sampler; 1 evaluation per step."""
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        x = x + (s_next - s) * (x - denoise(x, s)) / s
    return x


SAMPLERS = {"heun": sample_heun, "euler": sample_euler}


def guided(cond: Denoiser, uncond: Denoiser, weight: float) -> Denoiser:
    """Classifier-free guidance: ``uncond + weight * (cond - uncond)``; weight 1 = no guidance."""
    if math.isclose(weight, 1.0):
        return cond

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        u = uncond(x, sigma)
        return u + weight * (cond(x, sigma) - u)

    return denoise


def heun_trajectory(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor) -> list[torch.Tensor]:
    """The states of :func:`sample_heun` at every level (``len(sigmas)`` tensors, the last
    one clean): adjacent pairs are exact teacher steps, as consistency distillation needs."""
    states = [x]
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        x = sample_heun(denoise, x, torch.stack([s, s_next]))
        states.append(x)
    return states
