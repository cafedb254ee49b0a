# ruff: noqa: E402  (a reference script: imports follow the HOME/sys.path set-up for MOVA's code)
"""Reference vectors for audio_is (is/mova-panns-cnn14-v1) from MOVA's own IS code at full size.

Runs OpenMOSS/MOVA evaluation/metrics/audio_is_clap (commit 595a976) unchanged, in a venv of its
requirements_audio.txt (numpy 2.4.6, torch 2.14.1 CPU, panns-inference 0.1.1, torchlibrosa 0.1.0,
librosa 0.11.0): `extract_audio_from_video_memory(path, 32000)` (ffmpeg on PATH), then
`Cnn14Extractor()` (panns_inference.AudioTagging, full-size Cnn14) on each clip, and
`calculate_inception_score` per set; `all` = mean of the per-set IS as its main() does.

The checkpoint is not the release: a full-size Cnn14 state dict whose trained tensors are a
deterministic function of their name and shape (numpy PCG64 seeded by crc32(name), scaled per kind so
activations stay finite), saved as {"model": state_dict} where Cnn14Extractor reads it. The frozen
front end (STFT kernels, mel matrix) keeps torchlibrosa's own values. Usage:
    HOME=/scratch/home python make_audio_is.py MOVA_EVALUATION_DIR MEDIA_DIR OUT_JSON
(MEDIA_DIR written by tests/reference_audio_mova.py:write_mova_audio_wavs).
"""

import hashlib
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

mova, media, out_json = (Path(a) for a in sys.argv[1:4])
sys.path.insert(0, str(mova / "metrics" / "audio_is_clap"))
import IS
from eval_audio_is_clap import extract_audio_from_video_memory

FRONT_END = ("spectrogram_extractor.", "logmel_extractor.")


def official_value(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Also in tests/metrics/test_audio_is.py: the test rebuilds the same tensors from the names."""
    rng = np.random.default_rng([2207, zlib.crc32(name.encode())])
    z = rng.standard_normal(shape)
    if name == "bn0.running_mean":
        return -30.0 + 5.0 * z
    if name == "bn0.running_var":
        return 300.0 + 50.0 * np.abs(z)
    if name.endswith("running_var"):
        return 0.5 + 0.5 * np.abs(z)
    if name.endswith("running_mean") or name.endswith(".bias"):
        return 0.1 * z
    if len(shape) == 1:  # BatchNorm weight
        return 1.0 + 0.1 * z
    fan_in = int(np.prod(shape[1:]))
    return z * np.sqrt((2.0 if len(shape) == 4 else 0.1) / fan_in)


torch.manual_seed(0)
from panns_inference.models import Cnn14

net = Cnn14(
    sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000, classes_num=527
)
state = net.state_dict()
shapes = {}
for name, tensor in state.items():
    shapes[name] = list(tensor.shape)
    if name.startswith(FRONT_END) or name.endswith("num_batches_tracked"):
        continue
    state[name] = torch.from_numpy(official_value(name, tuple(tensor.shape)).astype(np.float32))
ckpt = Path(IS.SCRIPT_DIR) / "pann_home" / "Cnn14_mAP=0.431.pth"
torch.save({"model": state}, ckpt)
extractor = IS.Cnn14Extractor()

clips = {}
names = sorted(p.name for p in media.glob("*.wav"))
for name in names:
    audio = extract_audio_from_video_memory(str(media / name), target_sr=IS.sr)
    wav_tensor = torch.tensor(audio, dtype=torch.float32).unsqueeze(0).to(IS.device)
    prob = extractor(wav_tensor).squeeze().detach().cpu().numpy()
    clips[name] = {
        "samples_32k": int(audio.shape[0]),
        "audio_sha256": hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest(),
        "audio_head": [float(v) for v in audio[16000:16008]],
        "softmax": [float(f"{v:.9g}") for v in prob],
    }
    print(name, audio.shape, prob.max(), flush=True)

sets = {"setA": names[:3], "setB": names[3:]}
per_set = {
    s: float(
        IS.calculate_inception_score(np.vstack([np.asarray(clips[n]["softmax"], np.float32) for n in ns]))
    )
    for s, ns in sets.items()
}
result = {
    "official": "OpenMOSS/MOVA evaluation/metrics/audio_is_clap IS.py + eval_audio_is_clap.py @ 595a976",
    "versions": {"numpy": np.__version__, "torch": torch.__version__},
    "weights_rule": "official_value() in this script; front end (STFT, melW) = torchlibrosa's own",
    "shapes": shapes,
    "media_sha256": {n: hashlib.sha256((media / n).read_bytes()).hexdigest() for n in names},
    "clips": clips,
    "sets": sets,
    "is_per_set": per_set,
    "is_all": float(np.mean(list(per_set.values()))),
}
out_json.write_text(json.dumps(result, indent=1) + "\n")
ckpt.unlink()
print(per_set, result["is_all"])
