"""PANNs Cnn14 (32 kHz AudioSet tagger) in plain torch, with the release checkpoint's key names.

The network MOVA's IS runs through `panns_inference.AudioTagging` (qiuqiangkong/audioset_tagging_cnn,
`Cnn14_mAP=0.431.pth`): a 1024-point STFT with a 320-sample hop done as two frozen Conv1d's over the
reflect-padded wave, power spectrum, a frozen 64-band mel matrix (librosa's slaney filters, 50 Hz to
14 kHz), 10·log10(max(x, 1e-10)), BatchNorm over the mel bands, six VGG-like blocks of two 3×3
conv+BN+ReLU (2×2 average pooling after the first five), mean over frequency, max + mean over time,
fc1 with ReLU and the 527-way sigmoid head. Eval mode only (no SpecAugment, mixup or dropout).

Module and parameter names are the checkpoint's (`spectrogram_extractor.stft.conv_real.weight`,
`logmel_extractor.melW`, `conv_block3.bn2.running_var`, `fc_audioset.bias`, ...), so the release's
state dict (under its `model` key) loads strictly. The frozen front-end tensors are rebuilt here
(`stft_kernels`, `mel_matrix`) for networks without a checkpoint (smoke, tests) and taken from the
checkpoint otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nava_eval.errors import UserError


class Cnn14CheckpointError(UserError, ValueError):
    """The file is not a PANNs Cnn14 state dict of the expected shapes; the message says what is off."""


@dataclass(frozen=True)
class Cnn14Config:
    """Hyper-parameters; `official()` is panns_inference's AudioTagging (32 kHz, 527 AudioSet classes)."""

    sample_rate: int = 32_000
    window_size: int = 1024
    hop_size: int = 320
    mel_bins: int = 64
    fmin: float = 50.0
    fmax: float = 14_000.0
    classes_num: int = 527
    channels: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
    amin: float = 1e-10

    @classmethod
    def official(cls) -> Cnn14Config:
        return cls()

    @classmethod
    def tiny(cls) -> Cnn14Config:
        """The official structure with narrow blocks (smoke runs and fast tests)."""
        return replace(cls(), channels=(4, 4, 8, 8, 8, 16))

    def without_sizes(self) -> dict[str, Any]:
        """Every field except the widths (what tests compare between tiny and official)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "channels"}


def stft_kernels(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """[n_fft//2+1, 1, n_fft] real and imaginary DFT rows times a periodic Hann window (float32)."""
    k = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * k / n_fft)
    omega = np.exp(-2j * np.pi / n_fft)
    rows = np.power(omega, np.outer(k, k))[:, : n_fft // 2 + 1] * window[:, None]
    return (
        np.ascontiguousarray(rows.real.T[:, None, :], dtype=np.float32),
        np.ascontiguousarray(rows.imag.T[:, None, :], dtype=np.float32),
    )


def mel_matrix(cfg: Cnn14Config) -> np.ndarray:
    """[n_fft//2+1, mel_bins]: librosa.filters.mel (slaney scale and norm), transposed, float32."""
    import librosa

    mel = librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.window_size, n_mels=cfg.mel_bins, fmin=cfg.fmin, fmax=cfg.fmax
    )
    return np.ascontiguousarray(mel.T, dtype=np.float32)


class _Stft(nn.Module):
    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        n_freq = n_fft // 2 + 1
        self.n_fft, self.hop = n_fft, hop
        self.conv_real = nn.Conv1d(1, n_freq, n_fft, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, n_freq, n_fft, stride=hop, bias=False)


class _Spectrogram(nn.Module):
    """Power spectrogram [B, 1, frames, n_fft//2+1] of a [B, T] wave (centred, reflect padding)."""

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.stft = _Stft(n_fft, hop)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        half = self.stft.n_fft // 2
        x = F.pad(wave[:, None, :], (half, half), mode="reflect")
        real = self.stft.conv_real(x)[:, None].transpose(2, 3)
        imag = self.stft.conv_imag(x)[:, None].transpose(2, 3)
        return real**2 + imag**2


class _LogMel(nn.Module):
    def __init__(self, n_freq: int, mel_bins: int, amin: float) -> None:
        super().__init__()
        self.melW = nn.Parameter(torch.zeros(n_freq, mel_bins), requires_grad=False)
        self.amin = amin

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        # ref 1.0 and top_db None: 10·log10(max(x, amin)) − 10·log10(max(amin, 1)) = 10·log10(max(x, amin))
        return 10.0 * torch.log10(torch.clamp(torch.matmul(power, self.melW), min=self.amin))


class _ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=pool) if pool > 1 else x


