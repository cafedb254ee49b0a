"""Key map from UniSpeech's `wavlm_large_finetune.pth` (s3prl WavLM names) to transformers' WavLMModel.

The checkpoint's `model` state dict holds the ECAPA head keys (`feature_weight`, `layer1.*`, ...)
and, under `feature_extract.model.`, the keys of s3prl's `WavLM` class (the layout is listed in
../shared/fixtures/speaker_sim/official_checkpoint_layout.json). transformers' WavLM is a port of
the same network, so a rename is all that is needed; every key must map and the load is strict
(the official loader's strict=False would hide a mismatch).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nava_eval.errors import UserError

UPSTREAM_PREFIX = "feature_extract.model."

# (official regex, transformers replacement), tried in order; the first full match wins.
_RULES: tuple[tuple[str, str], ...] = (
    (r"mask_emb", r"masked_spec_embed"),
    (r"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)", r"feature_extractor.conv_layers.\1.conv.\2"),
    (
        r"feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)",
        r"feature_extractor.conv_layers.\1.layer_norm.\2",
    ),
    (r"layer_norm\.(weight|bias)", r"feature_projection.layer_norm.\1"),
    (r"post_extract_proj\.(weight|bias)", r"feature_projection.projection.\1"),
    (r"encoder\.pos_conv\.0\.bias", r"encoder.pos_conv_embed.conv.bias"),
    # old-style weight_norm (g, v) -> torch.nn.utils.parametrizations.weight_norm (original0, original1)
    (r"encoder\.pos_conv\.0\.weight_g", r"encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    (r"encoder\.pos_conv\.0\.weight_v", r"encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
    (
        r"encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj\.(weight|bias)",
        r"encoder.layers.\1.attention.\2_proj.\3",
    ),
    (r"encoder\.layers\.(\d+)\.self_attn\.grep_a", r"encoder.layers.\1.attention.gru_rel_pos_const"),
    (
        r"encoder\.layers\.(\d+)\.self_attn\.grep_linear\.(weight|bias)",
        r"encoder.layers.\1.attention.gru_rel_pos_linear.\2",
    ),
    (
        r"encoder\.layers\.(\d+)\.self_attn\.relative_attention_bias\.weight",
        r"encoder.layers.\1.attention.rel_attn_embed.weight",
    ),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.layer_norm.\2"),
    (r"encoder\.layers\.(\d+)\.fc1\.(weight|bias)", r"encoder.layers.\1.feed_forward.intermediate_dense.\2"),
    (r"encoder\.layers\.(\d+)\.fc2\.(weight|bias)", r"encoder.layers.\1.feed_forward.output_dense.\2"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"encoder.layers.\1.final_layer_norm.\2"),
)
_COMPILED = tuple((re.compile(pattern), repl) for pattern, repl in _RULES)


class CheckpointLayoutError(UserError, ValueError):
    """The checkpoint's keys do not fit the expected WavLM-Large + ECAPA layout."""


def map_upstream_key(official: str) -> str:
    """One s3prl WavLM key (without the `feature_extract.model.` prefix) -> transformers' name."""
    for pattern, repl in _COMPILED:
        if pattern.fullmatch(official):
            return pattern.sub(repl, official)
    raise CheckpointLayoutError(
        f"checkpoint key {UPSTREAM_PREFIX}{official!r} has no WavLM counterpart; is this a WavLM-Large "
        "speaker-verification checkpoint (wavlm_large_finetune.pth)?"
    )


@dataclass(frozen=True)
class SplitCheckpoint:
    """The checkpoint's head keys (official names) and its upstream keys (transformers names)."""

    head: dict[str, Any]
    upstream: dict[str, Any]


def split_checkpoint(state_dict: Mapping[str, Any]) -> SplitCheckpoint:
    """Split `checkpoint['model']` into the ECAPA head and the renamed WavLM upstream."""
    head: dict[str, Any] = {}
    upstream: dict[str, Any] = {}
    for key, value in state_dict.items():
        if key.startswith(UPSTREAM_PREFIX):
            upstream[map_upstream_key(key[len(UPSTREAM_PREFIX) :])] = value
        elif key.startswith("feature_extract."):
            raise CheckpointLayoutError(
                f"checkpoint key {key!r}: expected upstream keys under {UPSTREAM_PREFIX!r} (s3prl WavLM)"
            )
        else:
            head[key] = value
    return SplitCheckpoint(head=head, upstream=upstream)


def wavlm_large_config() -> Any:
    """transformers WavLMConfig with WavLM-Large's hyper-parameters (s3prl `wavlm_large`).

    extractor_mode layer_norm, conv_bias False, 24 layers x 1024, 16 heads, FFN 4096, conv pos 128/16,
    320 buckets / max distance 800, gated relative position bias, layer_norm_first (stable layer norm).
    Dropouts are 0: the model only ever runs in eval mode.
    """
    from transformers import WavLMConfig

    return WavLMConfig(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        conv_dim=(512,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_bias=False,
        feat_extract_norm="layer",
        feat_extract_activation="gelu",
        hidden_act="gelu",
        do_stable_layer_norm=True,
        num_conv_pos_embeddings=128,
        num_conv_pos_embedding_groups=16,
        num_buckets=320,
        max_bucket_distance=800,
        layer_norm_eps=1e-5,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        final_dropout=0.0,
        layerdrop=0.0,
        apply_spec_augment=True,  # keeps `masked_spec_embed` (the checkpoint's mask_emb) for a strict load
    )
