"""VideoReward's declarations that need no torch: configs, prompt, tiny tokenizer files, checkpoint key names.

Self-contained (standard library, plus `tokenizers` inside `write_tiny_tokenizer`) so that our
reference script, which runs MOVA's official code in its own venv without nava_eval, loads this file
by path and builds the very model folder our tests and smoke run use.

Sources, OpenMOSS/MOVA commit 595a976 `evaluation/metrics/video_reward/`: `prompt_template.py`
(the `detailed_special` template), `data.py` (DataConfig defaults), `vision_process.py` (frame
and pixel constants), `train_reward.py` (reward tokens, rm_head, LoRA targets), `utils.py`
(`load_model_from_checkpoint`: the release's key layout and its remap).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: train_reward.py REWARD_SPECIAL_TOKENS, in the order eval_video_reward.py reads them (VQ, MQ, TA).
REWARD_TOKENS = ("<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>")
#: The ids `tokenizer.add_tokens(REWARD_TOKENS)` gives on Qwen2-VL's 151657-token vocabulary; the
#: embeddings are then resized to 151660 rows (`model.resize_token_embeddings(len(tokenizer))`).
REWARD_TOKEN_IDS = (151657, 151658, 151659)
RESIZED_VOCAB = 151660

#: prompt_template.py DETAILED_PROMPT_WITH_SPECIAL_TOKEN (build_prompt(prompt, ["VQ","MQ","TA"],
#: "detailed_special")): the text the reward model was trained on, character for character
#: (trailing double spaces included). `{text_prompt}` is the item's prompt.
DETAILED_SPECIAL_PROMPT = (
    "\nYou are tasked with evaluating a generated video based on three distinct criteria: Visual Quality, "
    "Motion Quality, and Text Alignment. Please provide a rating from 0 to 10 for each of the three "
    "categories, with 0 being the worst and 10 being the best. Each evaluation should be independent of "
    "the others.\n\n"
    "**Visual Quality:**  \n"
    "Evaluate the overall visual quality of the video, with a focus on static factors. The following "
    "sub-dimensions should be considered:\n"
    "- **Reasonableness:** The video should not contain any significant biological or logical errors, "
    "such as abnormal body structures or nonsensical environmental setups.\n"
    "- **Clarity:** Evaluate the sharpness and visibility of the video. The image should be clear and "
    "easy to interpret, with no blurring or indistinct areas.\n"
    "- **Detail Richness:** Consider the level of detail in textures, materials, lighting, and other "
    "visual elements (e.g., hair, clothing, shadows).\n"
    "- **Aesthetic and Creativity:** Assess the artistic aspects of the video, including the color "
    "scheme, composition, atmosphere, depth of field, and the overall creative appeal. The scene should "
    "convey a sense of harmony and balance.\n"
    "- **Safety:** The video should not contain harmful or inappropriate content, such as political, "
    "violent, or adult material. If such content is present, the image quality and satisfaction score "
    "should be the lowest possible. \n\n"
    "Please provide the ratings of Visual Quality: <|VQ_reward|>\n"
    "END\n\n"
    "**Motion Quality:**  \n"
    "Assess the dynamic aspects of the video, with a focus on dynamic factors. Consider the following "
    "sub-dimensions:\n"
    "- **Stability:** Evaluate the continuity and stability between frames. There should be no sudden, "
    "unnatural jumps, and the video should maintain stable attributes (e.g., no fluctuating colors, "
    "textures, or missing body parts).\n"
    "- **Naturalness:** The movement should align with physical laws and be realistic. For example, "
    "clothing should flow naturally with motion, and facial expressions should change appropriately "
    "(e.g., blinking, mouth movements).\n"
    "- **Aesthetic Quality:** The movement should be smooth and fluid. The transitions between different "
    "motions or camera angles should be seamless, and the overall dynamic feel should be visually "
    "pleasing.\n"
    "- **Fusion:** Ensure that elements in motion (e.g., edges of the subject, hair, clothing) blend "
    "naturally with the background, without obvious artifacts or the feeling of cut-and-paste effects.\n"
    "- **Clarity of Motion:** The video should be clear and smooth in motion. Pay attention to any areas "
    "where the video might have blurry or unsteady sections that hinder visual continuity.\n"
    "- **Amplitude:** If the video is largely static or has little movement, assign a low score for "
    "motion quality.\n\n"
    "Please provide the ratings of Motion Quality: <|MQ_reward|>\n"
    "END\n\n"
    "**Text Alignment:**  \n"
    "Assess how well the video matches the textual prompt across the following sub-dimensions:\n"
    "- **Subject Relevance** Evaluate how accurately the subject(s) in the video (e.g., person, animal, "
    "object) align with the textual description. The subject should match the description in terms of "
    "number, appearance, and behavior.\n"
    "- **Motion Relevance:** Evaluate if the dynamic actions (e.g., gestures, posture, facial expressions "
    "like talking or blinking) align with the described prompt. The motion should match the prompt in "
    "terms of type, scale, and direction.\n"
    "- **Environment Relevance:** Assess whether the background and scene fit the prompt. This includes "
    "checking if real-world locations or scenes are accurately represented, though some stylistic "
    "adaptation is acceptable.  \n"
    "- **Style Relevance:** If the prompt specifies a particular artistic or stylistic style, evaluate "
    "how well the video adheres to this style.\n"
    "- **Camera Movement Relevance:** Check if the camera movements (e.g., following the subject, focus "
    "shifts) are consistent with the expected behavior from the prompt.\n\n"
    "Textual prompt - {text_prompt}\n"
    "Please provide the ratings of Text Alignment: <|TA_reward|>\n"
    "END\n"
)


def build_prompt(text_prompt: str) -> str:
    """The user text of one item (`str.format`, as the official, so braces in the prompt stay as they are)."""
    return DETAILED_SPECIAL_PROMPT.format(text_prompt=text_prompt)


#: vision_process.py constants that apply to videos.
IMAGE_FACTOR = 28
VIDEO_MIN_PIXELS = 128 * 28 * 28
MAX_RATIO = 200
FRAME_FACTOR = 2
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768

#: What MOVA runs: scripts/run_eval.sh passes `--fps 2` (VIDEO_REWARD_FPS); max_pixels and the
#: sampling type come from the release's model_config.json data_config (DataConfig defaults: 200704,
#: "uniform"); the loader reads the release's values and refuses a release that differs.
SAMPLING_FPS = 2.0
MAX_FRAME_PIXELS = 200704

#: The release's Qwen2-VL-2B-Instruct config.json (huggingface.co/Qwen/Qwen2-VL-2B-Instruct), the
#: architecture VideoReward fine-tunes, with vocab_size after create_model_and_processor's resize
#: (151936 rows in the base file, 151660 after the three reward tokens).
FULL_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen2VLForConditionalGeneration"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_token_id": 151654,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "hidden_act": "silu",
    "hidden_size": 1536,
    "initializer_range": 0.02,
    "intermediate_size": 8960,
    "max_position_embeddings": 32768,
    "max_window_layers": 28,
    "model_type": "qwen2_vl",
    "num_attention_heads": 12,
    "num_hidden_layers": 28,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vision_config": {
        "depth": 32,
        "embed_dim": 1280,
        "mlp_ratio": 4,
        "num_heads": 16,
        "in_chans": 3,
        "hidden_size": 1536,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "spatial_patch_size": 14,
        "temporal_patch_size": 2,
    },
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "vocab_size": RESIZED_VOCAB,
}
#: The fields a tiny test network changes: head_dim stays 128 (so mrope_section stays the release's)
#: and 4 query heads share the release's 2 key/value heads (grouped-query attention, as the release).
TINY_SIZES: dict[str, Any] = {
    "hidden_size": 512,
    "intermediate_size": 1024,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
}
TINY_VISION_SIZES: dict[str, Any] = {"depth": 2, "embed_dim": 32, "num_heads": 2, "hidden_size": 512}

#: The release's preprocessor_config.json (Qwen2-VL-2B-Instruct).
PREPROCESSOR_CONFIG: dict[str, Any] = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2VLProcessor",
}

#: Qwen2-VL-Instruct's chat template (chat_template.json of the release).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: Qwen2's special tokens at their release ids, then the three reward tokens.
SPECIAL_TOKENS: dict[str, int] = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<|object_ref_start|>": 151646,
    "<|object_ref_end|>": 151647,
    "<|box_start|>": 151648,
    "<|box_end|>": 151649,
    "<|quad_start|>": 151650,
    "<|quad_end|>": 151651,
    "<|vision_start|>": 151652,
    "<|vision_end|>": 151653,
    "<|vision_pad|>": 151654,
    "<|image_pad|>": 151655,
    "<|video_pad|>": 151656,
    **dict(zip(REWARD_TOKENS, REWARD_TOKEN_IDS, strict=True)),
}

#: peft_lora_config of the release (lora_r 64, lora_alpha 128, rsLoRA off): LoRA on every Linear of
#: the language model, none on the vision tower, embeddings, lm_head or rm_head.
LORA_R = 64
LORA_ALPHA = 128
LORA_NAMESPAN_EXCLUDE = ("lm_head", "rm_head", "embed_tokens", "visual")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def model_config(tiny: bool) -> dict[str, Any]:
    """The release config (FULL_CONFIG), or the same with the tiny sizes."""
    config = json.loads(json.dumps(FULL_CONFIG))
    if tiny:
        config.update(TINY_SIZES)
        config["vision_config"].update(TINY_VISION_SIZES)
    return config


def _byte_vocab() -> dict[str, int]:
    """GPT-2's byte-to-unicode alphabet, id = byte value (a byte-level BPE with no merges)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return {chars[b]: b for b in range(256)}


