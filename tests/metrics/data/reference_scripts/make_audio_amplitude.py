"""Reference vectors for audio_amplitude (amplitude/mova-rms-lufs-v1) from MOVA's eval_audio_amplitude.py.

Run with MOVA's requirements_dnsmos.txt floors satisfied (here: numpy 1.26.4, torch 2.14.1,
torchaudio 2.11.1, pyloudnorm 0.2.0; descript-audiotools not installed, so MOVA's pyloudnorm
fallback runs, as its requirements file sets up), with `ffmpeg` on PATH (imageio-ffmpeg's binary):

    PATH=/dir/with/ffmpeg:$PATH venv/bin/python make_audio_amplitude.py MOVA/evaluation/metrics/audio_amplitude OUT_JSON

MOVA's functions run unchanged (extract_audio_from_video with target_sr 48000 — its SAMPLING_RATE —,
compute_audio_amplitude, compute_audio_loudness) except one substitution: torchcodec cannot load on
this machine (it needs FFmpeg's shared libraries, which are not installed), so
`torchcodec.decoders.AudioDecoder` is a shim that decodes the same stream with PyAV (float planar, every
channel, the stream's rate; `pts_seconds` = the time of the first decoded frame). The sha256 of the
samples it returned is recorded, so the test also checks that our decode gives the same samples.
The clips are tests/reference_speech.py's AMPLITUDE_FILES (FLAC in mp4, lossless).
"""

import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import torch
import torchaudio


class _Samples:
    def __init__(self, data, sample_rate, pts_seconds):
        self.data, self.sample_rate, self.pts_seconds = data, sample_rate, pts_seconds


DECODED = {}


class AudioDecoder:  # the shim for torchcodec.decoders.AudioDecoder
    def __init__(self, path):
        self.path = path

    def get_samples_played_in_range(self, start, stop):
        assert start == 0 and stop is None
        with av.open(self.path) as c:
            s = c.streams.audio[0]
            rs = av.AudioResampler(
                format="fltp", layout=s.codec_context.layout, rate=s.codec_context.sample_rate
            )
            chunks, first = [], None
            for fr in c.decode(s):
                first = float(fr.time) if first is None else first
                chunks += [o.to_ndarray() for o in rs.resample(fr)]
            chunks += [o.to_ndarray() for o in rs.resample(None)]
        data = np.concatenate(chunks, 1).astype(np.float32)
        DECODED[self.path] = hashlib.sha256(data.tobytes()).hexdigest()
        return _Samples(torch.from_numpy(data), s.codec_context.sample_rate, first)


shim = types.ModuleType("torchcodec.decoders")
shim.AudioDecoder = AudioDecoder
sys.modules["torchcodec"] = types.ModuleType("torchcodec")
sys.modules["torchcodec.decoders"] = shim

sys.path.insert(0, str(Path(sys.argv[1]).resolve()))
import eval_audio_amplitude as official  # noqa: E402

assert not official.AUDIOTOOLS_AVAILABLE and official.PYLOUDNORM_AVAILABLE

here = Path(__file__).resolve()
spec = importlib.util.spec_from_file_location("reference_speech", here.parents[3] / "reference_speech.py")
reference_speech = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference_speech)
ffmpeg = subprocess.run(["which", "ffmpeg"], capture_output=True, text=True).stdout.strip()
folder = reference_speech.write_amplitude_files(Path(tempfile.mkdtemp()), ffmpeg)
results = {}
for name in reference_speech.AMPLITUDE_FILES:
    path = str(folder / name)
    wave, sr = official.extract_audio_from_video(path, target_sr=official.SAMPLING_RATE)
    results[name] = {
        "amplitude_rms": official.compute_audio_amplitude(wave),
        "loudness_lufs": official.compute_audio_loudness(wave, sr),
        "samples_48k": int(wave.shape[-1]),
        "decoded_sha256": DECODED[path],
    }
    print(name, results[name])
out = {
    "source": "OpenMOSS/MOVA evaluation/metrics/audio_amplitude/eval_audio_amplitude.py, commit "
    "595a97691123e8356a65ba9fdeee23ae81aaa471 (AudioDecoder shimmed with PyAV, see the script)",
    "script": "tests/metrics/data/reference_scripts/make_audio_amplitude.py",
    "versions": {
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "pyloudnorm": getattr(pyloudnorm, "__version__", "0.2.0"),
        "av": av.__version__,
        "ffmpeg": subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split("\n")[0],
    },
    "sampling_rate": official.SAMPLING_RATE,
    "results": results,
}
Path(sys.argv[2]).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
