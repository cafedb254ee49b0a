"""Weight specs of the Verse-Bench audio scorers (audiobox, clap, wer_sensevoice), registered lazily.

Single files resolved with `metrics.weights.resolve_weight` (a `--weights NAME=PATH` file wins;
nothing downloads implicitly, `nava-eval weights download NAME` does):
* `audiobox-aesthetics`: `checkpoint.pt` of facebookresearch/audiobox-aesthetics (the file the
  Verse-Bench toolkit loads from `models/audiobox-aesthetics/checkpoint.pt`);
* `clap-630k-audioset-fusion`: LAION-CLAP `630k-audioset-fusion-best.pt` (the toolkit's
  `fd/clap_inferencer.py`; also MOVA's CLAP score), read in place from the HF cache.

Hub folders (`hub_source()` gives the user's folder or the cached snapshot folder, never downloads):
* `sensevoice-small` and `fsmn-vad`: the funasr models the toolkit loads with `hub="hf"`;
* `roberta-base`: the tokenizer files of CLAP's text branch (`RobertaTokenizer`, 77 tokens).

None is pinned: no sha256 of these files is published by their authors or quoted in a source we
could read from this workplace (the Hugging Face LFS pointers are not reachable here), so each says
so in `unpinned_reason`; `weights download --trust-unpinned` fetches them and every run records the
sha256 of the file it used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from nava_eval.metrics.weights import WeightSpec, hub_folder, register_weight

AUDIOBOX = "audiobox-aesthetics"
CLAP = "clap-630k-audioset-fusion"
SENSEVOICE = "sensevoice-small"
FSMN_VAD = "fsmn-vad"
ROBERTA = "roberta-base"

_NO_PUBLISHED_HASH = (
    "no sha256 of this file is published by its authors or quoted in any source we could read "
    "(its Hugging Face LFS pointer was not reachable from the workplace that added it)"
)

AUDIO_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name=AUDIOBOX,
        filename="checkpoint.pt",
        # audiobox_aesthetics/utils.py DEFAULT_S3_URL; mirror = its DEFAULT_HF_REPO/DEFAULT_CKPT_FNAME.
        url="https://dl.fbaipublicfiles.com/audiobox-aesthetics/checkpoint.pt",
        mirrors=("hf://facebook/audiobox-aesthetics/checkpoint.pt",),
        license="CC-BY-4.0 (facebookresearch/audiobox-aesthetics model card)",
        used_by=("audiobox",),
        unpinned_reason=_NO_PUBLISHED_HASH,
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
        used_by=("clap", "clap_mova"),
        unpinned_reason=_NO_PUBLISHED_HASH,
        description="LAION-CLAP HTSAT-tiny fusion + RoBERTa text branch (Verse-Bench fd/clap_inferencer.py). "
        "Loaded with torch.load(weights_only=True); the tokenizer comes from roberta-base",
    ),
    WeightSpec(
        name=SENSEVOICE,
        filename="model.pt",
        url="hf://FunAudioLLM/SenseVoiceSmall/model.pt",
        license="FunASR model licence (FunAudioLLM/SenseVoiceSmall model card)",
        used_by=("wer_sensevoice",),
        hub_files=("config.yaml", "configuration.json", "am.mvn", "chn_jpn_yue_eng_ko_spectok.bpe.model"),
        unpinned_reason=_NO_PUBLISHED_HASH,
        description="SenseVoiceSmall for the Verse-Bench WER via funasr (extra `zh`); funasr caches the "
        "whole model folder itself; --weights sensevoice-small=DIR takes a local folder (the toolkit's "
        "models/SenseVoiceSmall)",
    ),
    WeightSpec(
        name=FSMN_VAD,
        filename="model.pt",
        url="hf://funasr/fsmn-vad/model.pt",
        license="FunASR model licence (funasr/fsmn-vad model card)",
        used_by=("wer_sensevoice",),
        hub_files=("config.yaml", "configuration.json", "am.mvn"),
        unpinned_reason=_NO_PUBLISHED_HASH,
        description="fsmn-VAD segmenting the clip before SenseVoice (max segment 30 s); funasr caches it; "
        "--weights fsmn-vad=DIR takes a local folder",
    ),
    WeightSpec(
        name=ROBERTA,
        filename="vocab.json",
        url="hf://FacebookAI/roberta-base/vocab.json",
        license="MIT (FacebookAI/roberta-base model card)",
        used_by=("clap", "clap_mova"),
        hub_files=("merges.txt", "tokenizer_config.json", "config.json"),
        unpinned_reason=_NO_PUBLISHED_HASH,
        description="RoBERTa tokenizer files (vocab.json + merges.txt) for CLAP's text branch; the weights of "
        "the text branch come from the CLAP checkpoint; --weights roberta-base=DIR takes a local folder",
    ),
)

for _spec in AUDIO_WEIGHTS:
    register_weight(_spec)


def hub_source(name: str, overrides: Mapping[str, str | os.PathLike[str]] | None = None) -> str:
    """A user's local folder for hub model `name`, else its cached HF snapshot folder (never downloads)."""
    return str(hub_folder(name, overrides))