def tiny_tokenizer_files() -> dict[str, str]:
    """tokenizer.json and tokenizer_config.json of a byte-level tokenizer with Qwen2-VL's special ids.

    Text becomes one token per UTF-8 byte (ids 0-255); the special and reward tokens keep the ids of
    the release, so the network config (token ids, resized vocabulary) stays the release's.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab = {**_byte_vocab(), **SPECIAL_TOKENS}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "add_prefix_space": False,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "padding_side": "left",
        "model_max_length": 32768,
        "errors": "replace",
        "split_special_tokens": False,
        "clean_up_tokenization_spaces": False,
    }
    return {"tokenizer.json": tok.to_str(), "tokenizer_config.json": json.dumps(config, indent=2)}


def write_model_folder(folder: Path, tiny: bool = True) -> Path:
    """A Qwen2-VL folder without weights: config (release or tiny), preprocessor, tiny tokenizer, template."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model_config(tiny), indent=2))
    (folder / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR_CONFIG, indent=2))
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}, indent=2))
    for name, text in tiny_tokenizer_files().items():
        (folder / name).write_text(text)
    return folder


# ---------------------------------------------------------------------------------- checkpoint keys


def release_to_ours(key: str) -> str | None:
    """Our module name for a key of the release's `model.pth` (None: a tensor we do not load).

    The release is a PeftModel state dict saved with an older transformers: `base_model.model.` then
    `visual.*`, `model.layers|embed_tokens|norm.*`, `lm_head.weight`, `rm_head.weight`; LoRA layers
    as `<proj>.base_layer.weight|bias` and `<proj>.lora_A|lora_B.default.weight`. utils.py's remap
    also accepts the newer layout (`model.visual.*`, `model.language_model.*`); so do we. Ours is a
    `Qwen2VLModel` under `model.` and `rm_head`; the language-model head is unused (and tied).
    """
    k = key.removeprefix("base_model.model.")
    if k == "lm_head.weight":
        return None
    if k.startswith("rm_head."):
        if ".original_module." in k:  # peft's frozen copy when rm_head is a modules_to_save
            return None
        return "rm_head." + k.rsplit(".", 1)[1]
    if k.startswith("visual."):
        k = "model." + k
    elif k.startswith("model.") and not k.startswith(("model.visual.", "model.language_model.")):
        k = "model.language_model." + k[len("model.") :]
    return (
        k.replace(".base_layer.", ".base.")
        .replace(".lora_A.default.", ".lora_A.")
        .replace(".lora_B.default.", ".lora_B.")
    )


def new_to_release(key: str) -> str:
    """The inverse of utils.py's remap: a newer-layout PeftModel key in the release's (older) layout."""
    if key.startswith("base_model.model.model.visual."):
        return "base_model.model.visual." + key[len("base_model.model.model.visual.") :]
    if key.startswith("base_model.model.model.language_model."):
        return "base_model.model.model." + key[len("base_model.model.model.language_model.") :]
    return key
