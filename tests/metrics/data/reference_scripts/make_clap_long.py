# ruff: noqa: E402  (a reference script: imports follow the sys.path/env set-up for the toolkit)
"""A clip longer than 10 s through the toolkit's ClapInferencer (same tiny model as make_clap.py).

The toolkit draws the three fusion chunks with the unseeded global np.random.choice; here it is
replaced by "the first index of each third" so the official output is reproducible, and the test
feeds the same chunk starts to our implementation.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

out = Path(sys.argv[1])
models = out / "models"
os.environ["MODELS_PATH"] = str(models)
sys.path.insert(0, os.environ.get("VERSE_BENCH", "/tmp/ref-verse"))  # a Verse-Bench checkout
import fd.clap_module.factory as factory
import fd.clap_module.htsat as ht
import fd.clap_module.model as cm


def tiny_htsat(audio_cfg, enable_fusion=False, fusion_type="None"):
    return ht.HTSAT_Swin_Transformer(
        spec_size=256,
        patch_size=4,
        patch_stride=(4, 4),
        num_classes=audio_cfg.class_num,
        embed_dim=8,
        depths=[1, 1, 2, 1],
        num_heads=[1, 2, 2, 4],
        window_size=8,
        config=audio_cfg,
        enable_fusion=enable_fusion,
        fusion_type=fusion_type,
    )


cm.create_htsat_model = tiny_htsat
factory._MODEL_CONFIGS["HTSAT-tiny"]["embed_dim"] = 64
import fd.clap_inferencer as ci

_Orig = ci.CLAP_Module
ci.CLAP_Module = lambda enable_fusion, device: _Orig(enable_fusion=enable_fusion, device="cpu")
picked = []


def first_of(r):
    picked.append(int(r[0]))
    return r[0]


np.random.choice = first_of
inf = ci.ClapInferencer(str(models))
sr = 4000
t = np.arange(int(sr * 12.5)) / sr
s = np.sin(2 * np.pi * 300 * t) * (0.3 + 0.7 * (t > 6)) + 0.2 * np.sin(2 * np.pi * 1700 * t) * (t < 3)
sf.write(out / "long_4k_12s.wav", 0.5 * s / np.abs(s).max(), sr, subtype="PCM_16")
emb = inf.get_audio_emb(str(out / "long_4k_12s.wav")).numpy()[0]
import librosa as _librosa
import transformers as _transformers

_versions = {
    "numpy": np.__version__,
    "librosa": _librosa.__version__,
    "transformers": _transformers.__version__,
}
json.dump(
    {
        "versions": _versions,
        "source": "Dorniwang/Verse-Bench fd/clap_inferencer.py get_audio_emb with np.random.choice -> first index",
        "chunk_starts": picked,
        "embedding": emb.tolist(),
    },
    open(out / "expected_long.json", "w"),
)
print(picked)
