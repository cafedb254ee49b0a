"""Reference vectors for dnsmos/mova-p808-v1 (and the P.835 heads) from MOVA's own eval_dnsmos.py.

Run in a plain venv with MOVA's envs/requirements_dnsmos.txt floors (librosa 0.11.0, numpy 2.4.6,
soundfile 0.14.0, onnxruntime 1.32.0, scipy 1.17.1 were resolved), with `ffmpeg` on PATH (the
imageio-ffmpeg binary nava-eval also uses), from a checkout of OpenMOSS/MOVA:

    PATH=/dir/with/ffmpeg:$PATH venv/bin/python make_dnsmos.py MOVA/evaluation/metrics/dnsmos OUT_JSON

It rebuilds the clips with tests/reference_speech.py (espeak-ng real speech, with and without noise;
22.05 kHz, 16 kHz over one window, 44.1 kHz stereo 19 s, silence, and an mp4), records their sha256,
and runs MOVA's `ComputeScore` with the ONNX files MOVA bundles (DNSMOS/model_v8.onnx,
DNSMOS/sig_bak_ovr.onnx; their sha256 are recorded too) on CPU:
* a wav goes straight to `ComputeScore(path, 16000, False, only_p808=False)` (soundfile +
  librosa.resample), as the class does;
* the mp4 goes through MOVA's `extract_audio_from_video_to_file` (ffmpeg → 16 kHz mono pcm_s16le)
  first, as `evaluate_video_list` does. The stereo wav is also sent that way (labelled `via_ffmpeg`),
  since ComputeScore itself cannot read a stereo wav (its error is recorded).
"""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import onnxruntime
import soundfile

HERE = Path(__file__).resolve()
dnsmos_dir = Path(sys.argv[1]).resolve()
out_json = Path(sys.argv[2])
sys.path.insert(0, str(dnsmos_dir))
import eval_dnsmos as official  # noqa: E402

spec = importlib.util.spec_from_file_location("reference_speech", HERE.parents[3] / "reference_speech.py")
reference_speech = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference_speech)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


work = Path(tempfile.mkdtemp())
ffmpeg = subprocess.run(["which", "ffmpeg"], capture_output=True, text=True).stdout.strip()
folder = reference_speech.write_speech_files(work / "clips", ffmpeg=ffmpeg)
p808 = dnsmos_dir / "DNSMOS" / "model_v8.onnx"
primary = dnsmos_dir / "DNSMOS" / "sig_bak_ovr.onnx"
scorer = official.ComputeScore(str(primary), str(p808), use_gpu=False)

keys = ("P808_MOS", "SIG", "BAK", "OVRL", "SIG_raw", "BAK_raw", "OVRL_raw", "num_hops", "len_in_sec")
results = {}
for name in reference_speech.SPEECH_FILES:
    path = folder / name
    routes = ["via_ffmpeg"] if name.endswith(".mp4") else ["direct"]
    if "stereo" in name and name.endswith(".wav"):
        routes.append("via_ffmpeg")
    for route in routes:
        key = name if route == "direct" else f"{name}::via_ffmpeg"
        try:
            if route == "via_ffmpeg":
                wav = official.extract_audio_from_video_to_file(str(path), target_sr=16000)
                try:
                    clip = scorer(wav, 16000, False, only_p808=False)
                    decoded = soundfile.read(wav, dtype="int16")[0]
                finally:
                    os.remove(wav)
                results[key] = {k: clip[k] for k in keys}
                results[key]["decoded_16k_pcm_sha256"] = hashlib.sha256(decoded.tobytes()).hexdigest()
            else:
                clip = scorer(str(path), 16000, False, only_p808=False)
                results[key] = {k: clip[k] for k in keys}
        except Exception as exc:  # recorded: what the official class does with this input
            results[key] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print(key, results[key])

out = {
    "source": "OpenMOSS/MOVA evaluation/metrics/dnsmos/eval_dnsmos.py (ComputeScore, "
    "extract_audio_from_video_to_file), commit 595a97691123e8356a65ba9fdeee23ae81aaa471",
    "script": "tests/metrics/data/reference_scripts/make_dnsmos.py",
    "versions": {
        "librosa": librosa.__version__,
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "soundfile": soundfile.__version__,
        "espeak-ng": reference_speech.espeak_version(),
        "ffmpeg": subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split("\n")[0],
    },
    "onnx_sha256": {"model_v8.onnx": sha(p808), "sig_bak_ovr.onnx": sha(primary)},
    "files_sha256": {n: sha(folder / n) for n in reference_speech.SPEECH_FILES if not n.endswith(".mp4")},
    "results": results,
}
out_json.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
