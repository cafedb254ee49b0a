"""Weight specs of the speech scorers (WER: Whisper-large-v3, Paraformer-zh; SIM: WavLM-Large+ECAPA).

Plain frozen data, so `nava-eval weights` can list and fetch them without importing torch. The
metrics resolve a spec with `resolve_weight(name, overrides)`: a user's own file or folder given
as `weights={name: path}` wins, then the project's weight cache (`metrics.weights`, when that
registry provides a `resolve`), then `$NAVA_EVAL_WEIGHTS` / `~/.cache/nava-eval/weights/<file>`.
Hub-backed specs (Whisper on the Hugging Face hub, Paraformer on ModelScope via funasr) resolve to
their hub id and the hub client caches them.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Source = Literal["hf-hub", "url", "google-drive", "funasr"]


@dataclass(frozen=True)
class SpeechWeightSpec:
    name: str
    source: Source
    location: str  # hub repo id, URL, Google Drive file id, or funasr model name
    filename: str
    sha256: str | None
    size_bytes: int | None
    license: str
    used_by: str
    notes: str = ""


WHISPER_LARGE_V3_HF = SpeechWeightSpec(
    name="whisper-large-v3",
    source="hf-hub",
    location="openai/whisper-large-v3",
    filename="model.safetensors",
    sha256=None,  # a hub repo, pinned by revision in the hub cache rather than one file hash
    size_bytes=3_087_284_237,
    license="apache-2.0",
    used_by="wer/seedtts-v1 (en), wer/versebench-v1 (en)",
    notes="WhisperForConditionalGeneration + WhisperProcessor, as seed-tts-eval run_wer.py loads them",
)
WHISPER_LARGE_V3_OPENAI = SpeechWeightSpec(
    name="whisper-large-v3-openai",
    source="url",
    location=(
        "https://openaipublic.azureedge.net/main/whisper/models/"
        "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb/large-v3.pt"
    ),
    filename="large-v3.pt",
    sha256="e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
    size_bytes=None,
    license="MIT",
    used_by="wer/openai-whisper-large-v3-v1",
    notes="openai-whisper checks this sha256 itself on download (whisper.load_model)",
)
PARAFORMER_ZH = SpeechWeightSpec(
    name="paraformer-zh",
    source="funasr",
    location="paraformer-zh",
    filename="model.pt",
    sha256=None,
    size_bytes=None,
    license="FunASR model licence (ModelScope)",
    used_by="wer/seedtts-v1 (zh)",
    notes="funasr AutoModel(model='paraformer-zh') downloads it from ModelScope; needs the `zh` extra",
)
WAVLM_LARGE_FINETUNE = SpeechWeightSpec(
    name="wavlm_large_finetune",
    source="google-drive",
    location="1-aE1NfzpRCLxA4GUxX9ITI3F9LlbtEGP",
    filename="wavlm_large_finetune.pth",
    sha256=None,  # not published; recorded in provenance from the file actually used
    size_bytes=None,
    license="MIT (microsoft/UniSpeech)",
    used_by="sim/wavlm-large-ecapa-v1",
    notes="UniSpeech speaker-verification checkpoint; read with torch.load(weights_only=True)['model']",
)
WAVLM_LARGE_HF = SpeechWeightSpec(
    name="wavlm-large",
    source="hf-hub",
    location="microsoft/wavlm-large",
    filename="pytorch_model.bin",
    sha256=None,
    size_bytes=None,
    license="see the model card",
    used_by="sim/wavlm-large-ecapa-v1 (only if the checkpoint holds no upstream weights)",
    notes="s3prl's pretrained WavLM-Large, which the official strict=False load keeps for missing keys",
)

SPEECH_WEIGHTS: dict[str, SpeechWeightSpec] = {
    s.name: s
    for s in (
        WHISPER_LARGE_V3_HF,
        WHISPER_LARGE_V3_OPENAI,
        PARAFORMER_ZH,
        WAVLM_LARGE_FINETUNE,
        WAVLM_LARGE_HF,
    )
}


class WeightNotFoundError(FileNotFoundError):
    """A scorer weight file is not available locally; the message says how to provide it."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("NAVA_EVAL_WEIGHTS", Path.home() / ".cache" / "nava-eval" / "weights"))


def register_speech_weights() -> bool:
    """Add these specs to the project registry `metrics.weights` if it offers a registration hook."""
    try:
        registry = importlib.import_module("metrics.weights")
    except ImportError:
        return False
    hook = getattr(registry, "register_weight", None)
    spec_cls = getattr(registry, "WeightSpec", None)
    if hook is None or spec_cls is None:
        return False
    for spec in SPEECH_WEIGHTS.values():
        hook(to_registry_spec(spec, spec_cls))
    return True


def to_registry_spec(spec: SpeechWeightSpec, spec_cls: type) -> object:
    """Build the registry's WeightSpec from ours, passing only the fields that class declares."""
    import dataclasses

    ours = dataclasses.asdict(spec)
    aliases = {
        "url": spec.location,
        "size": spec.size_bytes,
        "repo_id": spec.location,
        "description": spec.notes,
    }
    names = {f.name for f in dataclasses.fields(spec_cls)} if dataclasses.is_dataclass(spec_cls) else set()
    kwargs = {k: v for k, v in {**aliases, **ours}.items() if k in names}
    return spec_cls(**kwargs)


def resolve_weight(name: str, overrides: Mapping[str, str | os.PathLike[str]] | None = None) -> str:
    """A local path, or for hub specs the hub id, for weight `name`; raise with instructions if absent."""
    spec = SPEECH_WEIGHTS[name]
    if overrides and name in overrides:
        path = Path(overrides[name]).expanduser()
        if not path.exists():
            raise WeightNotFoundError(f"weights[{name!r}] = {str(path)!r} does not exist")
        return str(path)
    try:
        registry = importlib.import_module("metrics.weights")
        resolver = getattr(registry, "resolve", None)
        if resolver is not None:
            found = resolver(name)
            if found:
                return str(found)
    except (ImportError, KeyError, FileNotFoundError):
        pass
    if spec.source in ("hf-hub", "funasr"):
        return spec.location
    candidate = default_cache_dir() / spec.filename
    if candidate.is_file():
        return str(candidate)
    how = (
        f"download it from Google Drive file id {spec.location}"
        if spec.source == "google-drive"
        else f"download {spec.location}"
    )
    raise WeightNotFoundError(
        f"scorer weight {name!r} ({spec.filename}) not found: {how} and put it at {candidate}, "
        f"or pass weights={{{name!r}: '/path/to/{spec.filename}'}} (CLI: --weights {name}=PATH)"
    )
