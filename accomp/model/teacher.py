"""The teacher: a bidirectional transformer denoiser over windows of frames (EDM).

One token per grid step. A token sees, for every track role, the noisy cells (scaled by
c_in), the clean cells where that track is *given* (zeros elsewhere) and a given flag; the
beat-in-bar position is added as an embedding; noise level and style (a weighted mix of
style embeddings, the last row being the "no style" of classifier-free guidance) modulate
every block (adaLN-zero, as in DiT). Frames that are *hidden* (a causal window's future)
are masked out of attention. Rotary position embeddings keep attention relative, so the
same weights serve a causal student with a sliding KV cache.

Shapes: B batch, T frames, R track roles, C=2 channels (onset, sustain), K=88 keys.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn.functional as F
from torch import nn

from accomp.model.diffusion import NoiseConfig, edm_scalings
from accomp.music.chords import CHORD_FEATURES

MAX_BEAT = 48  # beat-in-bar positions are clipped to this many embeddings


@dataclass(frozen=True)
class TeacherConfig:
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 4
    mlp_ratio: float = 4.0
    window: int = 64
    roles: tuple[str, ...] = ("lead", "accomp")
    styles: tuple[str, ...] = ("pop", "chorale")
    n_keys: int = 88
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    chords: bool = False  # conditioned on a chord plan (chroma + bass per frame) at every layer

    def to_dict(self) -> dict:
        d = asdict(self)
        d["roles"], d["styles"] = list(self.roles), list(self.styles)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "TeacherConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown model config fields {sorted(unknown)}")
        data = dict(data)
        data["roles"] = tuple(data.get("roles", cls.roles))
        data["styles"] = tuple(data.get("styles", cls.styles))
        if "noise" in data:
            # files from before the two-part training mixture were trained on one log-normal
            data["noise"] = NoiseConfig(**{"high_share": 0.0, **data["noise"]})
        cfg = cls(**data)
        if cfg.d_model % cfg.n_heads or (cfg.d_model // cfg.n_heads) % 2:
            raise ValueError("d_model must split into heads of even size")
        return cfg


SIZES = {
    "tiny": dict(d_model=64, n_layers=2, n_heads=2),
    "small": dict(d_model=192, n_layers=4, n_heads=4),
    "base": dict(d_model=384, n_layers=8, n_heads=6),
}


@dataclass
class Cond:
    """Everything the denoiser is conditioned on besides the noisy cells and sigma."""

    context: torch.Tensor  # (B, T, R, 2, K) clean cells in [-1, 1] where given, 0 elsewhere
    given: torch.Tensor  # (B, T, R) bool: this track is given at this frame
    visible: torch.Tensor  # (B, T) bool: False = hidden frame (a causal window's future)
    beat: torch.Tensor  # (B, T) long, beat-in-bar step index
    style: torch.Tensor  # (B, S + 1) float mix weights; the last column is "no style"
    chord: torch.Tensor | None = None  # (B, T, 24) chord plan: tones, then root; zeros = no chord

    def cells_given(self) -> torch.Tensor:
        """(B, T, R, 1, 1) bool mask broadcastable over the cells."""
        return self.given[..., None, None]

    def replace(self, **changes: torch.Tensor) -> "Cond":
        return Cond(**{**self.__dict__, **changes})


# ----------------------------------------------------------------------------- blocks


def rope_tables(positions: torch.Tensor, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (T, head_dim/2) for rotary embeddings at integer positions.

    Angles are computed in float64 so that positions deep into a long stream stay exact.
    """
    inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float64) / head_dim))
    angles = positions.to(torch.float64)[:, None] * inv[None, :]
    return angles.cos().to(torch.float32), angles.sin().to(torch.float32)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (..., T, head_dim) by the tables (T, head_dim/2)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2)


