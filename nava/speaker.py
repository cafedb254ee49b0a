"""Speaker (timbre) embeddings: 192-d ReDimNet vectors, as the official code computes them.

Official recipe: load the reference wav, resample to 16 kHz, average channels to mono, keep the first
30 s, run ReDimNet (torch.hub `IDRnD/ReDimNet`, model 'M', train_type 'ft_mix', dataset
'vb2+vox2+cnc') → [192]. Everything that needs an embedding takes a `SpeakerEmbedder`, so tests and
the smoke preset use the deterministic `TinySpeakerEmbedder` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from nava_eval.errors import InvalidValue, MissingFile

logger = logging.getLogger(__name__)

SPEAKER_DIM = 192
SPEAKER_SAMPLE_RATE = 16000
MAX_SECONDS = 30.0
REDIMNET_HUB = "IDRnD/ReDimNet"
REDIMNET_ARGS = {"model_name": "M", "train_type": "ft_mix", "dataset": "vb2+vox2+cnc"}
FETCH_COMMAND = "nava-eval weights download nava"


class SpeakerEmbedder(Protocol):
    """Maps a 16 kHz mono waveform [N] to a speaker vector [192]."""

    def embed(self, waveform: torch.Tensor) -> torch.Tensor: ...


def prepare_waveform(wav: np.ndarray | torch.Tensor, sample_rate: int) -> torch.Tensor:
    """[C, N] or [N] at any rate → float32 mono [N] at 16 kHz, first 30 s."""
    from nava_eval.nava.audio_vae import resample

    x = torch.as_tensor(np.asarray(wav) if not isinstance(wav, torch.Tensor) else wav).float()
    x = x[None] if x.ndim == 1 else x
    x = resample(x, sample_rate, SPEAKER_SAMPLE_RATE)
    return x.mean(dim=0)[: int(MAX_SECONDS * SPEAKER_SAMPLE_RATE)].contiguous()


def embed_speaker_files(embedder: SpeakerEmbedder, paths: Sequence[str | Path]) -> torch.Tensor:
    """Speaker vectors [n, 192] for the reference wavs, in order (ValueError on unreadable audio)."""
    from nava_eval.nava.media import read_audio

    vectors = []
    for path in paths:
        wav, rate = read_audio(path)
        if wav.shape[-1] == 0:
            raise InvalidValue(f"{path}: audio has no samples")
        vectors.append(embedder.embed(prepare_waveform(wav, rate)).float().reshape(SPEAKER_DIM))
    return torch.stack(vectors) if vectors else torch.zeros(0, SPEAKER_DIM)


class TinySpeakerEmbedder:
    """Deterministic stand-in (tests, smoke preset): a fixed seeded projection of the mean log spectrum.

    Distinct voices give distinct vectors and the same wav always gives the same vector; it carries no
    speaker identity in the ReDimNet sense.
    """

    n_fft = 400
    hop = 160

    def __init__(self, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        bins = self.n_fft // 2 + 1
        self.projection = torch.randn(bins, SPEAKER_DIM, generator=generator) / bins**0.5

    @torch.no_grad()
    def embed(self, waveform: torch.Tensor) -> torch.Tensor:
        x = waveform.float().flatten()
        if x.numel() < self.n_fft:
            x = torch.nn.functional.pad(x, (0, self.n_fft - x.numel()))
        spec = torch.stft(x, self.n_fft, self.hop, window=torch.hann_window(self.n_fft), return_complex=True)
        features = torch.log(spec.abs().pow(2).mean(dim=1) + 1e-8)
        features = features - features.mean()
        vector = features @ self.projection
        return vector / vector.norm().clamp_min(1e-8)


class ReDimNetEmbedder:
    """ReDimNet-M (ft_mix, vb2+vox2+cnc) through torch.hub, from the local hub cache only."""

    def __init__(self, device: str | torch.device = "cpu", hub_dir: str | Path | None = None) -> None:
        hub_root = Path(hub_dir) if hub_dir is not None else Path(torch.hub.get_dir())
        # torch.hub names the checkout after the branch it resolved (main or master).
        repos = sorted(hub_root.glob("IDRnD_ReDimNet_*"))
        if not repos:
            raise MissingFile(
                f"ReDimNet is not in the torch hub cache (no IDRnD_ReDimNet_* in {hub_root}); run "
                f"`{FETCH_COMMAND}` on a machine with network access to fetch it"
            )
        previous = torch.hub.get_dir()
        torch.hub.set_dir(str(hub_root))  # the weights live under <hub dir>/checkpoints
        try:
            # hubconf: ReDimNet(model_name, train_type, dataset); weights come from the hub checkpoint cache.
            self.model = torch.hub.load(str(repos[-1]), "ReDimNet", source="local", **REDIMNET_ARGS)
        except ImportError as err:
            # ReDimNet's hubconf imports torchaudio for its mel front end; torch alone is not enough.
            raise ImportError(
                f"ReDimNet's hub code needs a module that is not installed ({err}); install torchaudio "
                "built for your torch version (the nava-6b speaker embedder needs it)"
            ) from err
        except (OSError, RuntimeError) as err:  # weights not cached and no network
            raise MissingFile(
                f"ReDimNet weights could not be loaded from the hub cache ({err}); run `{FETCH_COMMAND}`"
            ) from err
        finally:
            torch.hub.set_dir(previous)
        self.model = self.model.eval().to(device)
        self.device = torch.device(device)

    @torch.no_grad()
    def embed(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.model(waveform.float().to(self.device)[None]).reshape(-1).float().cpu()


def fetch_redimnet(hub_dir: str | Path | None = None) -> Path:
    """Download the ReDimNet hub repository and weights into the torch hub cache (needs network)."""
    if hub_dir is not None:
        torch.hub.set_dir(str(hub_dir))
    torch.hub.load(REDIMNET_HUB, "ReDimNet", trust_repo=True, **REDIMNET_ARGS)
    return Path(torch.hub.get_dir())
