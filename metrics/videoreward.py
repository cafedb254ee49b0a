"""VideoReward, protocol `videoreward/mova-videoalign-qwen2vl2b-v1`: VQ, MQ, TA and Overall from VideoAlign.

OpenMOSS/MOVA commit 595a976 `evaluation/metrics/video_reward/eval_video_reward.py` (as
`scripts/run_eval.sh` runs it: `--fps 2`) on KlingTeam/VideoReward `checkpoint-11352`, a
Qwen2-VL-2B-Instruct fine-tuned with LoRA and a linear reward head. See docs/protocols/videoreward.md.

Per clip: the frames decord would return (`len(vr)` frames at `get_avg_fps()`; PyAV's rgb24 frames
are decord's, tested), `smart_nframes` at 2 fps (at least 4, an even count, at most the clip's
frames), indices `linspace(0, n - 1, k).round()`, resized to `smart_resize(h, w, 28, 128·28²,
max_frame_pixels)` with torchvision's antialiased bicubic on uint8; the `detailed_special` prompt
with the item's prompt in a Qwen2-VL chat; the Qwen2-VL processor (rescale, CLIP normalisation,
patches); the network in bfloat16; `rm_head` at the first `<|VQ_reward|>`, `<|MQ_reward|>`,
`<|TA_reward|>`; `(r - mean) / std` with the release's `inference_config`; Overall = VQ + MQ + TA.
Over a benchmark: per-set means, then the mean of the set means (benchmarks' field rule).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nava_eval.errors import UserError
from nava_eval.metrics import videoreward_assets as assets
from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome

log = logging.getLogger(__name__)

PROTOCOL = "videoreward/mova-videoalign-qwen2vl2b-v1"
WEIGHT_NAME = "videoreward"
BASE_NAME = "qwen2_vl_2b_instruct"
RELEASE_STEP = 11352  # eval_video_reward.py --reward_step default, the checkpoint MOVA downloads

FIELDS = (
    MetricField(
        "vq", "higher", "z", "VideoReward visual quality, (reward - VQ_mean) / VQ_std of the release"
    ),
    MetricField(
        "mq", "higher", "z", "VideoReward motion quality, (reward - MQ_mean) / MQ_std of the release"
    ),
    MetricField(
        "ta", "higher", "z", "VideoReward text alignment, (reward - TA_mean) / TA_std of the release"
    ),
    MetricField("vr_overall", "higher", "z", "VideoReward Overall: VQ + MQ + TA"),
)
DIMENSIONS = ("VQ", "MQ", "TA")


class VideoRewardConfigError(UserError, ValueError):
    """A reward checkpoint folder whose model_config.json is missing or asks for another protocol."""


class SkipClip(ValueError):
    """A clip MOVA's sampling refuses (fewer than 2 frames, an extreme aspect ratio) or an item without a prompt."""


# --------------------------------------------------------------------------------- frame sampling


def round_by_factor(number: float, factor: int) -> int:
    return round(number / factor) * factor