class Block(nn.Module):
    def __init__(self, cfg: TeacherConfig) -> None:
        super().__init__()
        d, self.n_heads = cfg.d_model, cfg.n_heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.ada = nn.Linear(d, 6 * d)  # shift/scale/gate for attention and MLP
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def modulation(self, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, d) conditioning -> six (B, 1, d) tensors."""
        return tuple(m[:, None, :] for m in self.ada(F.silu(c)).chunk(6, dim=-1))

    def forward(
        self,
        x: torch.Tensor,  # (B, T, d)
        mod: tuple[torch.Tensor, ...],
        cos: torch.Tensor,
        sin: torch.Tensor,
        attn_mask: torch.Tensor | None,  # (B, 1, T, T) bool, True = may attend
    ) -> torch.Tensor:
        sh1, sc1, g1, sh2, sc2, g2 = mod
        B, T, _ = x.shape
        q, k, v = self.qkv(self.norm1(x) * (1 + sc1) + sh1).view(B, T, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v, attn_mask=attn_mask)  # (B, H, T, hd)
        x = x + g1 * self.proj(a.transpose(1, 2).flatten(2))
        return x + g2 * self.mlp(self.norm2(x) * (1 + sc2) + sh2)


# ----------------------------------------------------------------------------- model


class Teacher(nn.Module):
    """F_theta of EDM; :meth:`denoise` wraps it into the preconditioned D(x; sigma, cond)."""

    def __init__(self, cfg: TeacherConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, R, K = cfg.d_model, len(cfg.roles), cfg.n_keys
        self.cells = R * 2 * K
        # Pitch-class folding: key k of the keyboard (lowest MIDI pitch 21) -> (21 + k) % 12.
        fold = torch.zeros(K, 12)
        fold[torch.arange(K), (21 + torch.arange(K)) % 12] = 1.0
        self.register_buffer("fold", fold, persistent=False)
        self.inp = nn.Linear(2 * self.cells + 2 * R * 2 * 12 + R, d)
        self.beat_emb = nn.Embedding(MAX_BEAT, d)
        self.style_emb = nn.Parameter(torch.randn(len(cfg.styles) + 1, d) * 0.02)
        self.noise_freqs = nn.Parameter(torch.randn(d // 2) * 4.0, requires_grad=False)
        self.noise_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        # The chord plan enters the tokens and every block's residual stream, zero-initialised
        # (the ControlNet way): a teacher fine-tuned from one without it starts out unchanged.
        if cfg.chords:
            self.chord_in = nn.Linear(CHORD_FEATURES, d)
            self.chord_layers = nn.ModuleList(nn.Linear(CHORD_FEATURES, d) for _ in range(cfg.n_layers))
            for layer in (self.chord_in, *self.chord_layers):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False)
        self.ada_out = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, self.cells)
        self.out_pc = nn.Linear(d, R * 2 * 12)  # one term per pitch class, shared by its octaves
        for layer in (self.ada_out, self.out, self.out_pc):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    # -- conditioning ------------------------------------------------------------------
    def cond_vector(self, c_noise: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """(B,) noise code and (B, S+1) style weights -> (B, d)."""
        angles = c_noise[:, None] * self.noise_freqs[None, :] * 2 * math.pi
        fourier = torch.cat([angles.cos(), angles.sin()], dim=-1)
        return self.noise_mlp(fourier) + style @ self.style_emb

    def embed(self, x_in: torch.Tensor, cond: Cond) -> torch.Tensor:
        """Tokens (B, T, d) from scaled noisy cells and the conditioning."""
        B, T = x_in.shape[:2]
        flags = cond.given.to(x_in.dtype)
        chroma = torch.cat([x_in @ self.fold, cond.context @ self.fold], dim=-1)  # (B, T, R, 2, 24)
        feats = torch.cat([x_in.reshape(B, T, -1), cond.context.reshape(B, T, -1), chroma.reshape(B, T, -1), flags], dim=-1)
        h = self.inp(feats) + self.beat_emb(cond.beat.clamp(0, MAX_BEAT - 1))
        if self.cfg.chords and cond.chord is not None:
            h = h + self.chord_in(cond.chord)
        return h

    def folded_embedding(self, given: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`embed` as one linear map, for tokens whose given flags never change (a
        streaming step's): ``given`` (T, R) bool -> ``(weight (d, 2 R 2 K), table (T x
        MAX_BEAT, d))`` such that ``embed`` of token t (chord term aside) is ``weight @
        [x_in, context] + table[t x MAX_BEAT + beat]``. The chroma features are linear in the
        cells, so they fold into the cells' weights; the bias and the flags' term, constant per
        token, fold into the beat embedding's rows."""
        d, R, K = self.cfg.d_model, len(self.cfg.roles), self.cfg.n_keys
        w = self.inp.weight
        cells = w[:, : 2 * self.cells].reshape(d, 2, R, 2, K)  # [x_in, context] x (R, 2, K)
        chroma = w[:, 2 * self.cells : 2 * self.cells + R * 2 * 24].reshape(d, R, 2, 2, 12)  # (R, 2, [x_in, context] x 12)
        folded = cells + (chroma @ self.fold.T).permute(0, 3, 1, 2, 4)  # (d, [x_in, context], R, 2, K)
        flags = given.to(w.dtype) @ w[:, -R:].T + self.inp.bias  # (T, d)
        table = (self.beat_emb.weight[None] + flags[:, None]).reshape(-1, d)
        return folded.reshape(d, -1).contiguous(), table.contiguous()

    def folded_head(self, role: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The output layers of one role as one linear map (:meth:`head` after its modulation):
        ``(weight (2 K, d), bias (2 K,))``, the per-pitch-class term folded into every key."""
        d, R, K = self.cfg.d_model, len(self.cfg.roles), self.cfg.n_keys
        per_class = self.out_pc.weight.reshape(R, 2, 12, d)[role]
        weight = self.out.weight.reshape(R, 2, K, d)[role] + self.fold @ per_class  # (2, K, d)
        bias = self.out.bias.reshape(R, 2, K)[role] + self.out_pc.bias.reshape(R, 2, 12)[role] @ self.fold.T
        return weight.reshape(2 * K, d).contiguous(), bias.reshape(2 * K).contiguous()

    def folded_chord_terms(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The chord plan's linear layers (the tokens', then each block's) as one:
        ``(weight ((L + 1) d, 24), bias)``, its output split every d; None without a plan."""
        if not self.cfg.chords:
            return None
        layers = (self.chord_in, *self.chord_layers)
        return torch.cat([layer.weight for layer in layers]).contiguous(), torch.cat([layer.bias for layer in layers])

    def chord_term(self, layer: int, cond: Cond) -> torch.Tensor | None:
        """What the chord plan adds to the residual stream before block ``layer`` (B, T, d)."""
        if not self.cfg.chords or cond.chord is None:
            return None
        return self.chord_layers[layer](cond.chord)

    def head(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, R, 2, K): a term per key plus a term per pitch class."""
        B, T, _ = h.shape
        R, K = len(self.cfg.roles), self.cfg.n_keys
        shift, scale = (m[:, None, :] for m in self.ada_out(F.silu(c)).chunk(2, dim=-1))
        h = self.norm_out(h) * (1 + scale) + shift
        per_class = self.out_pc(h).view(B, T, R, 2, 12) @ self.fold.T
        return self.out(h).view(B, T, R, 2, K) + per_class

    # -- forward -----------------------------------------------------------------------
    def forward(
        self,
        x_in: torch.Tensor,
        c_noise: torch.Tensor,
        cond: Cond,
        *,
        causal: bool = False,
        positions: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """F_theta: (B, T, R, 2, K) scaled noisy cells -> (B, T, R, 2, K).

        By default token t sits at position t and sees every visible frame (or, with
        ``causal``, the visible frames up to itself); ``positions`` (T,) and ``attn_mask``
        (B or 1, 1, T, T) override that for the student's interleaved sequences.
        """
        B, T = x_in.shape[:2]
        h = self.embed(x_in, cond)
        c = self.cond_vector(c_noise, cond.style)
        pos = torch.arange(T, device=x_in.device) if positions is None else positions
        cos, sin = rope_tables(pos, self.cfg.d_model // self.cfg.n_heads)
        if attn_mask is None:
            mask = cond.visible[:, None, None, :]  # (B, 1, 1, T) keys that exist
            if causal:
                mask = mask & torch.ones(T, T, dtype=torch.bool, device=x_in.device).tril()
            mask = mask | torch.eye(T, dtype=torch.bool, device=x_in.device)  # never an empty row
        else:
            mask = attn_mask
        for layer, block in enumerate(self.blocks):
            term = self.chord_term(layer, cond)
            if term is not None:
                h = h + term
            h = block(h, block.modulation(c), cos, sin, mask)
        return self.head(h, c)

    def denoise(
        self, x: torch.Tensor, sigma: torch.Tensor, cond: Cond, *, causal: bool = False, net: nn.Module | None = None
    ) -> torch.Tensor:
        """D(x; sigma, cond) with EDM preconditioning; given cells pinned to their values.

        ``net`` calls the network through a wrapper (DistributedDataParallel) when given.
        """
        sigma = sigma.reshape(-1).expand(x.shape[0]).to(x.dtype)
        c_skip, c_out, c_in, c_noise = (s.view(-1, 1, 1, 1, 1) for s in edm_scalings(sigma, self.cfg.noise.sigma_data))
        x_in = torch.where(cond.cells_given(), torch.zeros_like(x), c_in * x)  # given cells: context only
        out = c_skip * x + c_out * (net or self)(x_in, c_noise.view(-1), cond, causal=causal)
        return torch.where(cond.cells_given(), cond.context, out)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
