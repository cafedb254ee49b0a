"""Reference vectors for audiobox/versebench-aesthetics-v1 from the official audiobox-aesthetics 0.0.4.

A tiny WavLM config replaces DEFAULT_AUDIO_CFG (same structure: 12-channel conv front end, 16 wide, 2 layers), weights from
tests/seeded_weights.py (seed 1234, recorded with every key and shape in expected.json so the test rebuilds the checkpoint); the checkpoint is written in the official layout (state_dict with `model.` prefix,
model_cfg, target_transform) and loaded by the official AesPredictor. Files are fed as the
predictor's own read_wav would give them (torchaudio.load = PCM16/32768, channels averaged), because
torchaudio 2.11 reads files only through torchcodec (not installed here).
"""

import json
import sys
from pathlib import Path

import audiobox_aesthetics.model.aes as aes
import numpy as np
import soundfile as sf
import torch
from audiobox_aesthetics.infer import AesPredictor
from audiobox_aesthetics.model.wavlm import WavLMConfig

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
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
torch.manual_seed(1234)
model_cfg = dict(
    proj_num_layer=2,
    proj_ln=True,
    proj_act_fn="gelu",
    proj_dropout=0.0,
    nth_layer=3,
    use_weighted_layer_sum=True,
    precision="32",
    normalize_embed=True,
    output_dim=1,
)
tt = {
    "CE": {"mean": 5.1, "std": 1.3},
    "CU": {"mean": 5.9, "std": 1.1},
    "PC": {"mean": 3.2, "std": 1.7},
    "PQ": {"mean": 6.4, "std": 0.9},
}
m = aes.AesMultiOutput(**model_cfg, target_transform=tt)
# Weights from tests/seeded_weights.py (seed 1234, keyed by name), so the test rebuilds this very
# checkpoint at run time instead of reading a stored file.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from seeded_weights import seeded_state  # noqa: E402

keys = [(k, list(v.shape)) for k, v in m.state_dict().items()]
assert all(v.is_floating_point() for v in m.state_dict().values())
m.load_state_dict(seeded_state(keys, 1234), strict=True)
sd = {"model." + k: v for k, v in m.state_dict().items()}
torch.save(
    {"state_dict": sd, "model_cfg": model_cfg, "target_transform": tt}, out / "audiobox_tiny_checkpoint.pt"
)
pred = AesPredictor(checkpoint_pth=str(out / "audiobox_tiny_checkpoint.pt"), data_col="path")
rng = np.random.default_rng(7)


def voice(sr, secs, f0, ch):
    t = np.arange(int(sr * secs)) / sr
    sig = sum(
        np.sin(2 * np.pi * f0 * k * t * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))) / k for k in range(1, 6)
    )
    sig = sig * (0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t) ** 2) + 0.05 * rng.standard_normal(t.size)
    sig = 0.7 * sig / np.abs(sig).max()
    return np.stack([sig * (1 - 0.3 * c) for c in range(ch)], 1)


files = {
    "long_4k_mono.wav": (4000, 11.3, 180.0, 1),
    "short_22k_stereo.wav": (22050, 1.5, 240.0, 2),
    "exact20s_1k_mono.wav": (1000, 20.0, 90.0, 1),
}
items = []
for name, (sr, secs, f0, ch) in files.items():
    sf.write(out / name, voice(sr, secs, f0, ch), sr, subtype="PCM_16")
    data, rate = sf.read(out / name, dtype="float32", always_2d=True)  # = torchaudio.load (x/32768)
    wav = torch.from_numpy(data.T.copy()).mean(0, keepdim=True)  # read_wav: channel mean
    items.append({"path": wav, "sample_rate": rate, "name": name})
single = {it["name"]: pred.forward([it])[0] for it in items}
batched = pred.forward(items)
json.dump(
    {
        "source": "audiobox-aesthetics 0.0.4 AesPredictor.forward (the Verse-Bench toolkit's call), "
        "tiny WavLM with tests/seeded_weights.py weights (seed 1234)",
        "checkpoint": {
            "seed": 1234,
            "keys": keys,  # seeded by these names; the checkpoint's state_dict prefixes each with "model."
            "model_cfg": model_cfg,
            "target_transform": tt,
        },
        "versions": {"audiobox-aesthetics": "0.0.4", "torchaudio": "2.11.0"},
        "files": {
            n: {"one_at_a_time": single[n], "batched": b} for n, b in zip(single, batched, strict=True)
        },
    },
    open(out / "expected.json", "w"),
    indent=1,
)
print(json.dumps(single, indent=1))
print(batched)