class Cnn14(nn.Module):
    """[B, T] 32 kHz waves → [B, classes] clip-wise sigmoid probabilities (eval mode)."""

    def __init__(self, cfg: Cnn14Config) -> None:
        super().__init__()
        self.cfg = cfg
        n_freq = cfg.window_size // 2 + 1
        self.spectrogram_extractor = _Spectrogram(cfg.window_size, cfg.hop_size)
        self.logmel_extractor = _LogMel(n_freq, cfg.mel_bins, cfg.amin)
        self.bn0 = nn.BatchNorm2d(cfg.mel_bins)
        widths = (1, *cfg.channels)
        for i in range(6):
            setattr(self, f"conv_block{i + 1}", _ConvBlock(widths[i], widths[i + 1]))
        self.fc1 = nn.Linear(cfg.channels[-1], cfg.channels[-1])
        self.fc_audioset = nn.Linear(cfg.channels[-1], cfg.classes_num)

    def init_front_end(self) -> None:
        """Fill the frozen STFT and mel tensors (what torchlibrosa builds; the checkpoint holds the same)."""
        real, imag = stft_kernels(self.cfg.window_size)
        with torch.no_grad():
            self.spectrogram_extractor.stft.conv_real.weight.copy_(torch.from_numpy(real))
            self.spectrogram_extractor.stft.conv_imag.weight.copy_(torch.from_numpy(imag))
            self.logmel_extractor.melW.copy_(torch.from_numpy(mel_matrix(self.cfg)))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.logmel_extractor(self.spectrogram_extractor(wave))  # [B, 1, frames, mel]
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for i in range(6):
            x = getattr(self, f"conv_block{i + 1}")(x, pool=2 if i < 5 else 1)
        x = torch.mean(x, dim=3)
        x = torch.max(x, dim=2).values + torch.mean(x, dim=2)
        x = F.relu(self.fc1(x))
        return torch.sigmoid(self.fc_audioset(x))


def read_cnn14_checkpoint(path: Path) -> dict[str, Any]:
    """The release `.pth` ({"model": state dict, ...}) read with weights_only (numpy arrays of its
    training entries allowed, `metrics.torch_numpy_load`), or a `.safetensors` file."""
    from nava_eval.metrics.torch_numpy_load import read_torch_file_numpy_data
    from nava_eval.weight_files import WeightFileError, read_safetensors_file

    what = "the PANNs Cnn14 checkpoint"
    if Path(path).suffix == ".safetensors":
        return dict(read_safetensors_file(path, what))
    try:
        ckpt = read_torch_file_numpy_data(path, what)
    except WeightFileError as exc:
        raise WeightFileError(
            f"{exc} If it holds pickled objects besides tensors, save its ['model'] state dict as "
            ".safetensors in a trusted environment and pass --weights panns-cnn14-32k=FILE.safetensors"
        ) from None
    if isinstance(ckpt, Mapping) and isinstance(ckpt.get("model"), Mapping):
        ckpt = ckpt["model"]
    if not isinstance(ckpt, Mapping):
        raise Cnn14CheckpointError(f"{path}: expected a state dict (optionally under 'model')")
    return dict(ckpt)


def load_cnn14(state_dict: Mapping[str, Any], cfg: Cnn14Config, device: str = "cpu") -> Cnn14:
    """Cnn14 with every tensor of the release loaded (a `module.` prefix stripped); strict on names and shapes."""
    model = Cnn14(cfg)
    sd = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state_dict.items()}
    expected = model.state_dict()
    optional = {k for k in expected if k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(sd) - optional)
    unexpected = sorted(set(sd) - set(expected))
    wrong = sorted(k for k in set(sd) & set(expected) if tuple(sd[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        raise Cnn14CheckpointError(
            f"the checkpoint does not fit PANNs Cnn14 {cfg.channels} / {cfg.classes_num} classes (missing "
            f"{missing[:5]}, unexpected {unexpected[:5]}, wrong shape {wrong[:5]})"
        )
    model.load_state_dict({k: torch.as_tensor(v) for k, v in sd.items()}, strict=False)
    return model.to(device).eval()


def tiny_cnn14(seed: int = 0, device: str = "cpu") -> Cnn14:
    """A narrow Cnn14 with seeded random weights and the real front end (smoke runs)."""
    torch.manual_seed(seed)
    model = Cnn14(Cnn14Config.tiny())
    model.init_front_end()
    # He-initialised convolutions, log-mel statistics of real audio for bn0 and wide class logits, so
    # clips differ and a smoke IS is not 1 (torch's defaults shrink activations ~10× per block).
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(mod.weight)
    with torch.no_grad():
        model.bn0.running_mean.fill_(-40.0)
        model.bn0.running_var.fill_(400.0)
    nn.init.normal_(model.fc_audioset.weight, std=0.5)
    return model.to(device).eval()
