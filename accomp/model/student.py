"""The streaming student: the teacher's network run causally, one grid step at a time.

At step t the student sees two tokens: ``C[t-1]``, the finished previous frame (lead and
accompaniment both *given*, exactly as the teacher's causal mode sees its clean past),
and ``Q[t]``, the current frame with the lead given and the accompaniment as noise at
``sigma_max``. One forward pass over these two tokens is the step's single network
evaluation: ``C[t-1]`` enters the KV cache, ``Q[t]`` becomes the accompaniment frame.

Attention window (the same in the parallel pass used for training and in streaming):
``C[s]`` sees ``C[s-W+2 .. s]`` and ``Q[t]`` sees ``C[t-W+1 .. t-1]`` and itself, so both
see W frames at most, W = ``kv_window``. Look-ahead: none (:attr:`Student.delay`, read off
this mask, is 0; the latency view shows it).

Streaming contract: :meth:`Student.init_state` makes every buffer a stream needs, and a step
writes into them (no tensor is built for its positions, slots or rotary tables). The
rotary table (cos + i sin) is made once per device, for ``rope_rows`` positions from -1 on; the
state carries its position and the offset its rotary positions run at
(:attr:`StreamState.rope_shift`). Attention sees relative positions only, so when a stream
runs past the table (every ``rope_rows - 2`` steps, about half an hour of 16ths at 120 bpm)
the cached keys are turned back by the positions the offset moves on, once, and the table
serves again.

Weights: a copy of the teacher's network plus low-rank adapters (LoRA) on every linear
layer of the blocks; a preset stores the adapters (and the few tensors it retrains)
over a shared teacher, or a full set of weights.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from accomp.model.diffusion import student_scalings
from accomp.model.teacher import MAX_BEAT, Cond, Teacher, apply_rope, rope_tables
from accomp.music.chords import CHORD_FEATURES

LEAD_ROLE, ACCOMP_ROLE = 0, 1


class LoRALinear(nn.Module):
    """``base(x) + (alpha / r) * B(A(x))`` with the base frozen and B zero-initialised."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.base.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale

    def merged(self) -> nn.Linear:
        out = copy.deepcopy(self.base)
        with torch.no_grad():
            out.weight += self.scale * self.lora_b @ self.lora_a
        return out.requires_grad_(False)


def add_lora(net: Teacher, rank: int, alpha: float) -> None:
    """Wrap the linear layers of every block in low-rank adapters (in place)."""
    for block in net.blocks:
        block.qkv = LoRALinear(block.qkv, rank, alpha)
        block.proj = LoRALinear(block.proj, rank, alpha)
        block.mlp[0] = LoRALinear(block.mlp[0], rank, alpha)
        block.mlp[2] = LoRALinear(block.mlp[2], rank, alpha)


def merge_lora(net: Teacher) -> None:
    for block in net.blocks:
        for name in ("qkv", "proj"):
            if isinstance(getattr(block, name), LoRALinear):
                setattr(block, name, getattr(block, name).merged())
        for i in (0, 2):
            if isinstance(block.mlp[i], LoRALinear):
                block.mlp[i] = block.mlp[i].merged()


def quantize_blocks(net: Teacher) -> bool:
    """The blocks' linear layers as dynamically quantised int8 ones (weights per output
    channel), in place. False, and nothing changed, where this build of torch has no
    quantised CPU kernels."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    if torch.backends.quantized.engine in (None, "none"):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.ao.quantization: still torch's own CPU int8 path
        warnings.simplefilter("ignore", UserWarning)
        # The per-step layers; not ``ada`` (the style modulation, computed once per stream).
        layers = {name: per_channel_dynamic_qconfig for name in ("qkv", "proj", "mlp.0", "mlp.2")}
        for i, block in enumerate(net.blocks):
            net.blocks[i] = quantize_dynamic(block, layers, inplace=False)
    return True


class _StepModule(nn.Module):
    """A student's step tensor work as a module, for tracing."""

    def __init__(self, student: "Student") -> None:
        super().__init__()
        self.student = student

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.student._step_tensors(*tensors)


MASKED = -1e9  # what attention adds to a masked key's score (its weight underflows to exactly 0)


