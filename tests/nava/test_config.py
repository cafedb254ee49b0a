"""NavaConfig: official JSON field names, presets and validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nava_eval.nava.config import ARCHITECTURES, NavaConfig

# NAVA_6B.json as released (reference §1.1): no text_dim / add_spk_emb / no_split_norm_ffn.
NAVA_6B_JSON = {
    "patch_size": [1, 2, 2],
    "model_type": "ti2v",
    "dim": 3072,
    "ffn_dim": 14336,
    "freq_dim": 256,
    "num_heads": 24,
    "num_layers": 30,
    "num_double_layers": 10,
    "num_single_layers": 20,
    "vid_in_dim": 48,
    "vid_out_dim": 48,
    "audio_in_dim": 128,
    "audio_out_dim": 128,
    "text_len": 512,
    "window_size": [-1, -1],
    "qk_norm": True,
    "cross_attn_norm": True,
    "eps": 1e-6,
    "temporal_rope_scaling_factor": 0.24,
}


def test_release_json_reads_unchanged_and_equals_preset(tmp_path: Path) -> None:
    path = tmp_path / "NAVA_6B.json"
    path.write_text(json.dumps(NAVA_6B_JSON))
    config = NavaConfig.from_json(path)
    assert config == NavaConfig.for_model("nava-6b")
    assert (config.head_dim, config.audio_mlp_hidden, config.video_patch_dim) == (128, 8192, 192)
    assert config.add_spk_emb and config.no_split_norm_ffn and config.text_dim == 4096


def test_fixture_config_is_the_tiny_preset(shared_dir: Path) -> None:
    config = NavaConfig.from_json(shared_dir / "fixtures" / "nava_tiny" / "config.json")
    assert config == NavaConfig.for_model("nava-tiny")
    assert (config.dim, config.num_heads, config.head_dim, config.audio_mlp_hidden) == (256, 2, 128, 768)


def test_to_dict_round_trips() -> None:
    config = ARCHITECTURES["nava-6b"]
    assert NavaConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["patch_size"] == [1, 2, 2]


def test_unknown_preset_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="nava-6b, nava-tiny"):
        NavaConfig.for_model("nava-7b")


def test_preset_overrides_and_backend_is_not_architecture() -> None:
    config = NavaConfig.for_model("nava-tiny", attention_backend="math")
    assert config.attention_backend == "math"
    assert config == ARCHITECTURES["nava-tiny"]  # runtime option excluded from equality


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_layers": 31}, "num_layers 31"),
        ({"num_heads": 5}, "not divisible"),
        ({"model_type": "t2av"}, "exactly one of"),
        ({"window_size": [8, 8]}, "window_size"),
        ({"attention_backend": "xformers"}, "attention_backend"),
        ({"no_split_norm_ffn": False}, "no_split_norm_ffn"),
        ({"use_magic": True}, "unknown config fields: use_magic"),
        ({"cross_1d_rope": True}, "cross_1d_rope"),
    ],
)
def test_invalid_configs_fail_with_the_reason(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NavaConfig.from_dict({**NAVA_6B_JSON, **change})


def test_missing_required_field_and_bad_json(tmp_path: Path) -> None:
    data = dict(NAVA_6B_JSON)
    del data["dim"]
    with pytest.raises(ValueError, match="incomplete config"):
        NavaConfig.from_dict(data)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        NavaConfig.from_json(bad)


def test_inert_official_fields_are_accepted() -> None:
    config = NavaConfig.from_dict({**NAVA_6B_JSON, "cross_1d_rope": False, "additional_emb_dim": None})
    assert config == ARCHITECTURES["nava-6b"]


def test_sequence_parallel_size_must_divide_heads() -> None:
    config = ARCHITECTURES["nava-6b"]
    for ok in (1, 2, 3, 4, 6, 8, 12, 24):
        config.check_sp_size(ok)
    with pytest.raises(ValueError, match="does not divide num_heads 24"):
        config.check_sp_size(5)
