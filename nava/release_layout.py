"""File names inside the NAVA release repository (`ernie-research/NAVA`, reference §10); no torch import."""

from __future__ import annotations

NAVA_REPO_ID = "ernie-research/NAVA"
FETCH_COMMAND = "nava-eval weights download nava"

DIT_FILE = "NAVA.safetensors"
DIT_FP8_FILE = "NAVA_fp8.safetensors"
VIDEO_VAE_FILE = "Wan2.2-TI2V-5B/Wan2.2_VAE.pth"
T5_FILE = "Wan2.2-TI2V-5B/models_t5_umt5-xxl-enc-bf16.pth"
TOKENIZER_DIR = "Wan2.2-TI2V-5B/google/umt5-xxl"
TOKENIZER_FILES = (f"{TOKENIZER_DIR}/spiece.model", f"{TOKENIZER_DIR}/tokenizer.json")
AUDIO_VAE_FILE = "params/LTX2/ltx-2.3-22b-dev_audio_vae.safetensors"
#: Not in the repository: the official code loads it through torch.hub on first use.
SPEAKER_MODEL = "torch.hub IDRnD/ReDimNet (M, ft_mix, vb2+vox2+cnc)"
