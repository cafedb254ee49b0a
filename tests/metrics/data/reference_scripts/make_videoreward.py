"""Reference vectors for VideoReward from MOVA's own code, on a seeded random Qwen2-VL reward model.

Run in a plain venv with MOVA's `evaluation/envs/requirements_visual.txt` (all lower bounds; the
resolver gave transformers 5.25.0, peft 0.21.2, decord 0.6.0, torchvision 0.29.1, numpy 2.4.6) and
torch 2.14.1 CPU instead of a CUDA build:

    python make_videoreward.py MOVA_VIDEO_REWARD_DIR OUT.json tiny|full [WORK_DIR]

`full` is the release's size (2.2B parameters, bf16 weights, about 10 GB of memory: run it under
`flock /work/scratch/bigmem.lock`) on FULL_CLIP_NAMES only, one clip per forward (no batch, no
__main__ run); `tiny` runs every clip, a padded batch and the script's __main__.

MOVA_VIDEO_REWARD_DIR holds OpenMOSS/MOVA's `evaluation/metrics/video_reward/*.py` (commit in OUT),
used unmodified: `VideoVLMRewardInference` (create_model_and_processor, load_model_from_checkpoint,
prepare_batch with process_vision_info and decord, reward) and the script's own `__main__` for the
per-set means. What we provide is what the release provides on the hub:

* a Qwen2-VL model folder (`metrics/videoreward_assets.py: write_model_folder`): the release config
  with the tiny sizes, the release's preprocessor config and chat template, and a byte-level
  tokenizer carrying Qwen2-VL's special and reward tokens at their release ids (the real tokenizer
  is not reachable here; both sides read this one);
* a checkpoint folder: `model_config.json` with the release's data, model, LoRA and inference
  sections (attn_implementation "sdpa": flash-attention needs CUDA) and `checkpoint-1/model.pth`,
  a state dict in the release's key layout (the inverse of utils.py's remap applied to the official
  PeftModel's keys) whose tensors `random_state` draws per key name.

One shim: transformers' TrainingArguments refuses bf16 on a machine without a bf16 GPU, so its
validation is told there is one (the training arguments only carry the bf16 flag into inference).
The official model runs in bfloat16 whatever is asked (create_model_and_processor loads the base
in bf16 unless model_config.torch_dtype is "float16"), LoRA adapters in float32 (peft's autocast).
Clips: tests/av_reference_clips.py (the one-frame clip is refused by smart_nframes).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zlib
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[3]))  # tests/

import av_reference_clips as clips  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "videoreward_assets", HERE.parents[4] / "metrics" / "videoreward_assets.py"
)
assets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(assets)

MOVA_COMMIT = "595a976"
#: (clip, set, prompt): the prompts stress the template (braces, non-ASCII, quotes).
CASES = (
    ("landscape_25fps_sync", "set1", "A white block jumps across a textured wall {at night}."),
    ("portrait_2997fps", "set1", 'A man says "你好" while a block moves.'),
    ("short_0p4s", "set2", "A short clip shorter than the sampling window."),
    ("silent_track_24fps", "set2", "Silence; a block drifts to the right."),
    ("long_8s_24fps", "set3", "An eight-second busy scene with many jumps."),
    ("one_frame", "set3", "A single frame."),
)
FULL_CLIP_NAMES = ("portrait_2997fps", "short_0p4s", "one_frame")
INFERENCE_CONFIG = {"VQ_mean": 3.6757, "VQ_std": 2.2476, "MQ_mean": 1.1646, "MQ_std": 1.3811, "TA_mean": 2.8105,
                    "TA_std": 2.5121}  # fmt: skip


def random_tensor(key: str, shape: list[int]):
    """The tensor of release key `key`: drawn from a generator seeded by the key's name."""
    import torch

    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    x = torch.randn(shape, generator=gen, dtype=torch.float32)
    leaf = key.rsplit(".", 1)[-1]
    if "norm" in key or ".ln_q." in key:
        return (1.0 + 0.1 * x) if leaf == "weight" else 0.05 * x
    if leaf == "bias":
        return 0.01 * x
    return 0.02 * x


def random_state(release_shapes: dict[str, list[int]], dtype=None) -> dict:
    """The whole release-layout state dict (the tests rebuild it from the shapes in the JSON).

    `dtype` (the full size: bfloat16) casts each tensor as it is drawn. Qwen2-VL-2B ties lm_head to
    embed_tokens, so the release saves one tensor under both names.
    """
    state = {}
    for k, s in sorted(release_shapes.items()):
        x = random_tensor(k, s)
        state[k] = x if dtype is None else x.to(dtype)
    state["base_model.model.lm_head.weight"] = state["base_model.model.model.embed_tokens.weight"]
    return state


