"""Weight specs of the speech scorers, registered in `metrics.weights` (imported lazily by it).

Two kinds of weights:
* single files that the registry caches and checks (`wavlm_large_finetune`, the openai-whisper
  `large-v3.pt`), resolved with `metrics.weights.resolve_weight` (a `--weights NAME=PATH` file
  wins, else the cache; nothing downloads implicitly: `nava-eval weights download NAME`);
* hub models that are a whole folder (transformers' Whisper-large-v3 on the Hugging Face hub,
  funasr's Paraformer-zh, the WavLM-Large fallback): `nava-eval weights download NAME` puts the
  weight file and the entry's `hub_files` in the HF cache, and `hub_source()` returns the user's
  override (a local folder) or that cached snapshot folder, used in place. It never downloads, so
  scoring works offline and loaders never fetch behind the user's back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from nava_eval.metrics.weights import WeightSpec, hub_folder, register_weight

WHISPER_HF = "whisper-large-v3"
WHISPER_OPENAI = "whisper-large-v3-openai"
PARAFORMER_ZH = "paraformer-zh"
WAVLM_FINETUNE = "wavlm_large_finetune"
WAVLM_LARGE_HF = "wavlm-large"

_NO_PUBLISHED_HASH = (
    "no sha256 of this file is published by its authors or quoted in any source we could read"
)

# Hub models: the repository whose cached snapshot folder a loader reads when the user gives no folder.
HUB_IDS: dict[str, str] = {
    WHISPER_HF: "openai/whisper-large-v3",
    PARAFORMER_ZH: "funasr/paraformer-zh",
    WAVLM_LARGE_HF: "microsoft/wavlm-large",
}

SPEECH_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name=WHISPER_HF,
        filename="model.safetensors",
        url="hf://openai/whisper-large-v3/model.safetensors",
        license="Apache-2.0 (openai/whisper-large-v3 model card)",
        used_by=("wer", "sim_speakers"),
        hub_files=(
            "config.json",
            "generation_config.json",
            "preprocessor_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "vocab.json",
            "merges.txt",
            "normalizer.json",
            "added_tokens.json",
            "special_tokens_map.json",
        ),  # fmt: skip
        unpinned_reason=_NO_PUBLISHED_HASH,
        description="Whisper-large-v3 for transformers (seed-tts-eval run_wer.py, English), read in place from "
        "the HF cache; --weights whisper-large-v3=DIR takes a local copy of the whole repo folder",
    ),
    WeightSpec(
        name=WHISPER_OPENAI,
        filename="large-v3.pt",
        url="https://openaipublic.azureedge.net/main/whisper/models/"
        "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb/large-v3.pt",
        license="MIT (openai/whisper)",
        used_by=("wer",),
        sha256="e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
        pin_source="openai/whisper's own pin: the download URL carries the sha256 (whisper/__init__.py _MODELS)",
        description="openai-whisper large-v3 checkpoint (backend='openai-whisper'); the URL carries its sha256",
        subdir="wer",
    ),
    WeightSpec(
        name=PARAFORMER_ZH,
        filename="model.pt",
        url="hf://funasr/paraformer-zh/model.pt",
        license="FunASR model licence (see the model card)",
        used_by=("wer",),
        hub_files=("config.yaml", "configuration.json", "am.mvn", "tokens.json", "seg_dict"),
        unpinned_reason=_NO_PUBLISHED_HASH,
        description="Paraformer-zh for Chinese WER via funasr AutoModel (extra `zh`), from the HF cache folder "
        "funasr/paraformer-zh; --weights paraformer-zh=DIR takes a local model folder",
    ),
    WeightSpec(
        name=WAVLM_FINETUNE,
        filename="wavlm_large_finetune.pth",
        url="https://drive.google.com/uc?export=download&id=1-aE1NfzpRCLxA4GUxX9ITI3F9LlbtEGP",
        license="MIT (microsoft/UniSpeech)",
        used_by=("sim", "sim_speakers"),
        unpinned_reason=_NO_PUBLISHED_HASH + " (distributed through Google Drive only)",
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
        used_by=("sim", "sim_speakers"),
        hub_files=("config.json", "preprocessor_config.json"),
        unpinned_reason=_NO_PUBLISHED_HASH,
        description="pretrained WavLM-Large; only used if wavlm_large_finetune.pth holds no upstream keys "
        "(the official strict=False load then keeps s3prl's pretrained WavLM-Large)",
    ),
)

for _spec in SPEECH_WEIGHTS:
    register_weight(_spec)


def hub_source(name: str, overrides: Mapping[str, str | os.PathLike[str]] | None = None) -> str:
    """A user's local folder for hub model `name`, else its cached HF snapshot folder (never downloads)."""
    return str(hub_folder(name, overrides))
