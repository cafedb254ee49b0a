"""VideoReward's network: transformers' Qwen2-VL, LoRA on the language model, a linear reward head.

What MOVA's `train_reward.py: create_model_and_processor` builds and `utils.py:
load_model_from_checkpoint` fills, written out: `Qwen2VLModel` (the vision tower and the language
model; the LM head is never read), each Linear of the language model wrapped in a LoRA layer
(r 64, alpha 128, `base(x) + (alpha / r) * B(A(x))`), and `rm_head = Linear(hidden, 1, bias=False)`
read at the three reward tokens of the prompt.

Precision as the official model ends up: everything in bfloat16 (the base loads in bf16 and the
model is cast to bf16, buffers included), the LoRA matrices in float32 (peft's autocast of adapter
weights), their input cast to float32 and the sum cast back to bf16 (peft's LoRA forward).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nava_eval.metrics import videoreward_assets as assets


class LoraLinear(nn.Module):
    """A frozen Linear plus a LoRA update, as peft's `lora.Linear` computes it at inference."""

    def __init__(self, base: nn.Linear, r: int, alpha: int) -> None:
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base(x)
        dtype = result.dtype
        x = x.to(self.lora_A.weight.dtype)
        return (result + self.lora_B(self.lora_A(x)) * self.scaling).to(dtype)


class RewardNet(nn.Module):
    """Qwen2VLModel with LoRA on its language model and the reward head."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        from transformers import Qwen2VLModel

        self.model = Qwen2VLModel(config)
        text = config.text_config if hasattr(config, "text_config") else config
        for layer in self.model.language_model.layers:
            for parent in (layer.self_attn, layer.mlp):
                for name in assets.LORA_TARGETS:
                    if hasattr(parent, name):
                        setattr(
                            parent, name, LoraLinear(getattr(parent, name), assets.LORA_R, assets.LORA_ALPHA)
                        )
        self.rm_head = nn.Linear(text.hidden_size, 1, bias=False)

    def to_official_precision(self) -> RewardNet:
        """bf16 everywhere (buffers too, as the official `model.to(torch.bfloat16)`), LoRA in float32."""
        self.to(torch.bfloat16)
        for module in self.modules():
            if isinstance(module, LoraLinear):
                module.lora_A.float()
                module.lora_B.float()
        return self

    def hidden(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The last layer's (normed) hidden states: eval_video_reward.py's `hidden_states[-1]`."""
        keys = ("input_ids", "attention_mask", "pixel_values_videos", "video_grid_thw", "mm_token_type_ids")
        return self.model(**{k: batch[k] for k in keys if k in batch}, use_cache=False).last_hidden_state

    def rewards(self, batch: Mapping[str, torch.Tensor], token_ids: tuple[int, ...]) -> torch.Tensor:
        """[batch, 3] rm_head values (in the head's dtype) at the first VQ, MQ and TA reward token.

        A prompt without one of them reads the last position instead, as the official fallback.
        """
        hidden = self.hidden(batch)
        ids = batch["input_ids"]
        rows = []
        for b in range(ids.shape[0]):
            picks = []
            for tid in token_ids:
                where = (ids[b] == tid).nonzero(as_tuple=True)[0]
                picks.append(hidden[b, int(where[0])] if len(where) else hidden[b, -1])
            rows.append(torch.cat([self.rm_head(h) for h in picks]))  # one vector per call, as the official
        return torch.stack(rows)


def qwen2vl_config(fields: Mapping[str, Any]) -> Any:
    """Qwen2VLConfig from config.json fields (a deep copy: transformers fills nested dicts in place)."""
    import copy

    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(**copy.deepcopy(dict(fields)))


def build(config: Any, device: str = "cpu", seed: int | None = None) -> RewardNet:
    """A RewardNet on `device` at the official precision (random weights; seeded when `seed` is given)."""
    previous = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        torch.set_default_dtype(torch.bfloat16)  # half the memory of a float32 build (2B: 4.4 GB)
        try:
            with torch.device(device):
                net = RewardNet(config)
        finally:
            torch.set_default_dtype(previous)
    return net.to_official_precision().eval()


class CheckpointKeyError(ValueError):
    """A reward checkpoint whose tensors do not fit the network (missing, unknown or mis-shaped keys)."""


def load_release_state(net: RewardNet, state: Mapping[str, torch.Tensor]) -> None:
    """Load the release's `model.pth` state dict (either key layout utils.py accepts) into `net`.

    Every parameter of `net` must come from the file and every tensor of the file must land
    somewhere (the LM head aside), as the official strict `load_state_dict`; values are cast to each
    parameter's dtype (bf16, LoRA float32) as `load_state_dict` does.
    """
    ours = net.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        target = assets.release_to_ours(key)
        if target is None:
            continue
        if target not in ours:
            unknown.append(key)
            continue
        mapped[target] = value
    missing = sorted(set(ours) - set(mapped))
    bad_shape = [k for k, v in mapped.items() if tuple(v.shape) != tuple(ours[k].shape)]
    if unknown or missing or bad_shape:
        raise CheckpointKeyError(
            f"the reward checkpoint does not fit Qwen2-VL VideoReward: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(unknown)} unknown (e.g. {unknown[:3]}), {len(bad_shape)} with "
            f"another shape (e.g. {bad_shape[:3]})"
        )
    net.load_state_dict(mapped, strict=True)