def model_config_json(base: Path) -> dict:
    return {
        "data_config": {
            "meta_data": "",
            "data_dir": "",
            "meta_data_test": "",
            "max_frame_pixels": assets.MAX_FRAME_PIXELS,
            "num_frames": None,
            "fps": assets.SAMPLING_FPS,
            "p_shuffle_frames": 0.0,
            "p_color_jitter": 0.0,
            "eval_dim": ["VQ", "MQ", "TA"],
            "prompt_template_type": "detailed_special",
            "add_noise": False,
            "sample_type": "uniform",
            "use_tied_data": True,
        },
        "model_config": {
            "model_name_or_path": str(base),
            "output_dim": 1,
            "use_special_tokens": True,
            "reward_token": "special",
            "attn_implementation": "sdpa",
        },
        "peft_lora_config": {
            "lora_enable": True,
            "vision_lora": False,
            "lora_r": assets.LORA_R,
            "lora_alpha": assets.LORA_ALPHA,
            "lora_dropout": 0.05,
            "lora_target_modules": None,
            "lora_namespan_exclude": list(assets.LORA_NAMESPAN_EXCLUDE),
            "lora_modules_to_save": None,
            "lora_task_type": "CAUSAL_LM",
            "use_rslora": False,
            "num_lora_modules": -1,
        },
        "inference_config": INFERENCE_CONFIG,
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(official: Path, out_json: Path, size: str, work: Path) -> None:
    import torch
    import transformers.training_args as targs
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    sys.path.insert(0, str(official))
    os.chdir(official)
    import eval_video_reward as evr  # noqa: E402 (the official modules, unmodified)
    import vision_process as vp  # noqa: E402
    from train_reward import create_model_and_processor  # noqa: E402
    from utils import ModelConfig, PEFTLoraConfig, TrainingConfig  # noqa: E402

    # The one shim: TrainingArguments refuses bf16=True without a bf16 GPU (the official constructor
    # always asks for it); this machine has no GPU. Argument validation only; inference is untouched.
    targs.is_torch_bf16_gpu_available = lambda: True
    torch.set_num_threads(2)
    work.mkdir(parents=True, exist_ok=True)
    built = {s.name: clips.build_clip(s, work / "clips", clips_ffmpeg()) for s in clips.CLIPS}

    tiny = size == "tiny"
    base = assets.write_model_folder(work / f"qwen2vl_{size}", tiny=tiny)
    # the base folder's own weights: any (load_model_from_checkpoint replaces every tensor)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    Qwen2VLForConditionalGeneration(Qwen2VLConfig(**assets.model_config(tiny))).save_pretrained(base)
    torch.set_default_dtype(torch.float32)

    ckpt = work / f"videoreward_ckpt_{size}"
    (ckpt / "checkpoint-1").mkdir(parents=True, exist_ok=True)
    cfg = model_config_json(base)
    (ckpt / "model_config.json").write_text(json.dumps(cfg, indent=2))

    # The official PeftModel's keys (this transformers' layout) -> the release's layout.
    model, _, _ = create_model_and_processor(
        ModelConfig(**cfg["model_config"]),
        PEFTLoraConfig(**cfg["peft_lora_config"]),
        TrainingConfig(output_dir="", bf16=True, disable_flash_attn2=True),
    )
    official_keys = {k: list(v.shape) for k, v in model.state_dict().items()}
    release_shapes = {assets.new_to_release(k): s for k, s in official_keys.items()}
    del model
    state = random_state(release_shapes, None if tiny else torch.bfloat16)
    torch.save(state, ckpt / "checkpoint-1" / "model.pth")
    del state

    inferencer = evr.VideoVLMRewardInference(str(ckpt), load_from_pretrained_step=1, device="cpu")
    dtypes = sorted({str(p.dtype) for p in inferencer.model.parameters()})
    lora_dtypes = sorted({str(p.dtype) for n, p in inferencer.model.named_parameters() if "lora_" in n})

    cases, failures = [], []
    for name, set_name, prompt in CASES if tiny else [c for c in CASES if c[0] in FULL_CLIP_NAMES]:
        path = str(built[name])
        case = {"name": name, "set": set_name, "prompt": prompt, "sha256": clips.sha256(built[name])}
        try:
            ele = {"video": f"file://{path}", "max_pixels": assets.MAX_FRAME_PIXELS, "fps": assets.SAMPLING_FPS,
                   "sample_type": "uniform"}  # fmt: skip
            video = vp.fetch_video(ele)
            with torch.no_grad():
                batch = inferencer.prepare_batch([path], [prompt], fps=assets.SAMPLING_FPS)
                normed = inferencer.reward([path], [prompt], fps=assets.SAMPLING_FPS, use_norm=True)[0]
                raw = (
                    inferencer.reward([path], [prompt], fps=assets.SAMPLING_FPS, use_norm=False)[0]
                    if tiny
                    else normed
                )
        except Exception as exc:  # noqa: BLE001 (the official refusal is part of the reference)
            failures.append({**case, "error": f"{type(exc).__name__}: {exc}"})
            continue
        ids = batch["input_ids"][0].tolist()
        pixels = batch["pixel_values_videos"].float().contiguous()
        case.update(
            nframes=int(video.shape[0]),
            resized=[int(video.shape[2]), int(video.shape[3])],
            video_sha256=_sha(video.numpy().astype("float32").tobytes()),
            video_sum=float(video.double().sum()),
            input_ids_len=len(ids),
            input_ids_sha256=_sha(json.dumps(ids).encode()),
            text=inferencer.processor.apply_chat_template(
                [
                    [
                        {
                            "role": "user",
                            "content": [
                                {"type": "video"},
                                {"type": "text", "text": assets.build_prompt(prompt)},
                            ],
                        }
                    ]
                ],
                tokenize=False,
                add_generation_prompt=True,
            )[0],  # fmt: skip
            video_grid_thw=batch["video_grid_thw"].tolist(),
            pixel_values_shape=list(pixels.shape),
            pixel_values_sha256=_sha(pixels.numpy().tobytes()),
            pixel_values_sum=float(pixels.double().sum()),
            raw={k: raw[k] for k in ("VQ", "MQ", "TA")} if tiny else None,
            rewards=normed,
        )
        cases.append(case)

    versions = {
        p: metadata.version(p) for p in ("torch", "torchvision", "transformers", "peft", "decord", "numpy")
    }
    out = {
        "source": {"repo": "OpenMOSS/MOVA", "commit": MOVA_COMMIT, "dir": "evaluation/metrics/video_reward"},
        "made_by": "tests/metrics/data/reference_scripts/make_videoreward.py",
        "versions": versions,
        "official_param_dtypes": dtypes,
        "official_lora_dtypes": lora_dtypes,
        "size": size,
        "config": assets.model_config(tiny),
        "model_config_json": {
            **cfg,
            "model_config": {**cfg["model_config"], "model_name_or_path": f"<{size} folder>"},
        },
        "release_shapes": release_shapes,
        "official_keys": sorted(official_keys),
        "cases": cases,
        "failures": failures,
    }
    if tiny:
        # one batch of every clip that scores, padded together (MOVA's --batch_size 50)
        ok = [c for c in cases]
        with torch.no_grad():
            batched = inferencer.reward(
                [str(built[c["name"]]) for c in ok],
                [c["prompt"] for c in ok],
                fps=assets.SAMPLING_FPS,
                use_norm=True,
            )

        # MOVA's __main__: per-set (category) means, then "all" = mean of the set means
        exp = work / "exp"
        meta: dict[str, dict] = {}
        for i, c in enumerate(ok):
            folder = exp / "eval_videos" / "step_1" / c["set"]
            folder.mkdir(parents=True, exist_ok=True)
            link = folder / f"{i:08d}_video_{c['name']}.mp4"
            if not link.exists():
                link.symlink_to(built[c["name"]])
            meta.setdefault(c["set"], {})[f"{i:08d}"] = {"prompt": c["prompt"]}
        (work / "meta.json").write_text(json.dumps(meta, ensure_ascii=False))
        argv = [
            "eval_video_reward.py",
            "-i",
            str(exp),
            "--prompt_meta_json",
            str(work / "meta.json"),
            "--reward_model",
            str(ckpt),
            "--reward_step",
            "1",
            "--fps",
            "2",
            "--device",
            "cpu",
            "--batch_size",
            "2",
        ]
        runner = (  # the script's __main__ as MOVA's run_eval.sh runs it, with the same bf16 shim
            "import runpy, sys; import transformers.training_args as t; t.is_torch_bf16_gpu_available = lambda: True; "
            f"sys.argv = {argv!r}; runpy.run_path('eval_video_reward.py', run_name='__main__')"
        )
        subprocess.run([sys.executable, "-c", runner], check=True, cwd=official)  # fmt: skip
        aggregate = json.loads((exp / "eval_videos" / "eval_video_reward_results.json").read_text())

        # vision_process.py's sampling and resizing rules on a grid (errors included), beyond the clips
        def _official(fn, *args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except ValueError as exc:
                return f"ValueError: {exc}"

        nframes_grid = [
            [total, fps, _official(vp.smart_nframes, {"fps": assets.SAMPLING_FPS}, total, fps)]
            for total in (1, 2, 3, 4, 5, 7, 10, 25, 49, 50, 51, 75, 100, 193, 241, 2000, 20000)
            for fps in (8.0, 23.976023976023978, 24.0, 25.0, 29.97002997002997, 30.0, 60.0)
        ]
        resize_grid = [
            [h, w, _official(vp.smart_resize, h, w, 28, assets.VIDEO_MIN_PIXELS, assets.MAX_FRAME_PIXELS)]
            for h, w in ((64, 64), (120, 160), (144, 256), (240, 320), (320, 180), (480, 832), (704, 1280),
                         (720, 1280), (1080, 1920), (1280, 704), (28, 5600), (10, 2010), (2010, 10), (333, 777))
        ]  # fmt: skip
        out.update(
            batched=[{"name": c["name"], "rewards": r} for c, r in zip(ok, batched, strict=True)],
            aggregate=aggregate,
            smart_nframes=nframes_grid,
            smart_resize=resize_grid,
        )
    out_json.write_text(json.dumps(out, indent=1, ensure_ascii=False))


def clips_ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[3] not in ("tiny", "full"):
        sys.exit(__doc__)
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), sys.argv[3],
         Path(sys.argv[4] if len(sys.argv) > 4 else "vr_work").resolve())  # fmt: skip
