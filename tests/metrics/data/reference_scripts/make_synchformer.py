"""Reference vectors for DeSync (MOVA) from the official Synchformer code at full size, random weights.

Run in a plain venv with the official code's requirements (torch==2.14.1, torchvision==0.29.1,
transformers~=4.56.1, timm~=1.0.19, einops, omegaconf, numpy~=1.26, av, imageio-ffmpeg) and
torchaudio 2.8.0's pure-Python files (its compiled extension does not load with torch 2.14; `TA_STUB`
names a module that registers them, see `load_torchaudio_stub`):

    python make_synchformer.py MOVA_AV_QUALITY_DIR TA_STUB_DIR OUT.json

MOVA_AV_QUALITY_DIR is OpenMOSS/MOVA `evaluation/metrics/av_quality` at commit 595a976 (unmodified).
What runs, unmodified: `av_bench.synchformer.synchformer.Synchformer` (the full network, built at
its release size), `make_class_grid`; `media_dataset.py`'s `video_transform` and
`synchformer_audio_transform` and `MediaDataset`'s `sync_transform` composition;
`extract.py`'s `encode_audio_with_sync`, `extract_video.py`'s `encode_video_with_sync` and
`audio_dataset.py`'s `pad_or_truncate` (taken out of their files with `ast`: the files import
DOVER, ImageBind and PANNs at the top); torchaudio 2.8's `Resample` and `MelSpectrogram`.
Our driver replaces only the decoders: torio's StreamingMediaDecoder becomes the ffmpeg CLI running
the same `fps` filter to rgb24 (uint8 [T, C, H, W] chunks, as torio returns), and `torchaudio.load`
becomes PyAV's decode to float. The DeSync reduction (compare_v_a on the first and on the last 14
segments, |grid[argmax]|, their mean) follows `evaluate_audio_video`'s lines.

Weights: every tensor of the official state dict is `0.02 · randn(shape)` from a generator seeded
with crc32(key), plus 1 for 1-D `*.weight` (LayerNorm scales): `reference_weights()`, which the
test repeats for our network. The clips come from tests/synchformer_clips.py, built with the ffmpeg
imageio-ffmpeg bundles; their sha256 go into OUT.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import zlib
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[3]))  # tests/

import synchformer_clips as clips  # noqa: E402

DURATION_MARGIN = 0.1  # run_eval.sh: --duration "video_second - 0.1"


def reference_weights(state: dict) -> dict:
    import torch

    out = {}
    for key, value in state.items():
        gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
        w = torch.randn(tuple(value.shape), generator=gen) * 0.02
        if value.dim() == 1 and key.endswith(".weight"):
            w = w + 1.0
        out[key] = w
    return out


def functions_from(path: Path, names: set[str], namespace: dict) -> dict:
    """Exec the named top-level functions of `path` (unmodified source) in `namespace`."""
    tree = ast.parse(path.read_text())
    body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    missing = names - {n.name for n in body}
    if missing:
        raise SystemExit(f"{path}: no function {missing}")
    for node in body:
        node.decorator_list = []
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


class FfmpegDecoder:
    """torio.io.StreamingMediaDecoder's calls used by video_transform, on the ffmpeg CLI's fps filter."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.streams: list[tuple[int, float | None]] = []

    def add_basic_video_stream(self, frames_per_chunk, frame_rate=None, format="rgb24"):  # noqa: A002
        self.streams.append((frames_per_chunk, frame_rate))

    def fill_buffer(self) -> None:
        pass

    def pop_chunks(self):
        import av
        import numpy as np
        import torch
        from imageio_ffmpeg import get_ffmpeg_exe

        with av.open(self.path) as c:
            w, h = c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height
        chunks = []
        for count, rate in self.streams:
            vf = f"fps={rate}" if rate is not None else "null"
            cmd = [get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", self.path, "-vf", vf]
            cmd += ["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
            raw = subprocess.run(cmd, capture_output=True, check=True).stdout
            frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)[:count]
            chunks.append(torch.from_numpy(frames.copy()).permute(0, 3, 1, 2))
        return chunks


def load_audio(path: str):
    """torchaudio.load(path): every channel as float32 [C, n] and the rate (here through PyAV)."""
    import av
    import numpy as np
    import torch

    with av.open(path) as c:
        s = c.streams.audio[0]
        parts = []
        rate = s.codec_context.sample_rate
        for frame in c.decode(s):
            d = frame.to_ndarray()
            if not frame.format.is_planar:
                d = d.reshape(-1, len(frame.layout.channels)).T
            if frame.format.name.startswith("s16"):
                d = d.astype(np.float32) / 32768.0
            parts.append(d.astype(np.float32))
    return torch.from_numpy(np.concatenate(parts, axis=1)), rate


def container_seconds(path: str) -> float:
    import av

    with av.open(path) as c:
        return c.duration / 1_000_000


def summary(t) -> dict:
    t = t.detach().double()
    flat = t.flatten()
    idx = [int(i) for i in range(0, flat.numel(), max(1, flat.numel() // 16))][:16]
    return {
        "shape": list(t.shape),
        "sum": float(t.sum()),
        "abs_sum": float(t.abs().sum()),
        "samples_at": idx,
        "samples": [float(flat[i]) for i in idx],
    }


def main(official_dir: str, stub_dir: str, out_json: str) -> None:
    import torch

    sys.path.insert(0, official_dir)
    # the network first: transformers probes for torchaudio at import and must not see the stub
    from av_bench.synchformer.synchformer import Synchformer, make_class_grid

    sys.path.insert(0, stub_dir)
    import ta_stub  # noqa: F401 (registers torchaudio 2.8's Python files as `torchaudio`)
    import torchaudio.transforms._transforms as tat
    import torchvision.transforms.v2 as v2
    from einops import rearrange
    from imageio_ffmpeg import get_ffmpeg_exe

    torchaudio = sys.modules["torchaudio"]
    torchaudio.transforms = tat

    root = Path(official_dir)
    ns: dict = {"torch": torch, "torchaudio": torchaudio, "np": __import__("numpy"), "rearrange": rearrange}
    ns.update(
        {"_IMAGEBIND_FPS": 0.5, "_SYNC_FPS": 25.0, "_HAS_TORIO": True, "logging": __import__("logging")}
    )
    ns["StreamingMediaDecoder"] = FfmpegDecoder
    ns["log"] = __import__("logging").getLogger("ref")
    functions_from(
        root / "av_bench/data/media_dataset.py", {"video_transform", "synchformer_audio_transform"}, ns
    )
    functions_from(root / "av_bench/data/audio_dataset.py", {"pad_or_truncate"}, ns)
    functions_from(root / "av_bench/extract.py", {"encode_audio_with_sync"}, ns)
    functions_from(root / "extract_video.py", {"encode_video_with_sync"}, ns)
    # MediaDataset.sync_transform, as its __init__ writes it
    sync_transform = v2.Compose(
        [
            v2.Resize(224, interpolation=v2.InterpolationMode.BICUBIC),
            v2.CenterCrop(224),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
        ]
    )
    mel = tat.MelSpectrogram(sample_rate=16000, win_length=400, hop_length=160, n_fft=1024, n_mels=128)

    model = Synchformer().eval()
    model.load_state_dict(reference_weights(model.state_dict()))
    grid = make_class_grid(-2, 2, 21)

    work = Path(out_json).with_suffix("")
    ffmpeg = get_ffmpeg_exe()
    cases = []
    for spec in clips.CLIPS:
        path = clips.build_clip(spec, work / "clips", ffmpeg)
        video_second = float(round(container_seconds(str(path))))
        duration = video_second - DURATION_MARGIN
        case: dict = {"name": spec.name, "sha256": clips.sha256(path), "video_second": video_second}
        case["duration"] = duration
        raw, sr = load_audio(str(path))
        try:
            audio = ns["synchformer_audio_transform"](raw, sr, int(16000 * duration), {})
        except ValueError as exc:
            case["audio_error"] = str(exc)
            cases.append(case)
            continue
        _, video = ns["video_transform"](
            str(path), duration, lambda x: x, sync_transform, lambda xs: xs, synchformer_resample=True
        )
        case["audio"] = summary(audio)
        case["video"] = summary(video)
        with torch.no_grad():
            afeat = ns["encode_audio_with_sync"](model, audio[None], mel)
            vfeat = ns["encode_video_with_sync"](model, video[None])
            # the mel input itself, for the preprocessing test (encode_audio_with_sync's first lines)
            seg = torch.stack(
                [audio[i * 5120 : i * 5120 + 10240] for i in range((len(audio) - 10240) // 5120 + 1)]
            )
            m = ns["pad_or_truncate"](torch.log(mel(seg[None]) + 1e-6), 66)
            m = (m - -4.2677393) / (2 * 4.5689974)
            case["mel"] = summary(m)
            case["afeat"] = summary(afeat)
            case["vfeat"] = summary(vfeat)
            try:
                first = model.compare_v_a(vfeat[:, :14], afeat[:, :14])
                last = model.compare_v_a(vfeat[:, -14:], afeat[:, -14:])
            except Exception as exc:  # noqa: BLE001 (recorded: the toolkit's run stops here)
                case["network_error"] = f"{type(exc).__name__}: {exc}"
                cases.append(case)
                continue
        s1 = abs(grid[torch.argmax(first, dim=-1)[0]].item())
        s2 = abs(grid[torch.argmax(last, dim=-1)[0]].item())
        case["logits_first"] = [float(v) for v in first[0]]
        case["logits_last"] = [float(v) for v in last[0]]
        case["desync"] = (s1 + s2) / 2
        cases.append(case)
        print(spec.name, case.get("desync"), flush=True)
    versions = {
        p: metadata.version(p) for p in ("torch", "torchvision", "transformers", "timm", "numpy", "av")
    }
    out = {
        "official": "OpenMOSS/MOVA evaluation/metrics/av_quality (eval_av_quality.py, av_bench/)",
        "commit": "595a97691123e8356a65ba9fdeee23ae81aaa471",
        "torchaudio_python": "2.8.0",
        "ffmpeg": subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.splitlines()[0],
        "versions": versions,
        "weights": "0.02·randn per key, generator seeded with crc32(key); +1 for 1-D *.weight",
        "cases": cases,
    }
    Path(out_json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
