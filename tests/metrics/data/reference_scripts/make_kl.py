# ruff: noqa: E402  (a reference script: imports follow the sys.path set-up for the toolkit)
"""Reference vectors for kl: the Verse-Bench toolkit's KLDInferencer (kl/kld_inferencer.py, commit 5645a09).

Runs the official code unchanged, under the toolkit's requirements.txt pins (numpy 1.26.4, librosa
0.11.0, torch 2.14.1 / torchaudio 2.11.1 as the builds installable here, timm 1.0.x) plus the two
packages it imports without pinning: hear21passt 0.0.26 (the latest) and pyloudnorm 0.2.0. Two
substitutions, both outside the measured path:
* `.cuda()` (module and tensors) is a no-op: this machine has no GPU;
* the checkpoint hear21passt downloads (passt-s-f128-p16-s10-ap.476-swa.pt) is replaced by a file of
  seeded random weights (`value_for`, the same formula as `metrics.passt_model.seeded_state_dict`),
  saved under the key names of hear21passt's own network and loaded by hear21passt's own
  `load_pretrained` (filter function, input-conv adaptation, strict load_state_dict).
CONFIG `full` is the released architecture (PaSST-S: embed 768, depth 12, 12 heads, ~86M parameters);
`tiny` is the same class and wrapper with embed 32, depth 2, 2 heads (what the fast tests run).

Records, per clip: the sha256 of the wav, librosa's length at 32 kHz, the length of every window the
toolkit feeds PaSST, and `return_probabilities` (softmax of the window-mean logits, 527 classes); per
(generated, ground truth) pair: `KLDInferencer().infer(generated, ground_truth)`, or the error it raises.

    PYTHONPATH=HEAR21PASST_DIR venv/bin/python make_kl.py VERSE_BENCH_CHECKOUT OUT_DIR full|tiny
"""

import hashlib
import importlib.util
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

checkout, out, config = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
out.mkdir(parents=True, exist_ok=True)
sys.path.insert(0, checkout)
torch.set_num_threads(2)
torch.nn.Module.cuda = lambda self, *a, **k: self
torch.Tensor.cuda = lambda self, *a, **k: self

SEED = 2207
TOKENS = ("cls_token", "dist_token", "new_pos_embed", "freq_new_pos_embed", "time_new_pos_embed")


def value_for(name, shape):
    """Seeded weights with a spread that keeps a random PaSST's class distributions far from uniform."""
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    z = rng.standard_normal(shape)
    if len(shape) == 1 and name.endswith(".weight"):
        return 1.0 + 0.1 * z  # LayerNorm scales
    if len(shape) == 1:
        return 0.1 * z  # biases
    if name in TOKENS:
        return 0.5 * z
    return z * (1.2 / math.sqrt(int(np.prod(shape[1:]))))  # linear / conv: by fan-in


import hear21passt.models.helpers.vit_helpers as vh
import hear21passt.models.passt as hp

SIZES = {
    "full": dict(embed_dim=768, depth=12, num_heads=12),
    "tiny": dict(embed_dim=32, depth=2, num_heads=2),
}
if config == "tiny":
    # get_model() looks this function up by name: the same class and default_cfg, smaller sizes.
    def passt_s_swa_p16_128_ap476(pretrained=False, **kwargs):
        return hp._create_vision_transformer(
            "passt_s_swa_p16_128_ap476",
            pretrained=pretrained,
            distilled=True,
            patch_size=16,
            **SIZES["tiny"],
            **kwargs,
        )

    hp.passt_s_swa_p16_128_ap476 = passt_s_swa_p16_128_ap476

# The network hear21passt builds, at random init, gives the checkpoint's key names and shapes.
net = hp.get_model(arch="passt_s_swa_p16_128_ap476", pretrained=False)
state = {
    k: torch.from_numpy(np.asarray(value_for(k, tuple(v.shape)), dtype=np.float32))
    for k, v in net.state_dict().items()
}
ckpt = out / f"passt_{config}_random.pt"
torch.save(state, ckpt)
vh.download_cached_file = lambda url, check_hash=False, progress=False: str(ckpt)
pretrained_url = hp.default_cfgs["passt_s_swa_p16_128_ap476"]["url"]

