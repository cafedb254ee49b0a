"""Weight specs of the speech scorers, registered in `metrics.weights` (imported lazily by it).

Two kinds of weights:
* single files that the registry caches and checks (`wavlm_large_finetune`, the openai-whisper
  `large-v3.pt`), resolved with `metrics.weights.resolve_weight` (a `--weights NAME=PATH` file
  wins, else the cache; nothing downloads implicitly: `nava-eval weights download NAME`);
* hub models that are a whole folder (transformers' Whisper-large-v3 on the Hugging Face hub,
  funasr's Paraformer-zh, the WavLM-Large fallback): the hub client caches them, and
  `hub_source()` returns the user's override (a local folder) or the hub id. Their registry
  entries point at the main weight file so `weights list` shows them with licence and use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from nava_eval.metrics.weights import WeightSpec, register_weight

WHISPER_HF = "whisper-large-v3"
WHISPER_OPENAI = "whisper-large-v3-openai"
PARAFORMER_ZH = "paraformer-zh"
WAVLM_FINETUNE = "wavlm_large_finetune"
WAVLM_LARGE_HF = "wavlm-large"

# Hub models: the id the hub client resolves when the user gives no local folder.
HUB_IDS: dict[str, str] = {
    WHISPER_HF: "openai/whisper-large-v3",
    PARAFORMER_ZH: "paraformer-zh",  # funasr's model name (ModelScope iic/... by default)
    WAVLM_LARGE_HF: "microsoft/wavlm-large",
}

SPEECH_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name=WHISPER_HF,
        filename="model.safetensors",
        url="hf://openai/whisper-large-v3/model.safetensors",
        license="Apache-2.0 (openai/whisper-large-v3 model card)",
        used_by=("wer",),
        description="Whisper-large-v3 for transformers (seed-tts-eval run_wer.py, English). Loaded from the "
        "HF hub cache by repo id; --weights whisper-large-v3=DIR takes a local copy of the whole repo folder",
        subdir="wer/whisper-large-v3",
    ),
    WeightSpec(
        name=WHISPER_OPENAI,
        filename="large-v3.pt",
        url="https://openaipublic.azureedge.net/main/whisper/models/"
        "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb/large-v3.pt",
        license="MIT (openai/whisper)",
        used_by=("wer",),
        sha256="e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
        description="openai-whisper large-v3 checkpoint (backend='openai-whisper'); the URL carries its sha256",
        subdir="wer",
    ),
    WeightSpec(
        name=PARAFORMER_ZH,
        filename="model.pt",
        url="hf://funasr/paraformer-zh/model.pt",
        license="FunASR model licence (see the model card)",
        used_by=("wer",),
        description="Paraformer-zh for Chinese WER via funasr AutoModel(model='paraformer-zh') (extra `zh`); "
        "funasr caches it itself; --weights paraformer-zh=DIR takes a local model folder",
        subdir="wer/paraformer-zh",
    ),
    WeightSpec(
        name=WAVLM_FINETUNE,
        filename="wavlm_large_finetune.pth",
        url="https://drive.google.com/uc?export=download&id=1-aE1NfzpRCLxA4GUxX9ITI3F9LlbtEGP",
        license="MIT (microsoft/UniSpeech)",
        used_by=("sim",),
        description="UniSpeech WavLM-Large + ECAPA-TDNN speaker verification (seed-tts-eval cal_sim.sh); "
        "Google Drive may refuse scripted downloads of large files: fetch it in a browser and put it at "
        "the cache path, or pass --weights wavlm_large_finetune=PATH",
        subdir="sim",
    ),
    WeightSpec(
        name=WAVLM_LARGE_HF,
        filename="pytorch_model.bin",
        url="hf://microsoft/wavlm-large/pytorch_model.bin",
        license="see the microsoft/wavlm-large model card",
        used_by=("sim",),
        description="pretrained WavLM-Large; only used if wavlm_large_finetune.pth holds no upstream keys "
        "(the official strict=False load then keeps s3prl's pretrained WavLM-Large)",
        subdir="sim/wavlm-large",
    ),
)

for _spec in SPEECH_WEIGHTS:
    register_weight(_spec)


def hub_source(name: str, overrides: Mapping[str, str | os.PathLike[str]] | None = None) -> str:
    """A user's local folder for hub model `name` (checked to exist), else its hub id."""
    if overrides and name in overrides:
        path = Path(overrides[name]).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"--weights {name}={path}: no such file or folder")
        return str(path)
    return HUB_IDS[name]