def norm_modulation(scale: torch.Tensor, shift: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A (B, 1, d) modulation ``norm(x) * (1 + scale) + shift`` as :func:`modulated_norm`
    takes it: ``(1 + scale, shift)``, as (d,) vectors for one stream."""
    if batch == 1:
        return (1 + scale).reshape(-1).contiguous(), shift.reshape(-1).clone()
    return 1 + scale, shift.clone()


def modulated_norm(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``layer_norm(x) * scale + shift``: one kernel where the modulation is one stream's
    (vectors, the layer norm's own affine part), three where it is per stream."""
    if scale.dim() == 1:
        return F.layer_norm(x, x.shape[-1:], scale, shift)
    return F.layer_norm(x, x.shape[-1:]) * scale + shift


DENSITY_LIFT_LIMIT = 0.5  # the most the density follower raises an onset threshold (cells lie in [-1, 1])


@dataclass
class StreamState:
    """Everything a stream (or B streams side by side) carries between steps, preallocated."""

    k: torch.Tensor  # (L, B, H, W, hd): slots 0..W-2 ring of past C tokens, slot W-1 the query
    v: torch.Tensor  # (L, B, H, W, hd)
    valid: torch.Tensor  # (W,) bool: ring slots holding a frame
    bias: torch.Tensor  # (1, 1, 2, W) attention mask of this step's two tokens, as added: 0 seen, MASKED not
    prev: torch.Tensor  # (B, R, 2, K) cells in [-1, 1] of the previous frame (lead, accomp)
    cells: torch.Tensor  # (B, 2, 2, R, 2, K) the step's two tokens: their noisy cells, then their given cells
    x0: torch.Tensor  # (B, 2, K) the last step's denoised accompaniment cells, before deciding
    beat: torch.Tensor  # (B, 2) long: rows of the folded beat table (token x MAX_BEAT + beat in bar)
    chord: torch.Tensor  # (B, 2, 24) chord plan features of frames t-1 and t
    thresholds: torch.Tensor  # (B, 2, K) note-decision thresholds per key (onset, sustain), guard included
    played: torch.Tensor  # (B,) steps since the band's first planned chord (the lead's entry)
    rate: torch.Tensor  # (B,) the band's recent onsets per step (density follower)
    lift: torch.Tensor  # (B,) what the density follower adds to the onset thresholds
    cond: torch.Tensor  # (B, d) noise + style conditioning at sigma_max
    mods: list  # per block: its modulation as the step applies it (:meth:`Student.modulation`)
    head_mod: tuple  # the output layer's (1 + scale, shift), the same way
    folded: tuple  # the network's fixed parts as the step uses them (:meth:`Student.folded`); never written
    style: torch.Tensor  # (B, S + 1) mix weights
    rot: torch.Tensor  # (2, 1, hd/2) complex: the rotary table's rows of this step's two positions
    slots: torch.Tensor  # (2,) long: the cache slots of this step's two tokens
    bar_steps: int
    position: int = 0  # the grid step the next step decides
    rope_shift: int = 0  # rotary positions run this far behind ``position`` (see the module docstring)
    steady: bool = False  # every ring slot holds a frame and ``bias`` is set for a step at t > 0

    @property
    def batch(self) -> int:
        return self.prev.shape[0]

    def copy(self) -> "StreamState":
        """An independent state: continuing from it is bit-identical to continuing from this."""
        fields = {}
        for name, value in self.__dict__.items():
            if isinstance(value, torch.Tensor):
                fields[name] = value.clone()
            elif name == "mods":
                fields[name] = [tuple(t.clone() for t in mod) for mod in value]
            elif name == "head_mod":
                fields[name] = tuple(t.clone() for t in value)
            else:
                fields[name] = value
        return StreamState(**fields)


class Student(nn.Module):
    """A causal, streaming consistency model initialised from a teacher."""

    # Decision thresholds on the denoised cells (in [-1, 1]); a preset may calibrate them
    # so that its note density matches the teacher's (see accomp.distill.calibrate).
    onset_threshold = 0.0
    sustain_threshold = 0.0
    # The density follower. The student hears its own past frames, so its density feeds on
    # itself: it grows busier as a song goes on (on the POP909 validation songs, with thresholds
    # fitted to four-bar openings: 1.4x a pianist's onsets in the melody's first two beats, 1.9x
    # to 2.0x from its third bar on: benchmarks/density_ramp.py), so thresholds that fit a
    # song's first bars misfit the rest.
    # With ``density_target`` (onsets per step; 0: off) each stream keeps a running mean of its
    # onsets over about ``density_memory`` steps from the band's first planned chord on and,
    # once that mean has heard that many steps, moves its lift by ``density_gain`` times the
    # excess every step (held within 0 and ``DENSITY_LIFT_LIMIT``: it only ever thins; a lift
    # below 0 re-struck the notes of a chart's held chords, off-chord ones too). The lift is added to the onset
    # thresholds of the keys still sounding from the step before and of the keys off the planned
    # chord (those the guard raised): it thins the re-strikes, the busy rhythm, and the colour
    # notes, and leaves a chord's new tones alone (lifting every key thinned the chords themselves:
    # under the seven tunes of benchmarks/tunes.py the pop part lost its thirds, 0.876 -> 0.802
    # of the on-beat melody notes in its chord, against 0.868 so).
    density_target = 0.0
    density_gain = 0.1
    density_memory = 16

    def __init__(self, net: Teacher, *, kv_window: int | None = None, lora_rank: int = 0, lora_alpha: float = 16.0) -> None:
        super().__init__()
        self.net = net
        self.lora_rank, self.lora_alpha = lora_rank, lora_alpha
        self.cfg = net.cfg
        self.kv_window = kv_window or net.cfg.window
        noise = net.cfg.noise
        self.sigma_max, self.sigma_min, self.sigma_data = noise.sigma_max, noise.sigma_min, noise.sigma_data
        c_skip, c_out, c_in, c_noise = student_scalings(torch.tensor(self.sigma_max, dtype=torch.float64), self.sigma_data, self.sigma_min)
        # The streaming step runs at sigma_max only: its scalings, once, as numbers.
        self.c_skip_max, self.c_out_max, self.c_in_max, self.c_noise_max = (float(c) for c in (c_skip, c_out, c_in, c_noise))
        self._scalars: dict = {}  # per batch size and device: zero chord features
        self._rope: dict = {}  # per device: the rotary table (complex), rows for positions -1, 0, 1, ...
        self.quantized = False  # the blocks' linear layers are int8 (freeze_for_streaming)

    @classmethod
    def from_teacher(cls, teacher: Teacher, *, lora_rank: int = 0, lora_alpha: float = 16.0, kv_window: int | None = None) -> "Student":
        net = copy.deepcopy(teacher)
        if lora_rank > 0:
            net.requires_grad_(False)
            add_lora(net, lora_rank, lora_alpha)
        return cls(net, kv_window=kv_window, lora_rank=lora_rank, lora_alpha=lora_alpha)

    @property
    def delay(self) -> int:
        """Frames of look-ahead, read off the attention mask the student is trained and
        streamed with: how far past its own frame the query Q[t] may see (0: none; a student
        that needed the lead of frames to come would answer that many steps late)."""
        T = self.kv_window + 2
        mask = self.sequence_mask(T, torch.device("cpu"))[0, 0, T:]  # the queries' rows
        frame = torch.arange(T)
        ahead = torch.cat([frame, frame])[None, :] - frame[:, None]  # key frame - query frame
        return max(0, int(ahead[mask].max()))

    # -- the consistency function over a whole sequence (training, tests) ---------------
    def sequence_mask(self, T: int, device: torch.device) -> torch.Tensor:
        """(1, 1, 2T, 2T) mask over tokens [C_0..C_{T-1}, Q_0..Q_{T-1}]."""
        W = self.kv_window
        s = torch.arange(T, device=device)
        rel = s[:, None] - s[None, :]  # query frame - key frame
        c_sees_c = (rel >= 0) & (rel <= W - 2)
        q_sees_c = (rel >= 1) & (rel <= W - 1)
        eye = torch.eye(T, dtype=torch.bool, device=device)
        top = torch.cat([c_sees_c, torch.zeros_like(eye)], dim=1)
        bottom = torch.cat([q_sees_c, eye], dim=1)
        return torch.cat([top, bottom], dim=0)[None, None]

    def consistency(
        self,
        x: torch.Tensor,  # (B, T, 2, K) noisy accompaniment at sigma
        sigma: torch.Tensor,  # (B,) or scalar
        lead: torch.Tensor,  # (B, T, 2, K) in [-1, 1]
        past: torch.Tensor,  # (B, T, 2, K) in [-1, 1]: the accompaniment frames fed back as C tokens
        beat: torch.Tensor,  # (B, T) long
        style: torch.Tensor,  # (B, S + 1)
        chord: torch.Tensor | None = None,  # (B, T, 24) chord plan features
    ) -> torch.Tensor:
        """f(x, sigma) for every frame at once, with the streaming attention window."""
        B, T = x.shape[:2]
        dev = x.device
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=dev).reshape(-1).expand(B)
        c_skip, c_out, c_in, c_noise = student_scalings(sigma, self.sigma_data, self.sigma_min)
        zeros = torch.zeros_like(x)
        clean = torch.stack([lead, past], dim=2)  # (B, T, R, 2, K)
        query_ctx = torch.stack([lead, zeros], dim=2)
        query_in = torch.stack([zeros, c_in.view(-1, 1, 1, 1) * x], dim=2)
        given_c = torch.ones(B, T, 2, dtype=torch.bool, device=dev)
        given_q = given_c.clone()
        given_q[..., ACCOMP_ROLE] = False
        cond = Cond(
            context=torch.cat([clean, query_ctx], dim=1),
            given=torch.cat([given_c, given_q], dim=1),
            visible=torch.ones(B, 2 * T, dtype=torch.bool, device=dev),
            beat=torch.cat([beat, beat], dim=1),
            style=style,
            chord=None if chord is None else torch.cat([chord, chord], dim=1),
        )
        x_in = torch.cat([torch.zeros_like(clean), query_in], dim=1)
        pos = torch.arange(T, device=dev)
        out = self.net(x_in, c_noise, cond, positions=torch.cat([pos, pos]), attn_mask=self.sequence_mask(T, dev))
        f = out[:, T:, ACCOMP_ROLE]
        return c_skip.view(-1, 1, 1, 1) * x + c_out.view(-1, 1, 1, 1) * f

    # -- streaming ---------------------------------------------------------------------
    rope_rows = 1 << 14  # rotary table rows per device (positions -1 .. rope_rows - 2)

    def rope(self, device: torch.device) -> torch.Tensor:
        """The rotary table ``(rope_rows, 1, hd/2)`` on ``device`` as unit complex numbers
        (cos + i sin: a pair of a head's channels turns by one multiplication), made on first use."""
        table = self._rope.get(device)
        if table is None:
            positions = torch.arange(-1, self.rope_rows - 1, dtype=torch.float64, device=device)
            cos, sin = rope_tables(positions, self.cfg.d_model // self.cfg.n_heads)
            table = self._rope[device] = torch.complex(cos, sin)[:, None, :]
        return table

    @staticmethod
    def modulation(mod: tuple, batch: int) -> tuple:
        """A block's six (B, 1, d) modulation tensors (shift, scale, gate for attention, then
        for the MLP) as a step applies them: ``(1 + scale1, shift1, gate1, 1 + scale2, shift2,
        gate2)`` (:func:`norm_modulation`)."""
        sh1, sc1, g1, sh2, sc2, g2 = mod
        return *norm_modulation(sc1, sh1, batch), g1.clone(), *norm_modulation(sc2, sh2, batch), g2.clone()

    def folded(self, given: torch.Tensor) -> tuple:
        """The network's fixed parts as one streaming step uses them, from its weights now:
        the embedding as one linear map over a token's cells and a table of its beat rows
        (:meth:`Teacher.folded_embedding`), the chord plan's layers as one
        (:meth:`Teacher.folded_chord_terms`; empty without a plan), and the accompaniment's
        output layers as one with ``c_out`` folded in (:meth:`Teacher.folded_head`)."""
        net = self.net
        embed, table = net.folded_embedding(given)
        chords = net.folded_chord_terms() or ()
        head_w, head_b = net.folded_head(ACCOMP_ROLE)
        return embed, table, *chords, (head_w * self.c_out_max).contiguous(), (head_b * self.c_out_max).contiguous()

    @torch.inference_mode()
    def init_state(self, style: np.ndarray, bar_steps: int = 16, batch: int = 1) -> StreamState:
        """A fresh stream for a style mix (weights over the styles plus "no style").

        ``style`` is (S + 1,) for one mix or (batch, S + 1) for one mix per stream.
        """
        net, cfg = self.net, self.cfg
        dev = next(net.parameters()).device
        S1 = len(cfg.styles) + 1
        style_t = torch.as_tensor(np.asarray(style, dtype=np.float32), device=dev)
        if style_t.shape[-1:] != (S1,) or style_t.dim() > 2:
            raise ValueError(f"style weights must have {S1} entries, got {tuple(style_t.shape)}")
        style_t = style_t.reshape(-1, S1).expand(batch, S1).clone()
        B = batch
        c = net.cond_vector(torch.full((B,), self.c_noise_max, device=dev), style_t)
        L, H, W = cfg.n_layers, cfg.n_heads, self.kv_window
        hd, R, K = cfg.d_model // cfg.n_heads, len(cfg.roles), cfg.n_keys
        given = torch.ones(2, R, dtype=torch.bool, device=dev)  # C[t-1]: both tracks given; Q[t]: the lead
        given[1, ACCOMP_ROLE] = False
        shift, scale = (m[:, None, :] for m in net.ada_out(F.silu(c)).chunk(2, dim=-1))
        self.rope(dev)
        state = StreamState(
            k=torch.zeros(L, B, H, W, hd, device=dev),
            v=torch.zeros(L, B, H, W, hd, device=dev),
            valid=torch.zeros(W, dtype=torch.bool, device=dev),
            bias=torch.full((1, 1, 2, W), MASKED, device=dev),
            prev=-torch.ones(B, R, 2, K, device=dev),
            cells=torch.zeros(B, 2, 2, R, 2, K, device=dev),
            x0=torch.zeros(B, 2, K, device=dev),
            beat=torch.zeros(B, 2, dtype=torch.long, device=dev),
            chord=torch.zeros(B, 2, CHORD_FEATURES, device=dev),
            thresholds=torch.zeros(B, 2, K, device=dev),
            played=torch.zeros(B, device=dev),
            rate=torch.full((B,), float(self.density_target), device=dev),  # the running mean starts on target
            lift=torch.zeros(B, device=dev),
            cond=c,
            mods=[self.modulation(block.modulation(c), B) for block in net.blocks],
            head_mod=norm_modulation(scale, shift, B),
            folded=self.folded(given),
            style=style_t,
            rot=torch.zeros(2, 1, hd // 2, dtype=torch.complex64, device=dev),
            slots=torch.zeros(2, dtype=torch.long, device=dev),
            bar_steps=max(1, int(bar_steps)),
        )
        self._trace(state)
        return state

    # -- one step ----------------------------------------------------------------------
    def _step_tensors(self, lead, noise, chord_now, guard, settings, rot, slots, thresholds, played, rate, lift, cells,
                      prev, x0, beat, chord, mods, head_mod, folded, k, v, bias):  # fmt: skip
        """The tensor work of a step (tensors in, tensors updated in place, so that it can be
        traced): the decision thresholds (the ``settings`` of :meth:`_settings`, the ``guard``'s
        offsets and, with a density target, the follower's lift), the two tokens, the net with
        its keys and values written into cache ``slots`` (C[t-1]'s ring slot, then the query
        slot) and rotated by the rows ``rot`` of their positions, the denoised cells, the
        decided frame, and the follower's count of its onsets. In the traced step all of it is
        one call: done op by op from Python, the bookkeeping alone cost 0.3 ms a step.

        The network is :meth:`Teacher.forward` on two tokens, with its fixed parts folded
        (:meth:`folded`): a step of a few dozen small kernels costs more in the calls than in
        their arithmetic, so every call saved counts (folded, a step took 0.72 ms p50 on a CPU where it took 1.28)."""
        net, cfg = self.net, self.cfg
        R, K, d, H = len(cfg.roles), cfg.n_keys, cfg.d_model, cfg.n_heads
        B, last = cells.shape[0], len(net.blocks) - 1
        thresholds[:, 0].fill_(settings[0])
        thresholds[:, 1].fill_(settings[1])
        thresholds.add_(guard.view(-1, 1, K))
        if self.density_target:
            self._lift_onsets(chord_now, settings, thresholds, played, lift, prev)
        # The two tokens: C[t-1] (the previous frame, given) and Q[t] (lead given, accomp noisy).
        tokens, context = cells[:, :, 0], cells[:, :, 1]
        context[:, 0].copy_(prev)
        context[:, 1, LEAD_ROLE].copy_(lead.view(B, 2, K)).mul_(2).sub_(1)
        tokens[:, 1, ACCOMP_ROLE].copy_(noise.view(B, 2, K)).mul_(self.sigma_max * self.c_in_max)
        embed, table, head_w, head_b = folded[0], folded[1], folded[-2], folded[-1]
        h = F.linear(cells.view(B, 2, -1), embed) + F.embedding(beat, table)  # (B, 2, d)
        terms = None
        if cfg.chords:
            chord[:, 0].copy_(chord[:, 1])  # C[t-1] keeps the chord its frame was decided under
            chord[:, 1].copy_(chord_now.view(B, -1))
            terms = F.linear(chord, folded[2], folded[3]).split(d, dim=-1)  # the tokens', then each block's
            h = h + terms[0]
        for layer, block in enumerate(net.blocks):
            w1, b1, g1, w2, b2, g2 = mods[layer]
            if terms is not None:
                h = h + terms[layer + 1]
            qkv = block.qkv(modulated_norm(h, w1, b1))  # (B, 2, 3d): q, k, v, each H heads
            turned = torch.view_as_complex(qkv[..., : 2 * d].unflatten(-1, (2 * H, -1, 2))) * rot
            qk = torch.view_as_real(turned).flatten(-2)  # (B, 2, 2H, hd): q and k rotated
            k[layer].index_copy_(2, slots, qk[:, :, H:].transpose(1, 2))
            v[layer].index_copy_(2, slots, qkv[..., 2 * d :].unflatten(-1, (H, -1)).transpose(1, 2))
            q, mask = qk[:, :, :H].transpose(1, 2), bias  # (B, H, 2, hd)
            if layer == last:  # only Q[t] goes on: C[t-1]'s keys and values are all a step keeps of it
                q, h, mask = q[:, :, 1:], h[:, 1:], bias[:, :, 1:]
            a = F.scaled_dot_product_attention(q, k[layer], v[layer], attn_mask=mask)
            h = torch.addcmul(h, g1, block.proj(a.transpose(1, 2).flatten(2)))
            h = torch.addcmul(h, g2, block.mlp(modulated_norm(h, w2, b2)))
        f = F.linear(modulated_norm(h, *head_mod), head_w, head_b).view(B, 2, K)  # c_out F, Q[t]'s accompaniment
        # x0 = c_skip * x + c_out * F, with x = tokens / c_in
        torch.add(f, tokens[:, 1, ACCOMP_ROLE], alpha=self.c_skip_max / self.c_in_max, out=x0)
        # Decide the frame and remember it (as cells in [-1, 1]) for the next step.
        decided = x0 > thresholds  # per key: onset, sustain (the guard raises the bar off the chord)
        decided[:, 1] |= decided[:, 0]  # a struck note sounds
        frame = decided.to(torch.uint8)  # (B, 2, K)
        prev[:, LEAD_ROLE].copy_(context[:, 1, LEAD_ROLE])
        prev[:, ACCOMP_ROLE].copy_(frame).mul_(2).sub_(1)
        if self.density_target:
            self._count_onsets(frame, settings, played, rate, lift)
        return frame

    def _rebase(self, state: StreamState) -> int:
        """The stream ran past the rotary table (or its position was moved off it): rotary
        positions restart at 0 for C[t-1], and every cached key turns back by as many positions
        (attention sees relative positions only). Returns the table row of position t - 1."""
        t = state.position
        back = t - 1 - state.rope_shift  # the rotary position C[t-1] had
        turn = rope_tables(torch.tensor([-back], dtype=torch.float64, device=state.k.device), self.cfg.d_model // self.cfg.n_heads)
        state.k.copy_(apply_rope(state.k, *turn))
        state.rope_shift = t - 1
        return 1

    def _zeros(self, state: StreamState, width: int) -> torch.Tensor:
        """Zeros (B, width) for a step without a plan or a guard (one tensor per shape and
        device, never written)."""
        key = ("zeros", state.batch, width, state.chord.device)
        zeros = self._scalars.get(key)
        if zeros is None:
            zeros = self._scalars[key] = torch.zeros(state.batch, width, device=state.chord.device)
        return zeros

    def _settings(self, device: torch.device) -> torch.Tensor:
        """The decision settings as a step reads them: (onset threshold, sustain threshold,
        density target, gain, memory), float32 (the precision they were applied in as numbers).
        One tensor per set of values, never written: calibration moves the thresholds between
        runs, and a traced step would keep numbers it was traced with."""
        values = (float(self.onset_threshold), float(self.sustain_threshold), float(self.density_target),
                  float(self.density_gain), float(max(1, self.density_memory)))  # fmt: skip
        key = ("settings", values, device)
        settings = self._scalars.get(key)
        if settings is None:
            if len(self._scalars) > 64:  # a calibration's search leaves old values behind
                self._scalars = {k: t for k, t in self._scalars.items() if k[0] != "settings"}
            settings = self._scalars[key] = torch.tensor(values, dtype=torch.float32, device=device)
        return settings

    def freeze_for_streaming(self, *, quantize: bool | None = None) -> "Student":
        """Trace a step's tensor work (per batch size, at :meth:`init_state`) with the current
        weights baked in: about 40% less time per step on a CPU. Only for a student whose
        weights no longer change (a loaded preset); training keeps the eager path.

        ``quantize`` (default: on a CPU) stores the blocks' linear layers as int8, per output
        channel, with activations quantised on the fly: a step reads a quarter of the bytes,
        which halves its time again and keeps it steady when other work crowds the memory
        bus. The embedding and output layers stay float32."""
        self.requires_grad_(False)
        if quantize is None:
            quantize = next(self.parameters()).device.type == "cpu"
        if quantize and not self.quantized:
            self.quantized = quantize_blocks(self.net)
        self._frozen = {}
        return self

    def _trace_key(self, state: StreamState) -> tuple:
        """What a traced step is specific to: the batch size, the device, and whether the
        density follower runs (its ops are in the graph or not)."""
        return state.batch, state.k.device.type, bool(self.density_target)

    def _trace(self, state: StreamState):
        """The traced step for ``state`` (traced now if there is none yet; None if the
        student is not frozen)."""
        if getattr(self, "_frozen", None) is None:
            return None
        key = self._trace_key(state)
        if key in self._frozen:
            return self._frozen[key]
        probe = state.copy()  # tracing and warming up run a step: keep the real state untouched
        dev, B, K = state.k.device, state.batch, self.cfg.n_keys
        probe.rot.copy_(self.rope(dev)[:2])
        probe.slots.copy_(torch.tensor([self.kv_window - 2, self.kv_window - 1]))
        args = (torch.zeros(B, 2, K, device=dev), torch.zeros(B, 2, K, device=dev), torch.zeros(B, CHORD_FEATURES, device=dev),
                torch.zeros(B, K, device=dev), self._settings(dev), *self._state_tensors(probe))  # fmt: skip
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes are fixed per batch size
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript: still the lightest way here
            # A module, not a function, is traced: quantised layers' packed weights must belong to it.
            traced = torch.jit.trace(_StepModule(self), args, check_trace=False)
            for _ in range(3):  # TorchScript profiles and optimises on its first calls: not in play
                traced(*args)
        self._frozen[key] = traced
        return traced

    @staticmethod
    def _lift_onsets(chord_now, settings, thresholds, played, lift, prev) -> None:
        """The density follower before a step: count the steps since each stream's band began
        and add its lift to the onset thresholds of the keys it thins (those still sounding
        from the step before, and those off the planned chord: the guard raised them)."""
        played.add_((chord_now.any(dim=-1) | (played > 0)).to(played.dtype))
        thinned = (prev[:, ACCOMP_ROLE, 1] > 0) | (thresholds[:, 0] > settings[0])
        thresholds[:, 0].addcmul_(lift.view(-1, 1), thinned.to(thresholds.dtype))

    @staticmethod
    def _count_onsets(frame, settings, played, rate, lift) -> None:
        """The density follower after a step: fold its onsets into the running mean and, once
        that mean has heard ``density_memory`` steps of the band, move the lift by
        ``density_gain`` times the excess over the target."""
        target, gain, memory = settings[2], settings[3], settings[4]
        onsets = frame[:, 0].sum(dim=-1).to(rate.dtype)
        begun = (played > 0).to(rate.dtype)
        rate.add_((onsets - rate) * begun / memory)
        heard = (played > memory).to(rate.dtype)
        lift.add_((rate - target) * heard * gain)
        lift.clamp_(0.0, DENSITY_LIFT_LIMIT)  # it only thins: a sparse part is the plan's or the player's, not an excess

    @staticmethod
    def _state_tensors(state: StreamState) -> tuple:
        return (state.rot, state.slots, state.thresholds, state.played, state.rate, state.lift, state.cells, state.prev,
                state.x0, state.beat, state.chord, state.mods, state.head_mod, state.folded, state.k, state.v, state.bias)  # fmt: skip

    @torch.inference_mode()
    def step(
        self, state: StreamState, lead_frame: torch.Tensor, noise: torch.Tensor, chord: torch.Tensor | None = None,
        guard: torch.Tensor | None = None,
    ) -> tuple[StreamState, torch.Tensor]:
        """One grid step: the lead's {0, 1} frame and standard-normal noise, each (2, K) (or
        (B, 2, K) for B streams) -> the accompaniment frame, uint8 {0, 1} of the same shape,
        for the same step. The state is updated in place.

        ``chord``: the step's chord plan features (24,) or (B, 24) (default: none);
        ``guard``: (K,) or (B, K) amounts added to the decision thresholds per key (default: none)."""
        W, t, dev = self.kv_window, state.position, state.k.device
        state.beat[:, 0] = min((t - 1) % state.bar_steps, MAX_BEAT - 1)  # C[t-1]'s row of the beat table
        state.beat[:, 1] = MAX_BEAT + min(t % state.bar_steps, MAX_BEAT - 1)  # Q[t]'s
        # Which cache slots each token sees; C[t-1] goes into ring slot (t-1) mod (W-1). At
        # t = 0, C[-1] (which does not exist) is written into slot W-2, masked until step W-1
        # overwrites it, and sees the query slot only.
        # Once every ring slot holds a frame, the mask (``bias``) stays as it is (until a step at t = 0).
        slot = (t - 1) % (W - 1)
        if not state.steady or t == 0:
            if t > 0:
                state.valid[slot] = True
            seen = state.bias[0, 0]  # written as 1 (seen) or 0, then turned into what attention adds
            seen[:, : W - 1] = state.valid[: W - 1]
            seen[0, W - 1] = float(t == 0)
            seen[1, W - 1] = 1.0
            seen.sub_(1).mul_(-MASKED)
            state.slots[1] = W - 1
            state.steady = t > 0 and bool(state.valid[: W - 1].all())
        state.slots[0] = slot
        row = t - state.rope_shift  # the table row of position t - 1 (row 0: position -1)
        if not 0 <= row <= self.rope_rows - 2:
            row = self._rebase(state)
        state.rot.copy_(self.rope(dev)[row : row + 2])
        chord_now = self._zeros(state, CHORD_FEATURES) if chord is None else chord
        guard_now = self._zeros(state, self.cfg.n_keys) if guard is None else guard
        run = self._step_tensors
        if getattr(self, "_frozen", None) is not None:
            run = self._frozen.get(self._trace_key(state)) or self._trace(state)
        frame = run(lead_frame.to(state.prev.dtype), noise, chord_now, guard_now, self._settings(dev),
                    *self._state_tensors(state))  # fmt: skip
        state.position = t + 1
        return state, frame.view(lead_frame.shape)
