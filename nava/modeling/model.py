"""NavaModel: the Align-then-Fuse MMDiT (official name `WanAVModel`).

The file reads top to bottom as the forward pass:
video patchify + audio embed -> per-token time embedding -> text (+ speaker) context -> RoPE tables ->
alignment blocks (double-stream) -> fusion blocks (single-stream) -> [final alignment blocks] -> heads.

Calling convention (batch-first; B >= 1 so a sampler can batch its CFG passes into one forward)::

    out = model(
        video,                    # [B, 48, T, H, W] float, or None for audio-only (T2A / Seed-TTS)
        audio,                    # [B, La, 128] float, token-major, or None for video-only
        timestep,                 # [B] (or [1], broadcast) integer-valued timesteps in [0, 1000]
        context,                  # [B, n, text_dim] or a list of B tensors [n_b, text_dim], n_b <= text_len;
                                  #   unpadded text features, zero-padded to text_len here
        spk_embed=None,           # None, or per row: list of B (Tensor [n_spk, 192] | None);
                                  #   a [n_spk, 192] tensor is accepted when B == 1
        spk_pos=None,             # None, or per row: list of B (LongTensor [n_spk] or [1, n_spk] | None):
                                  #   context rows overwritten by the speaker tokens; no positions -> no injection
        first_frame_clean=False,  # I2V, bool or list of B bools: latent frame 0 tokens get timestep 0
        modality_mask=False,      # 3D-CFG 'M' pass, bool or list of B bools: video attends only to video,
                                  #   audio only to audio, in every block
    )
    out.video  # [B, 48, T, H, W] predicted flow velocity (noise - x0), same H, W as the input, or None
    out.audio  # [B, La, 128] predicted flow velocity, or None

Odd H or W is zero-padded at the bottom/right to the patch multiple (padded tokens take part in attention,
as in the official `predict_eps`) and the output is cropped back. Rows of one batch share T, H, W and La.
The official pipeline passes one context per pass: the video-branch context, or the audio-branch one when
speaker embeddings are given; callers pass that one context per row. Outputs come in the compute dtype
(float32 on CPU, bfloat16 under CUDA autocast); samplers should upcast.

`state_dict()` keys are the release's without the `backbone.` prefix; nava.checkpoint adds/strips it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nava_eval.nava.config import NavaConfig
from nava_eval.nava.modeling.blocks import AlignmentBlock, FusionBlock
from nava_eval.nava.modeling.embeddings import (
    SpeakerTokenEmbedding,
    audio_patch_embedding,
    mlp_embedding,
    pad_rows,
    padded_size,
    sinusoidal_embedding,
)
from nava_eval.nava.modeling.heads import OutputHead, unpatchify_video
from nava_eval.nava.modeling.rope import NavaRope, RopeFreqs

logger = logging.getLogger(__name__)

RowTensors = Sequence[torch.Tensor | None] | torch.Tensor | None
RowFlags = bool | Sequence[bool]


@dataclass(frozen=True)
class NavaOutput:
    video: torch.Tensor | None  # [B, 48, T, H, W]
    audio: torch.Tensor | None  # [B, La, 128]


class NavaModel(nn.Module):
    def __init__(self, config: NavaConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.dim
        # Registration order follows the release so state_dict() lists keys in the file's order.
        self.patch_embedding = nn.Conv3d(
            config.vid_in_dim, dim, kernel_size=config.patch_size, stride=config.patch_size
        )
        self.patch_embedding_audio = audio_patch_embedding(config.audio_in_dim, dim, config.audio_mlp_hidden)
        self.speaker_embedding = SpeakerTokenEmbedding(dim) if config.add_spk_emb else None
        self.text_embedding = mlp_embedding(config.text_dim, dim, nn.GELU(approximate="tanh"))
        self.time_embedding = mlp_embedding(config.freq_dim, dim, nn.SiLU())
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.double_blocks = nn.ModuleList(AlignmentBlock(config) for _ in range(config.num_double_layers))
        self.single_blocks = nn.ModuleList(FusionBlock(config) for _ in range(config.num_single_layers))
        self.double_final_blocks = nn.ModuleList(
            AlignmentBlock(config) for _ in range(config.num_double_final_layers)
        )
        self.head = OutputHead(dim, config.video_patch_dim, config.eps)
        self.head_audio = OutputHead(dim, config.audio_out_dim, config.eps)
        self.rope = NavaRope(config.head_dim, config.temporal_rope_scaling_factor)
        # nava.parallel.SequenceParallel when Ulysses SP is enabled (enable_sequence_parallel), else None.
        self.sequence_parallel = None
        self.set_attention_backend(config.attention_backend)

    @torch.no_grad()
    def init_weights(self) -> None:
        """The official initialisation (for random-weight presets such as the smoke run).

        Xavier-uniform for every Linear and for the flattened video patch kernel, N(0, 0.02) for the
        text- and time-embedding Linears, zero Linear biases and a zero video head; the audio Conv1d
        layers and the modulation tensors keep their construction-time draws. With the global RNG seeded
        before construction this reproduces the official module's random draws exactly.
        """
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.xavier_uniform_(self.patch_embedding.weight.flatten(1))
        for embedding in (self.text_embedding, self.time_embedding):
            for module in embedding.modules():
                if isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, std=0.02)
        nn.init.zeros_(self.head.head.weight)

    def set_attention_backend(self, backend: str) -> None:
        """ "auto" | "sdpa" | "flash" | "math" for every attention layer."""
        for module in self.modules():
            if hasattr(module, "attn_fn"):
                module.backend = backend

    def forward(
        self,
        video: torch.Tensor | None,
        audio: torch.Tensor | None,
        timestep: torch.Tensor,
        context: torch.Tensor | Sequence[torch.Tensor],
        *,
        spk_embed: RowTensors = None,
        spk_pos: RowTensors = None,
        first_frame_clean: RowFlags = False,
        modality_mask: RowFlags = False,
    ) -> NavaOutput:
        cfg = self.config
        if video is None and audio is None:
            raise ValueError("NavaModel needs a video latent, an audio latent or both")
        batch = (video if video is not None else audio).shape[0]
        device = self.patch_embedding.weight.device
        timestep = _batch_timesteps(timestep, batch, device)
        mask = _row_flags(modality_mask, batch, "modality_mask").to(device)
        clean_first = _row_flags(first_frame_clean, batch, "first_frame_clean").to(device)

        # 1) video patchify: [B, 48, T, H, W] -> zero-pad H, W -> Conv3d -> [B, Lv, D], grid (f, h, w)
        x_video = e_video = e0_video = None
        grid = (0, 0, 0)
        if video is not None:
            _check_shape(video, 5, 1, cfg.vid_in_dim, "video latent [B, C, T, H, W]", batch)
            _, _, frames, height, width = video.shape
            pt, ph, pw = cfg.patch_size
            pad_h, pad_w = padded_size(height, ph) - height, padded_size(width, pw) - width
            if pad_h or pad_w:
                video = nn.functional.pad(video, (0, pad_w, 0, pad_h))
            x_video = self.patch_embedding(video.to(self.patch_embedding.weight.dtype))
            grid = tuple(x_video.shape[2:])  # (f, h, w)
            x_video = x_video.flatten(2).transpose(1, 2)

            # per-token timesteps; I2V puts the first latent frame's tokens at t = 0
            t_video = timestep[:, None].expand(batch, x_video.shape[1]).clone()
            t_video[clean_first, : grid[1] * grid[2]] = 0
            e_video, e0_video = self._time_embedding(t_video)

        # 2) audio embed (no patchify): [B, La, 128] -> [B, La, D]
        x_audio = e_audio = e0_audio = None
        if audio is not None:
            _check_shape(audio, 3, 2, cfg.audio_in_dim, "audio latent [B, La, C]", batch)
            x_audio = self.patch_embedding_audio(audio.to(self.patch_embedding_audio[0].weight.dtype))
            e_audio, e0_audio = self._time_embedding(timestep[:, None].expand(batch, x_audio.shape[1]))

        # 3) text context [B, text_len, D], with speaker tokens written over their rows
        context_emb = self._context(context, batch, spk_embed, spk_pos)

        # 4) RoPE rotations from global positions: 3D grid for video, token index for audio
        rope = RopeFreqs(
            video=None
            if x_video is None
            else self.rope.video_freqs(NavaRope.video_positions(*grid, device=device)),
            audio=None
            if x_audio is None
            else self.rope.audio_freqs(torch.arange(x_audio.shape[1], device=device)),
        )
        full_video_len = 0 if x_video is None else x_video.shape[1]
        # Sequence parallel: from here on this rank holds only its chunk of each modality's tokens.
        sp = self.sequence_parallel
        if sp is not None:
            x_video, e_video, e0_video = sp.shard(x_video, e_video, e0_video)
            x_audio, e_audio, e0_audio = sp.shard(x_audio, e_audio, e0_audio)
        video_len = 0 if x_video is None else x_video.shape[1]

        # 5) alignment blocks: per-stream projections, joint attention
        for block in self.double_blocks:
            x_video, x_audio = block(x_video, x_audio, e0_video, e0_audio, context_emb, rope, mask)

        # 6) fusion blocks on [video | audio]
        if self.single_blocks:
            x = torch.cat([t for t in (x_video, x_audio) if t is not None], dim=1)
            e0 = torch.cat([t for t in (e0_video, e0_audio) if t is not None], dim=1)
            for block in self.single_blocks:
                x = block(x, e0, context_emb, rope, video_len, mask)
            x_video = x[:, :video_len] if x_video is not None else None
            x_audio = x[:, video_len:] if x_audio is not None else None

        # 7) optional trailing alignment blocks (none in the release)
        for block in self.double_final_blocks:
            x_video, x_audio = block(x_video, x_audio, e0_video, e0_audio, context_emb, rope, mask)

        # 8) heads; video tokens -> [B, 48, T, H, W], cropped back to the unpadded size
        out_video = out_audio = None
        if x_video is not None:
            patches = self.head(x_video, e_video)  # [B, Lv, pt*ph*pw*48]
            if sp is not None:
                patches = sp.gather(patches, full_video_len)
            out_video = unpatchify_video(patches, grid, cfg.patch_size, cfg.vid_out_dim)
            out_video = out_video[..., :height, :width]
        if x_audio is not None:
            out_audio = self.head_audio(x_audio, e_audio)  # [B, La, 128]
            if sp is not None:
                out_audio = sp.gather(out_audio, audio.shape[1])
        return NavaOutput(video=out_video, audio=out_audio)

    # ------------------------------------------------------------------------------------------------
    def _time_embedding(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """t [B, L] -> e [B, L, D] (heads) and e0 [B, L, 6, D] (blocks)."""
        emb = sinusoidal_embedding(t, self.config.freq_dim).to(self.time_embedding[0].weight.dtype)
        e = self.time_embedding(emb)
        e0 = self.time_projection(e).unflatten(-1, (6, self.config.dim))
        return e, e0

    def _context(
        self,
        context: torch.Tensor | Sequence[torch.Tensor],
        batch: int,
        spk_embed: RowTensors,
        spk_pos: RowTensors,
    ) -> torch.Tensor:
        cfg = self.config
        rows = (
            list(context.unbind(0)) if isinstance(context, torch.Tensor) and context.dim() == 3 else context
        )
        if isinstance(rows, torch.Tensor) or len(rows) != batch:
            raise ValueError(f"context must be [B, n, text_dim] or a list of {batch} tensors [n, text_dim]")
        weight = self.text_embedding[0].weight
        for row in rows:
            if row.dim() != 2 or row.shape[1] != cfg.text_dim:
                raise ValueError(f"context rows must be [n, {cfg.text_dim}], got {list(row.shape)}")
        padded = torch.stack([pad_rows(row.to(weight.device), cfg.text_len, "context") for row in rows])
        emb = self.text_embedding(padded.to(weight.dtype))  # [B, text_len, D]

        speakers = _per_row(spk_embed, batch, "spk_embed")
        positions = _per_row(spk_pos, batch, "spk_pos")
        if all(s is None or p is None for s, p in zip(speakers, positions, strict=True)):
            return emb
        if self.speaker_embedding is None:
            raise ValueError("speaker embeddings given but the config has add_spk_emb=False")
        emb = emb.clone()
        for b, (spk, pos) in enumerate(zip(speakers, positions, strict=True)):
            if spk is None or pos is None:  # the official M pass gives embeddings without positions
                continue
            pos = pos.reshape(-1).to(device=emb.device, dtype=torch.long)
            if spk.dim() != 2 or spk.shape[0] < pos.numel():
                raise ValueError(
                    f"row {b}: {pos.numel()} speaker positions need at least as many speaker vectors "
                    f"[n_spk, 192], got {list(spk.shape)}"
                )
            if spk.shape[0] > pos.numel():
                logger.warning(
                    "row %d: %d speaker vectors for %d positions; using the first ones",
                    b,
                    spk.shape[0],
                    pos.numel(),
                )
            if pos.numel() and (int(pos.min()) < 0 or int(pos.max()) >= cfg.text_len):
                raise ValueError(f"row {b}: speaker positions {pos.tolist()} outside [0, {cfg.text_len})")
            tokens = self.speaker_embedding(spk[: pos.numel()].to(device=emb.device, dtype=weight.dtype))
            emb[b, pos] = tokens.to(emb.dtype)
        return emb


# ----------------------------------------------------------------------------------------------------
def _batch_timesteps(timestep: torch.Tensor | int | float, batch: int, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(timestep, device=device).reshape(-1)
    if t.numel() == 1:
        return t.expand(batch)
    if t.numel() != batch:
        raise ValueError(f"timestep has {t.numel()} values for batch {batch}")
    return t


def _row_flags(flags: RowFlags, batch: int, name: str) -> torch.Tensor:
    if isinstance(flags, bool):
        return torch.full((batch,), flags, dtype=torch.bool)
    values = torch.as_tensor(list(flags), dtype=torch.bool).reshape(-1)
    if values.numel() != batch:
        raise ValueError(f"{name} has {values.numel()} flags for batch {batch}")
    return values


def _per_row(value: RowTensors, batch: int, name: str) -> list[torch.Tensor | None]:
    if value is None:
        return [None] * batch
    if isinstance(value, torch.Tensor):
        if batch == 1:
            return [value]
        raise ValueError(f"{name}: pass a list of {batch} per-row tensors when B > 1")
    rows = list(value)
    if len(rows) != batch:
        raise ValueError(f"{name} has {len(rows)} rows for batch {batch}")
    return rows


def _check_shape(x: torch.Tensor, ndim: int, channel_axis: int, channels: int, what: str, batch: int) -> None:
    if x.dim() != ndim or x.shape[channel_axis] != channels or x.shape[0] != batch:
        raise ValueError(f"{what} with C={channels} and B={batch} expected, got {list(x.shape)}")
