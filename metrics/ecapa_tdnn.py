"""The ECAPA-TDNN speaker head of UniSpeech's speaker-verification model (`ECAPA_TDNN_SMALL`).

Module and parameter names follow the official `models/ecapa_tdnn.py` so `wavlm_large_finetune.pth`
loads with its own key names (`layer2.Res2Conv1dReluBn.convs.0.weight`, ...). Only the
SSL-feature path is implemented (softmax-weighted layer sum -> +1e-6 -> InstanceNorm1d), which is
the one the `wavlm_large` checkpoint uses; sizes are arguments so tests can build tiny heads.
Checked against ../shared/fixtures/speaker_sim (official head, random weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class EcapaConfig:
    """Official sizes are the defaults (`ECAPA_TDNN_SMALL(feat_dim=1024, emb_dim=256)`, 25 layers)."""

    feat_dim: int = 1024
    num_layers: int = 25
    channels: int = 512
    pool_channels: int = 1536
    emb_dim: int = 256
    scale: int = 8
    se_bottleneck: int = 128
    attention_channels: int = 128


class Conv1dReluBn(nn.Module):
    def __init__(
        self, cin: int, cout: int, kernel_size: int = 1, padding: int = 0, dilation: int = 1
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel_size, 1, padding, dilation, bias=True)
        self.bn = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))  # official order: conv, ReLU, BN


class Res2Conv1dReluBn(nn.Module):
    def __init__(self, channels: int, kernel_size: int, padding: int, dilation: int, scale: int) -> None:
        super().__init__()
        if channels % scale:
            raise ValueError(f"channels {channels} must be divisible by scale {scale}")
        self.width = channels // scale
        self.nums = scale if scale == 1 else scale - 1
        self.scale = scale
        self.convs = nn.ModuleList(
            nn.Conv1d(self.width, self.width, kernel_size, 1, padding, dilation, bias=True)
            for _ in range(self.nums)
        )
        self.bns = nn.ModuleList(nn.BatchNorm1d(self.width) for _ in range(self.nums))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spx = torch.split(x, self.width, 1)
        out = []
        sp = spx[0]
        for i in range(self.nums):
            sp = spx[0] if i == 0 else sp + spx[i]
            sp = self.bns[i](F.relu(self.convs[i](sp)))
            out.append(sp)
        if self.scale != 1:
            out.append(spx[self.nums])  # the last group passes through unchanged
        return torch.cat(out, dim=1)


class SE_Connect(nn.Module):  # noqa: N801 - official name, part of the checkpoint keys
    def __init__(self, channels: int, bottleneck: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(channels, bottleneck)
        self.linear2 = nn.Linear(bottleneck, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.linear2(F.relu(self.linear1(x.mean(dim=2)))))
        return x * s.unsqueeze(2)


class SE_Res2Block(nn.Module):  # noqa: N801 - official name
    def __init__(self, channels: int, dilation: int, scale: int, bottleneck: int) -> None:
        super().__init__()
        # in == out channels in ECAPA_TDNN_SMALL, so the official block has no `shortcut` conv.
        self.Conv1dReluBn1 = Conv1dReluBn(channels, channels)
        self.Res2Conv1dReluBn = Res2Conv1dReluBn(channels, 3, dilation, dilation, scale)
        self.Conv1dReluBn2 = Conv1dReluBn(channels, channels)
        self.SE_Connect = SE_Connect(channels, bottleneck)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.SE_Connect(self.Conv1dReluBn2(self.Res2Conv1dReluBn(self.Conv1dReluBn1(x))))
        return out + x


class AttentiveStatsPool(nn.Module):
    def __init__(self, in_dim: int, attention_channels: int) -> None:
        super().__init__()
        self.linear1 = nn.Conv1d(in_dim, attention_channels, kernel_size=1)
        self.linear2 = nn.Conv1d(attention_channels, in_dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.softmax(self.linear2(torch.tanh(self.linear1(x))), dim=2)
        mean = torch.sum(alpha * x, dim=2)
        residuals = torch.sum(alpha * x**2, dim=2) - mean**2
        std = torch.sqrt(residuals.clamp(min=1e-9))
        return torch.cat([mean, std], dim=1)


class EcapaHead(nn.Module):
    """Hidden states of an SSL upstream -> 256-d speaker embedding (not L2-normalised)."""

    def __init__(self, config: EcapaConfig = EcapaConfig()) -> None:
        super().__init__()
        c = config
        self.config = c
        self.feature_weight = nn.Parameter(torch.zeros(c.num_layers))
        self.instance_norm = nn.InstanceNorm1d(c.feat_dim)
        self.layer1 = Conv1dReluBn(c.feat_dim, c.channels, kernel_size=5, padding=2)
        self.layer2 = SE_Res2Block(c.channels, 2, c.scale, c.se_bottleneck)
        self.layer3 = SE_Res2Block(c.channels, 3, c.scale, c.se_bottleneck)
        self.layer4 = SE_Res2Block(c.channels, 4, c.scale, c.se_bottleneck)
        self.conv = nn.Conv1d(c.channels * 3, c.pool_channels, kernel_size=1)
        self.pooling = AttentiveStatsPool(c.pool_channels, c.attention_channels)
        self.bn = nn.BatchNorm1d(c.pool_channels * 2)
        self.linear = nn.Linear(c.pool_channels * 2, c.emb_dim)

    def features(self, hidden_states: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Softmax-weighted sum of the layers, [B,T,D] -> [B,D,T], + 1e-6, instance norm over time."""
        stacked = (
            torch.stack(list(hidden_states), dim=0) if not torch.is_tensor(hidden_states) else hidden_states
        )
        if stacked.shape[0] != self.feature_weight.shape[0]:
            raise ValueError(
                f"the head expects {self.feature_weight.shape[0]} hidden states, got {stacked.shape[0]}"
            )
        weights = F.softmax(self.feature_weight, dim=-1)[:, None, None, None]
        x = (weights * stacked).sum(dim=0)
        return self.instance_norm(x.transpose(1, 2) + 1e-6)

    def forward(self, hidden_states: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        x = self.features(hidden_states)
        out1 = self.layer1(x)
        out2 = self.layer2(out1)
        out3 = self.layer3(out2)
        out4 = self.layer4(out3)
        out = F.relu(self.conv(torch.cat([out2, out3, out4], dim=1)))
        return self.linear(self.bn(self.pooling(out)))
