"""Weight specs of MOVA's VideoReward (registered lazily): the reward checkpoint and its base model's files."""

from __future__ import annotations

from nava_eval.metrics.weights import WeightSpec, register_weight

VIDEOREWARD_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="videoreward",
        filename="model.pth",
        # MOVA scripts/download_weights.sh: snapshot_download("KlingTeam/VideoReward",
        # allow_patterns=["model_config.json", "checkpoint-11352/*"]); eval_video_reward.py
        # --reward_step 11352 loads checkpoint-11352/model.pth (the full PeftModel state dict).
        url="hf://KlingTeam/VideoReward/checkpoint-11352/model.pth",
        hub_files=("model_config.json",),
        license="Apache-2.0 (KlingTeam/VideoReward model card; VideoAlign code MIT)",
        used_by=("videoreward",),
        unpinned_reason=(
            "MOVA's toolkit downloads the repository's head and publishes no checksum or revision, and no "
            "LFS pointer of the file was readable here; each run records the sha256 of the file it used"
        ),
        description="VideoReward (VideoAlign) checkpoint-11352: Qwen2-VL-2B LoRA + reward head, model_config.json",
    ),
    WeightSpec(
        name="qwen2_vl_2b_instruct",
        filename="config.json",
        # train_reward.py builds the processor and the architecture from Qwen/Qwen2-VL-2B-Instruct
        # (model_config.model_name_or_path); every tensor then comes from the VideoReward checkpoint,
        # so only the config, processor and tokenizer files are read.
        url="hf://Qwen/Qwen2-VL-2B-Instruct/config.json",
        hub_files=(
            "preprocessor_config.json",
            "chat_template.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "vocab.json",
            "merges.txt",
            "generation_config.json",
        ),
        license="Apache-2.0 (Qwen/Qwen2-VL-2B-Instruct)",
        used_by=("videoreward",),
        unpinned_reason=(
            "MOVA's toolkit loads the hub head of Qwen/Qwen2-VL-2B-Instruct without a revision; these are "
            "small text files (no weights), recorded by sha256 at each run"
        ),
        description="Qwen2-VL-2B-Instruct config, processor, tokenizer and chat template (VideoReward's base)",
    ),
)

for _spec in VIDEOREWARD_WEIGHTS:
    register_weight(_spec)
