"""Reference vectors for audiobox's precision rule: the official predictor with model_cfg precision 16/bf16.

Run in the Verse-Bench toolkit's pins (numpy 1.26.4, torch 2.14.1 (the local build), torchaudio 2.11.1,
audiobox-aesthetics 0.0.4) from the repository root:

    venv/bin/python tests/metrics/data/reference_scripts/make_audiobox_precision.py OUT_JSON

It rebuilds the tiny checkpoint of make_audiobox.py (the keys and seed recorded in tests/metrics/data/audiobox/expected.json), rewrites only its
`model_cfg["precision"]` to "bf16" and to "16", and runs the official AesPredictor on the same wavs
(rebuilt by tests/reference_audio.py, fed as torchaudio.load would read them). It records the
values and the official model's `enable_autocast` flag: AesMultiOutput turns the field into a torch
dtype and then compares `str(dtype)` with "16"/"bf16", so autocast never turns on.
"""

import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import audiobox_aesthetics.model.aes as aes
import numpy as np
import soundfile as sf
import torch
from audiobox_aesthetics.infer import AesPredictor
from audiobox_aesthetics.model.wavlm import WavLMConfig

ROOT = Path(__file__).resolve().parents[4]
spec = importlib.util.spec_from_file_location("reference_audio", ROOT / "tests" / "reference_audio.py")
reference_audio = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference_audio)

# The tiny WavLM of make_audiobox.py (same DEFAULT_AUDIO_CFG patch).
cfg = dict(aes.DEFAULT_AUDIO_CFG.__dict__)
cfg.update(
    encoder_layers=2,
    encoder_embed_dim=16,
    encoder_ffn_embed_dim=32,
    encoder_attention_heads=2,
    conv_feature_layers="[(12,10,5)] + [(12,3,2)] * 4 + [(12,2,2)] * 2",
    conv_pos=16,
    conv_pos_groups=4,
)
aes.DEFAULT_AUDIO_CFG = WavLMConfig(cfg)

work = Path(tempfile.mkdtemp())
wavs = reference_audio.write_audiobox_wavs(work / "wavs")
sys.path.insert(0, str(ROOT / "tests"))
from seeded_weights import seeded_state  # noqa: E402

recorded = json.loads((ROOT / "tests/metrics/data/audiobox/expected.json").read_text())["checkpoint"]
ckpt = {
    "state_dict": {"model." + k: v for k, v in seeded_state(recorded["keys"], recorded["seed"]).items()},
    "model_cfg": dict(recorded["model_cfg"]),
    "target_transform": recorded["target_transform"],
}
out = {
    "source": "audiobox-aesthetics 0.0.4 AesPredictor.forward with model_cfg precision rewritten",
    "runs": {},
}
for precision in ("bf16", "16", "32"):
    ckpt["model_cfg"]["precision"] = precision
    path = work / f"ckpt_{precision}.pt"
    torch.save(ckpt, path)
    pred = AesPredictor(checkpoint_pth=str(path), data_col="path")
    items = []
    for name in reference_audio.AUDIOBOX_FILES:
        data, rate = sf.read(wavs / name, dtype="float32", always_2d=True)
        items.append({"path": torch.from_numpy(data.T.copy()).mean(0, keepdim=True), "sample_rate": rate})
    values = pred.forward(items)
    out["runs"][precision] = {
        "model_precision": str(pred.model.precision),
        "enable_autocast": bool(pred.model.enable_autocast),
        "files": dict(zip(reference_audio.AUDIOBOX_FILES, values, strict=True)),
    }
out["versions"] = {"numpy": np.__version__, "torch": torch.__version__, "audiobox-aesthetics": "0.0.4"}
Path(sys.argv[1]).write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps(out, indent=1))
