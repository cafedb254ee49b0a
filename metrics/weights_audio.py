"""Weight specs of the Verse-Bench audio scorers (audiobox, clap, wer_sensevoice), registered lazily.

Single files the registry caches and checks (resolved with `metrics.weights.resolve_weight`; a
`--weights NAME=PATH` file wins, nothing downloads implicitly):
* `audiobox-aesthetics`: `checkpoint.pt` of facebookresearch/audiobox-aesthetics (the file the
  Verse-Bench toolkit loads from `models/audiobox-aesthetics/checkpoint.pt`);
* `clap-630k-audioset-fusion`: LAION-CLAP `630k-audioset-fusion-best.pt` (the toolkit's
  `fd/clap_inferencer.py`; also MOVA's CLAP score).

Hub folders (the hub client caches them; `hub_source()` gives the user's folder or the hub id):
* `sensevoice-small` and `fsmn-vad`: funasr models, loaded with `hub="hf"` as the toolkit does;
* `roberta-base`: the tokenizer files CLAP's text branch uses (`RobertaTokenizer`, max 77 tokens).

sha256 and size are not pinned here: the Hugging Face LFS pointers of these files could not be read
from this workplace (no hub access), so `weights verify` reports them as "unpinned" and every run
records the sha256 of the file it used. Pin them from the LFS pointer pages named in each entry.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from nava_eval.metrics.weights import WeightSpec, register_weight

AUDIOBOX = "audiobox-aesthetics"
CLAP = "clap-630k-audioset-fusion"
SENSEVOICE = "sensevoice-small"
FSMN_VAD = "fsmn-vad"
ROBERTA = "roberta-base"

# Hub models: the id the hub client resolves when the user gives no local folder.
HUB_IDS: dict[str, str] = {
    SENSEVOICE: "FunAudioLLM/SenseVoiceSmall",  # funasr AutoModel(model=..., hub="hf")
    FSMN_VAD: "fsmn-vad",  # funasr's name; with hub="hf" it resolves to funasr/fsmn-vad
    ROBERTA: "FacebookAI/roberta-base",  # transformers' "roberta-base"
}

AUDIO_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name=AUDIOBOX,
        filename="checkpoint.pt",
        # audiobox_aesthetics/utils.py DEFAULT_S3_URL; mirror = its DEFAULT_HF_REPO/DEFAULT_CKPT_FNAME.
        url="https://dl.fbaipublicfiles.com/audiobox-aesthetics/checkpoint.pt",
        mirrors=("hf://facebook/audiobox-aesthetics/checkpoint.pt",),
        license="CC-BY-4.0 (facebookresearch/audiobox-aesthetics model card)",
        used_by=("audiobox",),
        description="Audiobox Aesthetics (WavLM-base + 4 heads: CE, CU, PC, PQ); Verse-Bench toolkit's "
        "audio_box/audio_box_inferencer.py. Loaded with torch.load(weights_only=True)",
        subdir="audiobox",
    ),
    WeightSpec(
        name=CLAP,
        filename="630k-audioset-fusion-best.pt",
        # laion_clap hook.py load_ckpt: download_link + '630k-audioset-fusion-best.pt' (model_id 3).
        url="hf://lukewys/laion_clap/630k-audioset-fusion-best.pt",
        license="CC0-1.0 (LAION-CLAP checkpoints, lukewys/laion_clap model card)",
        used_by=("clap",),
        description="LAION-CLAP HTSAT-tiny fusion + RoBERTa text branch (Verse-Bench fd/clap_inferencer.py). "
        "Loaded with torch.load(weights_only=True); the tokenizer comes from roberta-base",
        subdir="clap",
    ),
    WeightSpec(
        name=SENSEVOICE,
        filename="model.pt",
        url="hf://FunAudioLLM/SenseVoiceSmall/model.pt",
        license="FunASR model licence (FunAudioLLM/SenseVoiceSmall model card)",
        used_by=("wer_sensevoice",),
        description="SenseVoiceSmall for the Verse-Bench WER via funasr (extra `zh`); funasr caches the "
        "whole model folder itself; --weights sensevoice-small=DIR takes a local folder (the toolkit's "
        "models/SenseVoiceSmall)",
        subdir="wer/sensevoice-small",
    ),
    WeightSpec(
        name=FSMN_VAD,
        filename="model.pt",
        url="hf://funasr/fsmn-vad/model.pt",
        license="FunASR model licence (funasr/fsmn-vad model card)",
        used_by=("wer_sensevoice",),
        description="fsmn-VAD segmenting the clip before SenseVoice (max segment 30 s); funasr caches it; "
        "--weights fsmn-vad=DIR takes a local folder",
        subdir="wer/fsmn-vad",
    ),
    WeightSpec(
        name=ROBERTA,
        filename="vocab.json",
        url="hf://FacebookAI/roberta-base/vocab.json",
        license="MIT (FacebookAI/roberta-base model card)",
        used_by=("clap",),
        description="RoBERTa tokenizer files (vocab.json + merges.txt) for CLAP's text branch; the weights of "
        "the text branch come from the CLAP checkpoint; --weights roberta-base=DIR takes a local folder",
        subdir="clap/roberta-base",
    ),
)

for _spec in AUDIO_WEIGHTS:
    register_weight(_spec)


def hub_source(name: str, overrides: Mapping[str, str | os.PathLike[str]] | None = None) -> str:
    """A user's local folder for hub model `name` (checked to exist), else its hub id."""
    if overrides and name in overrides:
        path = Path(overrides[name]).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"--weights {name}={path}: no such file or folder")
        return str(path)
    return HUB_IDS[name]
