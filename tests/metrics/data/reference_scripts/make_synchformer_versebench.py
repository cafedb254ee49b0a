"""Reference vectors for AV-A (Verse-Bench) and the Synchformer key lists and config, from the official code.

Same venv as make_synchformer.py (which documents it), plus the torchvision 0.21.0 wheel's Python
file `torchvision/io/video.py` (Verse-Bench pins torchvision~=0.21; 0.29 no longer has read_video):

    python make_synchformer_versebench.py VERSEBENCH_DIR MOVA_AV_QUALITY_DIR TA_STUB_DIR TV21_VIDEO_PY OUT.json

VERSEBENCH_DIR is Dorniwang/Verse-Bench at commit 5645a09 (unmodified). What runs, unmodified:
`syncformer/syncformer_inferencer.py`'s `reencode_video`, `patch_config`,
`decode_single_video_prediction`; `syncformer/dataset/dataset_utils.py`'s `get_video_and_audio`;
`scripts/train_utils.py`'s `get_transforms` with `cfg.yaml`'s test transforms; the model built from
`cfg.yaml` (`instantiate_from_config`, the release's module tree) at full size; torchvision 0.21's
`read_video` (with `_read_from_stream`, `_align_audio_frames`, taken out of video.py with `ast`) on
PyAV; torchaudio 2.8's MelSpectrogram. Our driver follows `SyncformerInferencer.infer` line by line
except two things: the model runs on the CPU, so the video (the toolkit's `half()`) enters it as
float32 (on CUDA the toolkit's autocast computes in fp16 instead), and the weights are
`reference_weights()` of make_synchformer.py (the 198-row position table, cut to 156 by the
official `load_state_dict`).

It also records, from the official module trees: every key and shape of MOVA's `Synchformer()` and
of Verse-Bench's model, and the architecture constants (`config`) our SynchformerConfig must equal.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[3]))  # tests/
sys.path.insert(0, str(HERE.parent))

import make_synchformer as mova_ref  # noqa: E402
import synchformer_clips as clips  # noqa: E402


def tv21_read_video(video_py: Path):
    import gc
    import math
    import re
    import types
    import warnings

    import av
    import numpy as np
    import torch

    ns = {"av": av, "np": np, "torch": torch, "math": math, "re": re, "gc": gc, "warnings": warnings}
    ns.update({"_CALLED_TIMES": 0, "_GC_COLLECTION_INTERVAL": 10, "FFmpegError": av.FFmpegError})
    ns["_video_opt"] = types.SimpleNamespace(default_timebase=None)
    ns["_check_av_available"] = lambda: None
    ns["_log_api_usage_once"] = lambda *a: None
    tree = ast.parse(video_py.read_text())
    names = {"read_video", "_read_from_stream", "_align_audio_frames"}
    body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    for node in body:
        node.decorator_list = []
    exec(compile(ast.Module(body=body, type_ignores=[]), str(video_py), "exec"), ns)
    ns["get_video_backend"] = lambda: "pyav"
    import torchvision

    torchvision.get_video_backend = lambda: "pyav"
    return ns["read_video"]


def main(verse_dir: str, mova_dir: str, stub_dir: str, video_py: str, out_json: str) -> None:
    import torch
    import torchvision
    from imageio_ffmpeg import get_ffmpeg_exe

    # keys and config of MOVA's tree (before the torchaudio stub: transformers probes for torchaudio)
    sys.path.insert(0, mova_dir)
    from av_bench.synchformer.synchformer import Synchformer as MovaSynchformer

    mova = MovaSynchformer().eval()
    mova_keys = [[k, list(v.shape)] for k, v in mova.state_dict().items()]
    vfe, afe, tr = mova.vfeat_extractor, mova.afeat_extractor, mova.transformer
    agg_v, agg_a = vfe.spatial_attn_agg, afe.freq_attn_agg
    config = {
        "dim": vfe.embed_dim,
        "v_depth": vfe.depth,
        "v_heads": vfe.num_heads,
        "mlp_ratio": vfe.mlp_ratio,
        "v_img_size": vfe.img_size,
        "v_patch": vfe.patch_size,
        "v_patch_t": vfe.patch_embed_3d.z_block_size,
        "v_temporal_resolution": vfe.temporal_resolution,
        "v_qkv_bias": bool(vfe.qkv_bias),
        "v_norm_eps": vfe.norm.eps,
        "a_depth": afe.config.num_hidden_layers,
        "a_heads": afe.config.num_attention_heads,
        "a_intermediate": afe.config.intermediate_size,
        "a_mel_bins": afe.config.num_mel_bins,
        "a_max_t": afe.config.max_length,
        "a_patch": afe.config.patch_size,
        "a_stride": afe.config.time_stride,
        "a_freq_stride": afe.config.frequency_stride,
        "a_norm_eps": afe.config.layer_norm_eps,
        "a_qkv_bias": bool(afe.config.qkv_bias),
        "a_hidden_act": afe.config.hidden_act,
        "agg_norm_eps": agg_v.norm1.eps,
        "agg_a_norm_eps": agg_a.norm1.eps,
        "agg_v_ffn": agg_v.linear1.out_features,
        "agg_a_ffn": agg_a.linear1.out_features,
        "agg_norm_first": bool(agg_v.norm_first and agg_a.norm_first),
        "g_layers": len(tr.blocks),
        "g_heads": tr.blocks[0].attn.n_head,
        "g_norm_eps": tr.ln_f.eps,
        "g_pos_len": tr.pos_emb_cfg.pos_emb.shape[1],
        "n_classes": tr.off_head.out_features,
    }
    del mova

    sys.path.insert(0, stub_dir)
    import ta_stub  # noqa: F401
    import torchaudio.transforms._transforms as tat

    sys.modules["torchaudio"].transforms = tat
    sys.modules["torchaudio.transforms"] = tat
    read_video = tv21_read_video(Path(video_py))
    torchvision.io.read_video = read_video

    os.chdir(Path(out_json).parent)
    bin_dir = Path(out_json).with_suffix("") / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    if not (bin_dir / "ffmpeg").exists():
        (bin_dir / "ffmpeg").symlink_to(get_ffmpeg_exe())
    os.environ["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    sys.path.insert(0, verse_dir)
    from omegaconf import OmegaConf
    from syncformer.dataset.dataset_utils import get_video_and_audio
    from syncformer.dataset.transforms import make_class_grid
    from syncformer.scripts.train_utils import get_transforms, prepare_inputs
    from syncformer.syncformer_inferencer import decode_single_video_prediction, patch_config, reencode_video
    from syncformer.utils.utils import instantiate_from_config

    cfg = patch_config(OmegaConf.load(Path(verse_dir) / "syncformer" / "cfg.yaml"))
    model = instantiate_from_config(cfg.model)
    verse_keys = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    weights = mova_ref.reference_weights(dict(MovaSynchformer().state_dict()))
    model.load_state_dict(weights)  # the official override cuts pos_emb 198 → 156
    model.eval()
    max_off_sec = cfg.data.max_off_sec
    num_cls = cfg.model.params.transformer.params.off_head_cfg.params.out_features
    grid = make_class_grid(-max_off_sec, max_off_sec, num_cls)
    transform = get_transforms(cfg, ["test"])["test"]

    work = Path(out_json).with_suffix("")
    cases = []
    for spec in clips.CLIPS:
        path = clips.build_clip(spec, work / "clips", get_ffmpeg_exe())
        case: dict = {"name": spec.name, "sha256": clips.sha256(path)}
        # SyncformerInferencer.infer
        v, _, info = torchvision.io.read_video(str(path), pts_unit="sec")
        _, H, W, _ = v.shape
        vid_path = str(path)
        if info["video_fps"] != 25 or info["audio_fps"] != 16000 or min(H, W) != 256:
            vid_path = reencode_video(vid_path, 25, 16000, 256)
            case["reencoded"] = True
        rgb, audio, meta = get_video_and_audio(vid_path, get_meta=True)
        case["decoded"] = {
            "frames": list(rgb.shape),
            "audio": list(audio.shape),
            "rgb_sum": float(rgb.double().sum()),
        }
        item = dict(
            video=rgb,
            audio=audio,
            meta=meta,
            path=vid_path,
            split="test",
            targets={"v_start_i_sec": 0.0, "offset_sec": 0.0},
        )
        try:
            item = transform(item)
        except AssertionError as exc:
            case["transform_error"] = f"AssertionError: {exc}"
            cases.append(case)
            continue
        batch = torch.utils.data.default_collate([item])
        aud, vid, _ = prepare_inputs(batch, "cpu")
        case["video"] = mova_ref.summary(vid.float())
        case["mel"] = mova_ref.summary(aud)
        with torch.no_grad():
            _, logits = model(vid.float(), aud)
        case["logits"] = [float(x) for x in logits[0]]
        case["av_a"] = decode_single_video_prediction(logits, grid, item)
        cases.append(case)
        print(spec.name, case.get("av_a"), flush=True)
    versions = {
        p: metadata.version(p) for p in ("torch", "torchvision", "transformers", "timm", "numpy", "av")
    }
    out = {
        "official": "Dorniwang/Verse-Bench syncformer/ (syncformer_inferencer.py, cfg.yaml), calculate_metrics.py",
        "commit": "5645a09",
        "mova_commit": "595a97691123e8356a65ba9fdeee23ae81aaa471",
        "torchvision_read_video": "0.21.0 (Python source, on PyAV)",
        "torchaudio_python": "2.8.0",
        "ffmpeg": subprocess.run(
            [get_ffmpeg_exe(), "-version"], capture_output=True, text=True
        ).stdout.splitlines()[0],
        "versions": versions,
        "config": config,
        "mova_keys": mova_keys,
        "versebench_keys": verse_keys,
        "cases": cases,
    }
    Path(out_json).write_text(json.dumps(out, indent=1) + "\n")
    shutil.rmtree(Path.cwd() / "vis", ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