def ceil_by_factor(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def floor_by_factor(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def smart_nframes(total_frames: int, video_fps: float, fps: float = assets.SAMPLING_FPS) -> int:
    """How many frames vision_process.py samples at `fps` (Python's round: halves go to even)."""
    min_frames = ceil_by_factor(assets.FPS_MIN_FRAMES, assets.FRAME_FACTOR)
    max_frames = floor_by_factor(min(assets.FPS_MAX_FRAMES, total_frames), assets.FRAME_FACTOR)
    n = min(max(total_frames / video_fps * fps, min_frames), max_frames)
    n = round_by_factor(n, assets.FRAME_FACTOR)
    n = min(n, total_frames)
    if not assets.FRAME_FACTOR <= n <= total_frames:
        raise SkipClip(
            f"{total_frames} frame(s): MOVA's frame sampling (smart_nframes) needs at least "
            f"{assets.FRAME_FACTOR} and refuses this clip"
        )
    return n


def frame_indices(total_frames: int, nframes: int) -> list[int]:
    """`torch.linspace(0, total - 1, n).round().long()` (float32 linspace, round half to even)."""
    import torch

    return torch.linspace(0, total_frames - 1, nframes).round().long().tolist()


def smart_resize(
    height: int, width: int, max_pixels: int, min_pixels: int = assets.VIDEO_MIN_PIXELS
) -> tuple[int, int]:
    """vision_process.py's smart_resize with factor 28: multiples of 28, pixels within [min, max]."""
    factor = assets.IMAGE_FACTOR
    if max(height, width) / min(height, width) > assets.MAX_RATIO:
        raise SkipClip(
            f"aspect ratio {max(height, width) / min(height, width):.1f} is above MOVA's limit of 200"
        )
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


@dataclass
class SampledClip:
    video: Any  # torch float32 [T, 3, H, W], integer values 0-255 after the resize
    details: dict[str, Any] = field(default_factory=dict)


def sample_clip(path: Path, max_pixels: int, fps: float = assets.SAMPLING_FPS) -> SampledClip:
    """The frames MOVA's reader (decord) returns for `path`, sampled and resized as vision_process.py."""
    import av
    import numpy as np
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        if not stream.average_rate:
            raise ValueError("the video stream has no average frame rate")
        video_fps = float(stream.average_rate)
        total = int(stream.frames)
        if total < 1:  # decord: duration x average rate when the container has no frame count
            total = int(video_fps * (container.duration or 0) / 1_000_000)
        if total < 1:
            raise ValueError("the video stream has no frames")
        nframes = smart_nframes(total, video_fps, fps)
        wanted = frame_indices(total, nframes)
        needed = set(wanted)
        frames: dict[int, np.ndarray] = {}
        for i, frame in enumerate(container.decode(stream)):
            if i in needed:
                frames[i] = frame.to_ndarray(format="rgb24")
            if i >= wanted[-1]:
                break
    if len(frames) < len(needed):
        raise ValueError(f"decoded {len(frames)} of the frames {sorted(needed)} ({total} announced)")
    video = torch.from_numpy(np.stack([frames[i] for i in wanted])).permute(0, 3, 1, 2)
    height, width = video.shape[2], video.shape[3]
    rh, rw = smart_resize(height, width, max_pixels)
    video = tvf.resize(video, [rh, rw], interpolation=InterpolationMode.BICUBIC, antialias=True).float()
    details = {"n_frames": nframes, "total_frames": total, "fps": video_fps, "resized": [rh, rw]}
    return SampledClip(video, details)


# --------------------------------------------------------------------------------- release config


@dataclass(frozen=True)
class ReleaseConfig:
    """What the release's model_config.json sets for inference (eval_video_reward.py reads these)."""

    max_frame_pixels: int
    norm: dict[str, float] | None  # inference_config: {VQ,MQ,TA}_{mean,std}; None: no normalisation

    @classmethod
    def read(cls, path: Path) -> ReleaseConfig:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VideoRewardConfigError(f"cannot read VideoReward's {path}: {exc}") from None
        data = payload.get("data_config") or {}
        expect = {
            "eval_dim": ["VQ", "MQ", "TA"],
            "prompt_template_type": "detailed_special",
            "sample_type": "uniform",
        }
        for key, value in expect.items():
            if data.get(key, value) != value:
                raise VideoRewardConfigError(
                    f"{path}: data_config.{key} is {data.get(key)!r}; the protocol needs {value!r}"
                )
        model = payload.get("model_config") or {}
        if model.get("output_dim", 1) != 1:
            raise VideoRewardConfigError(f"{path}: model_config.output_dim must be 1")
        peft = payload.get("peft_lora_config") or {}
        lora = {
            "lora_r": assets.LORA_R,
            "lora_alpha": assets.LORA_ALPHA,
            "use_rslora": False,
            "vision_lora": False,
        }
        for key, value in lora.items():
            if peft.get(key, value) != value:
                raise VideoRewardConfigError(
                    f"{path}: peft_lora_config.{key} is {peft.get(key)!r}, not {value!r}"
                )
        inference = payload.get("inference_config")
        norm = None
        if inference is not None:
            norm = {}
            for dim in DIMENSIONS:
                for stat in ("mean", "std"):
                    value = inference.get(f"{dim}_{stat}")
                    if not isinstance(value, (int, float)):
                        raise VideoRewardConfigError(f"{path}: inference_config.{dim}_{stat} is missing")
                    norm[f"{dim}_{stat}"] = float(value)
        return cls(int(data.get("max_frame_pixels", assets.MAX_FRAME_PIXELS)), norm)


def normalise(raw: Mapping[str, float], norm: Mapping[str, float] | None) -> dict[str, float]:
    """eval_video_reward.py `_norm` then Overall = VQ + MQ + TA (Python floats, as the official)."""
    out = dict(raw)
    if norm is not None:
        for dim in DIMENSIONS:
            out[dim] = (out[dim] - norm[f"{dim}_mean"]) / norm[f"{dim}_std"]
    out["Overall"] = out["VQ"] + out["MQ"] + out["TA"]
    return out


def release_files(path: Path) -> tuple[Path, Path]:
    """(model_config.json, model.pth) of a release folder, a checkpoint folder or a model.pth path."""
    path = Path(path)
    if path.is_file():
        pth = path
        config = next((p / "model_config.json" for p in (path.parent, path.parent.parent)
                       if (p / "model_config.json").is_file()), path.parent / "model_config.json")  # fmt: skip
    elif (path / "model.pth").is_file():
        pth, config = path / "model.pth", path.parent / "model_config.json"
    else:
        config = path / "model_config.json"
        steps = sorted(path.glob("checkpoint-*/model.pth"), key=lambda p: int(p.parent.name.split("-")[-1]))
        chosen = [p for p in steps if p.parent.name == f"checkpoint-{RELEASE_STEP}"] or steps[-1:]
        if not chosen:
            raise VideoRewardConfigError(
                f"{path}: no checkpoint-*/model.pth (the VideoReward release folder)"
            )
        pth = chosen[0]
    if not config.is_file():
        raise VideoRewardConfigError(
            f"no model_config.json beside {pth} (it comes with the VideoReward release)"
        )
    return config, pth


# --------------------------------------------------------------------------------- the metric


class VideoReward(BaseMetric):
    """VideoReward (MOVA). Options: batch_size (clips per forward), workers (clips decoded at once)."""

    name = "videoreward"
    protocol = PROTOCOL
    fields = FIELDS
    requires = frozenset({"video"})
    description = "MOVA VideoReward: VQ, MQ, TA and Overall from the VideoAlign Qwen2-VL-2B reward model"
    weight_names = (WEIGHT_NAME, BASE_NAME)
    # The network runs in bf16, as MOVA runs it: another batch (its padding) or thread split rounds
    # differently by a bf16 step of the reward (~4e-3 at |0.4| on the smoke network; MOVA's own code
    # moves by up to 2.6e-3 between a clip alone and batched, the full-size network by 1.4e-2).
    parallel_tolerance = (3e-2, 0.0, "bf16 network (as the official): a bf16 step with the batch")

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, str | os.PathLike] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        workers: int | None = None,
        seed: int = 0,
        **_ignored: Any,
    ) -> None:
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        self.workers = workers or max(1, min(4, (os.cpu_count() or 2) // 2))
        self._net = None
        self._processor = None
        self._release: ReleaseConfig | None = None
        self._token_ids: tuple[int, ...] = assets.REWARD_TOKEN_IDS

    def _loaded(self) -> bool:
        return self._net is not None

    def _load(self, device: str) -> None:
        from nava_eval.metrics import videoreward_model as vm

        if self.smoke:
            folder = Path(tempfile.mkdtemp(prefix="videoreward-tiny-"))
            assets.write_model_folder(folder, tiny=True)
            self._set_processor(folder)
            self._net = vm.build(vm.qwen2vl_config(assets.model_config(tiny=True)), device, seed=self.seed)
            self._release = ReleaseConfig(assets.MAX_FRAME_PIXELS, None)
            self.weights_provenance = {WEIGHT_NAME: {"source": f"tiny random network, seed {self.seed}"}}
            return
        import torch

        base = Path(self.hub_source(BASE_NAME))
        base = base.parent if base.is_file() else base
        release = Path(self.hub_source(WEIGHT_NAME))
        config_path, pth = release_files(release)
        self._release = ReleaseConfig.read(config_path)
        vocab = self._set_processor(base)
        fields = json.loads((base / "config.json").read_text())
        fields["vocab_size"] = vocab  # create_model_and_processor resizes the embeddings to the tokenizer
        net = vm.build(vm.qwen2vl_config(fields), device)
        state = torch.load(pth, map_location="cpu", weights_only=True)
        try:
            vm.load_release_state(net, state)
        except vm.CheckpointKeyError as exc:
            raise VideoRewardConfigError(f"{pth}: {exc}") from None
        self._net = net

    def _set_processor(self, folder: Path) -> int:
        """Qwen2-VL's processor from `folder` plus the reward tokens; the vocabulary size after adding them."""
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(str(folder))
        tokenizer = processor.tokenizer
        tokenizer.add_tokens(list(assets.REWARD_TOKENS), special_tokens=True)
        self._token_ids = tuple(tokenizer.convert_tokens_to_ids(list(assets.REWARD_TOKENS)))
        self._processor = processor
        return len(tokenizer)

    # ------------------------------------------------------------------ scoring

    def prompt_text(self, item: ScoreInput) -> str:
        prompt = item.meta.get("prompt")
        if not prompt:
            raise SkipClip("no prompt: VideoReward's TA scores the video against the prompt it was made from")
        return str(prompt)

    def chat_text(self, prompt: str) -> str:
        """The processor's chat text of one item (system turn, video placeholder, prompt, assistant turn)."""
        chat = [
            {
                "role": "user",
                "content": [{"type": "video"}, {"type": "text", "text": assets.build_prompt(prompt)}],
            }
        ]
        return self._processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    def batch_inputs(self, texts: list[str], videos: list[Any]) -> dict[str, Any]:
        """processor(text, videos, padding=True, do_rescale=True) as prepare_batch calls it."""
        batch = self._processor(
            text=texts, images=None, videos=videos, padding=True, return_tensors="pt",
            videos_kwargs={"do_rescale": True},
        )  # fmt: skip
        return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in batch.items()}

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        """One outcome per item, in order; clips decode in threads, `batch_size` clips per forward."""
        if self._net is None:
            self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        ready: list[tuple[int, str, SampledClip]] = []
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(self._prepare, it) for it in items]
            for i, fut in enumerate(futures):
                try:
                    ready.append((i, *fut.result()))
                except SkipClip as exc:
                    outcomes[i] = ScoreOutcome.skipped(str(exc))
                except Exception as exc:  # noqa: BLE001 (one bad file is one outcome)
                    outcomes[i] = ScoreOutcome.failed(
                        f"cannot read {Path(items[i].output).name}: {type(exc).__name__}: {exc}"
                    )
        step = self.batch_size_on(self.device, gpu=8, cpu=2)
        for s in range(0, len(ready), step):
            chunk = ready[s : s + step]
            try:
                raws = self._rewards([text for _, text, _ in chunk], [clip.video for _, _, clip in chunk])
            except Exception as exc:  # noqa: BLE001 (a failing batch must not sink the run)
                log.exception("VideoReward forward failed")
                for i, _, _ in chunk:
                    outcomes[i] = ScoreOutcome.failed(f"VideoReward failed: {type(exc).__name__}: {exc}")
                continue
            for (i, _, clip), raw in zip(chunk, raws, strict=True):
                r = normalise(raw, self._release.norm)
                values = {"vq": r["VQ"], "mq": r["MQ"], "ta": r["TA"], "vr_overall": r["Overall"]}
                if all(math.isfinite(v) for v in values.values()):
                    raw_values = {f"raw_{k.lower()}": v for k, v in raw.items()}
                    outcomes[i] = ScoreOutcome.ok(**values, **raw_values, **clip.details)
                else:
                    outcomes[i] = ScoreOutcome.failed(f"non-finite VideoReward ({values})")
        return [o if o is not None else ScoreOutcome.failed("internal: no outcome") for o in outcomes]

    def _prepare(self, item: ScoreInput) -> tuple[str, SampledClip]:
        prompt = self.prompt_text(item)
        output = Path(item.output)
        if not output.is_file():
            raise FileNotFoundError(f"no such file: {output}")
        return self.chat_text(prompt), sample_clip(output, self._release.max_frame_pixels)

    def _rewards(self, texts: list[str], videos: list[Any]) -> list[dict[str, float]]:
        import torch

        batch = self.batch_inputs(texts, videos)
        with torch.no_grad():
            values = self._net.rewards(batch, self._token_ids).float().cpu().tolist()
        return [dict(zip(DIMENSIONS, row, strict=True)) for row in values]
