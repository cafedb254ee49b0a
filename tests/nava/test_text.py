"""Text encoder: prompt preparation, Wan key map, valid-length output, smoke tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nava_eval.nava.text import (
    UMT5_XXL_CONFIG,
    SmokeTokenizer,
    TextEncoder,
    add_speaker_slots,
    build_umt5_encoder,
    clean_prompt,
    count_speaker_spans,
    load_umt5_encoder,
    load_umt5_state,
    wan_t5_to_hf,
)

TINY = dict(
    UMT5_XXL_CONFIG,
    vocab_size=SmokeTokenizer.vocab_size,
    d_model=32,
    d_kv=8,
    num_heads=4,
    d_ff=48,
    num_layers=2,
)


def _hf_to_wan(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Independent inverse of the documented Wan naming, written out key by key for the test."""
    out = {
        "token_embedding.weight": state["shared.weight"],
        "norm.weight": state["encoder.final_layer_norm.weight"],
    }
    for i in range(TINY["num_layers"]):
        p = f"encoder.block.{i}.layer."
        out[f"blocks.{i}.norm1.weight"] = state[p + "0.layer_norm.weight"]
        for n in "qkvo":
            out[f"blocks.{i}.attn.{n}.weight"] = state[p + f"0.SelfAttention.{n}.weight"]
        out[f"blocks.{i}.pos_embedding.embedding.weight"] = state[
            p + "0.SelfAttention.relative_attention_bias.weight"
        ]
        out[f"blocks.{i}.norm2.weight"] = state[p + "1.layer_norm.weight"]
        out[f"blocks.{i}.ffn.gate.0.weight"] = state[p + "1.DenseReluDense.wi_0.weight"]
        out[f"blocks.{i}.ffn.fc1.weight"] = state[p + "1.DenseReluDense.wi_1.weight"]
        out[f"blocks.{i}.ffn.fc2.weight"] = state[p + "1.DenseReluDense.wo.weight"]
    return out


@pytest.fixture(scope="module")
def reference() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_umt5_encoder(TINY, "cpu")
    with torch.no_grad():  # break the all-ones norm init so a swapped norm would show
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def test_clean_prompt_matches_wan_rules() -> None:
    assert clean_prompt("  a &amp;amp; b\n\t c  ") == "a & b c"
    assert clean_prompt("x  <S>hi<E>") == "x <S>hi<E>"


def test_speaker_slots_are_added_once() -> None:
    assert (
        add_speaker_slots("A <S>hello<E> B <S>bye<E>") == "A <S><extra_id_2>hello<E> B <S><extra_id_2>bye<E>"
    )
    assert add_speaker_slots("<S><extra_id_2>x<E>") == "<S><extra_id_2>x<E>"
    assert count_speaker_spans("A <S>hello<E> B <S>bye<E>") == 2


def test_wan_named_state_gives_same_output_as_hf_named(reference: torch.nn.Module) -> None:
    hf_state = {k: v.clone() for k, v in reference.state_dict().items()}
    wan_state = _hf_to_wan(hf_state)
    assert len(wan_state) == 2 + 10 * TINY["num_layers"]  # token embedding + final norm, 10 per block
    from_wan = load_umt5_state(wan_state, TINY)
    from_hf = load_umt5_state(hf_state, TINY)
    ids = torch.tensor([[5, 17, 300, 42, 1, 0, 0]])
    mask = (ids != 0).long()
    mask[0, 4] = 1  # EOS is valid
    with torch.no_grad():
        want = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        torch.testing.assert_close(from_wan(input_ids=ids, attention_mask=mask).last_hidden_state, want)
        torch.testing.assert_close(from_hf(input_ids=ids, attention_mask=mask).last_hidden_state, want)


def test_wan_map_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="blocks.0.attn.x.weight"):
        wan_t5_to_hf({"token_embedding.weight": torch.zeros(2, 2), "blocks.0.attn.x.weight": torch.zeros(1)})


def test_wan_pth_file_loads_with_weights_only(reference: torch.nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "models_t5_umt5-xxl-enc-bf16.pth"
    torch.save(_hf_to_wan(reference.state_dict()), path)
    model = load_umt5_encoder(path, TINY, dtype=torch.float32)
    ids = torch.tensor([[7, 8, 9, 1]])
    with torch.no_grad():
        torch.testing.assert_close(
            model(input_ids=ids).last_hidden_state, reference(input_ids=ids).last_hidden_state
        )
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_umt5_encoder(tmp_path / "missing.pth", TINY)


def test_encoder_cuts_to_valid_length_and_finds_speaker_slots(reference: torch.nn.Module) -> None:
    encoder = TextEncoder(reference, SmokeTokenizer(), max_length=24)
    one, two = encoder.encode(["ab <S>c<E>", "xy"])
    # "ab <S>" = 6 characters, slot, "c<E>" = 4 characters, EOS → 12 valid tokens; the slot is row 6.
    assert one.features.shape == (12, 32) and one.speaker_positions.tolist() == [6]
    assert two.features.shape == (3, 32) and two.speaker_positions.numel() == 0
    # Padding to max_length makes batch encoding equal to one-by-one encoding.
    (alone,) = encoder.encode(["xy"])
    torch.testing.assert_close(alone.features, two.features)


def test_smoke_tokenizer_layout() -> None:
    tok = SmokeTokenizer()
    out = tok("a<extra_id_2>", padding="max_length", max_length=5, truncation=True, return_tensors="pt")
    assert out["input_ids"].tolist() == [[3 + ord("a"), tok.vocab_size - 3, 1, 0, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1, 0, 0]]
    assert tok("abcdef", truncation=True, max_length=3)["input_ids"] == [3 + 97, 3 + 98, 1]
    assert tok("狗叫", add_special_tokens=False)["input_ids"] == [3 + ord("狗") % 4096, 3 + ord("叫") % 4096]