import librosa
import pyloudnorm as pyln
from kl.kld_inferencer import KLDInferencer, return_probabilities

inf = KLDInferencer()  # get_basic_model(mode="logits"), eval(), "cuda"
n_params = sum(p.numel() for p in inf.model.net.parameters())
loaded = {k: v for k, v in inf.model.net.state_dict().items()}
assert all(torch.equal(loaded[k], state[k]) for k in state), "the official loader changed the weights"

windows = []


class Recorder:
    """Forwards to the official model and records the length of every window it is fed."""

    def __init__(self, model):
        self.model = model

    def __call__(self, x):
        windows.append(int(x.shape[-1]))
        return self.model(x)


inf.model = Recorder(inf.model)

here = Path(__file__).resolve()
spec = importlib.util.spec_from_file_location("reference_audio", here.parents[3] / "reference_audio.py")
reference_audio = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference_audio)
wavs = reference_audio.write_kl_wavs(out / "wavs")

files = {}
for name in reference_audio.KL_FILES:
    path = str(wavs / name)
    audio, _ = librosa.load(path, sr=32000, mono=True)
    rec = {"wav_sha256": hashlib.sha256((wavs / name).read_bytes()).hexdigest(), "librosa_length": len(audio)}
    windows.clear()
    try:
        with np.errstate(all="ignore"):
            p = return_probabilities(inf.model, path)
        rec["windows"] = list(windows)
        p = p.numpy().astype(np.float64)
        rec["finite"] = bool(np.isfinite(p).all())
        rec["probabilities"] = [float(f"{v:.8g}") for v in p] if rec["finite"] else None
    except Exception as exc:  # the toolkit fails on this clip: record how
        rec["error"] = f"{type(exc).__name__}: {exc}"
    files[name] = rec
    print(name, {k: v for k, v in rec.items() if k != "probabilities"}, flush=True)

PAIRS = [
    ("bursts_44k_3p7s_stereo.wav", "noise_16k_10s.wav"),
    ("tone_22k_16p5s.wav", "tone_48k_5s_stereo.wav"),
    ("chirp_44k_1p2s.wav", "noise_16k_10s.wav"),
    ("noise_16k_10s.wav", "tone_22k_16p5s.wav"),
    ("tone_48k_5s_stereo.wav", "bursts_44k_3p7s_stereo.wav"),
    ("silence_16k_4s.wav", "noise_16k_10s.wav"),
    ("tone_48k_5s_stereo.wav", "silence_16k_4s.wav"),
]
pairs = []
for gen, gt in PAIRS:
    with np.errstate(all="ignore"):
        kl = inf.infer(str(wavs / gen), str(wavs / gt))  # calculate_metrics: infer(wav_path, set2 gt wav)
    pairs.append({"generated": gen, "ground_truth": gt, "kl": kl if math.isfinite(kl) else str(kl)})
    print(gen, gt, kl, flush=True)

json.dump(
    {
        "source": "Dorniwang/Verse-Bench kl/kld_inferencer.py KLDInferencer (commit 5645a09) under its "
        f"requirements.txt pins, hear21passt 0.0.26, seeded random weights, config {config} "
        "(see reference_scripts/make_kl.py)",
        "versions": {
            "numpy": np.__version__,
            "librosa": librosa.__version__,
            "torch": torch.__version__,
            "pyloudnorm": getattr(pyln, "__version__", "0.2.0"),
            "hear21passt": "0.0.26",
        },
        "config": config,
        "sizes": SIZES[config],
        "n_params": n_params,
        "weights_seed": SEED,
        "checkpoint_url": pretrained_url,
        "state_dict_shapes": {k: list(v.shape) for k, v in state.items()},
        "files": files,
        "pairs": pairs,
    },
    open(out / f"expected_{config}.json", "w"),
)
