"""SyncNet itself: building and loading the networks, and `SyncNetInstance.evaluate` batched.

The architectures come from the `syncnet-python` package (`SyncNetModel.S`, `S3FDNet`), so the
state-dict keys are those of syncnet_v2.model and sfd_face.pth. The scoring reproduces
`SyncNetInstance.evaluate()` (joonson/syncnet_python) step for step, but for many face tracks at
once: the windows of all tracks share batches, the networks stay loaded, and the distance curve is
computed in one vectorised call.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

VSHIFT = 15  # offsets −15…+15 → 31 candidates
AUDIO_RATE = 16000
VIDEO_FPS = 25
SAMPLES_PER_FRAME = AUDIO_RATE // VIDEO_FPS  # 640


def import_syncnet_python(submodule: str):
    """`syncnet_python.<submodule>`, with an install hint when the package is missing."""
    try:
        return importlib.import_module(f"syncnet_python.{submodule}")
    except ImportError as exc:
        raise ImportError(
            f"the sync metric needs the syncnet-python package ({exc}); install it with "
            "`pip install 'nava-eval[metrics]'`"
        ) from exc


def build_syncnet() -> torch.nn.Module:
    return import_syncnet_python("SyncNetModel").S(num_layers_in_fc_layers=1024)


def read_state_dict(path: Path, what: str = "weights") -> dict[str, torch.Tensor]:
    """A flat name→tensor dict from .safetensors, or from a torch file without unpickling code."""
    from nava_eval.weight_files import read_safetensors_file, read_torch_file

    path = Path(path)
    if path.suffix == ".safetensors":
        return read_safetensors_file(path, what)
    state = read_torch_file(path, what)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def load_weights(net: torch.nn.Module, path: Path, what: str) -> None:
    """Copy every tensor of the file into `net` (as `SyncNetInstance.loadParameters`), strictly.

    The official loader ignores keys missing from the file; we refuse them (a wrong file would
    otherwise score with random layers), except BatchNorm's `num_batches_tracked` counters.
    """
    state = read_state_dict(path, f"{what} weights")
    own = net.state_dict()
    unknown = sorted(k for k in state if k not in own)
    missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
    if unknown or missing:
        raise ValueError(
            f"{path} is not a {what} checkpoint: unknown keys {unknown[:5]}{'…' if len(unknown) > 5 else ''}, "
            f"missing keys {missing[:5]}{'…' if len(missing) > 5 else ''}"
        )
    with torch.no_grad():
        for name, tensor in state.items():
            if own[name].shape != tensor.shape:
                raise ValueError(
                    f"{path}: {name} has shape {tuple(tensor.shape)}, expected {tuple(own[name].shape)}"
                )
            own[name].copy_(tensor)


def smoke_syncnet(seed: int = 0) -> torch.nn.Module:
    """Seeded random SyncNet (PyTorch default init): scores are meaningless, the code path is real."""
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return build_syncnet()
    finally:
        torch.random.set_rng_state(gen_state)


def smoke_s3fd(seed: int = 0, *, find_faces: bool = True) -> torch.nn.Module:
    """Seeded random S3FD. With `find_faces`, the coarsest head is told to see one face everywhere.

    Random weights almost never pass the 0.9 face threshold, so a smoke run would skip every clip
    before tracking. Biasing the last face logit up (and zeroing its box regression) gives one
    prior-sized box per frame: tracking, cropping and SyncNet then run on real code.
    """
    from nava_eval.metrics.s3fd import build_s3fd_net

    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        net = build_s3fd_net()
    finally:
        torch.random.set_rng_state(gen_state)
    with torch.no_grad():
        for head in net.conf:
            head.bias[-1] -= 20.0  # face logit down everywhere ...
        if find_faces:
            net.conf[-1].weight.zero_()
            net.conf[-1].bias.copy_(torch.tensor([-10.0, 10.0]))  # ... except the coarsest map
            net.loc[-1].weight.zero_()
            net.loc[-1].bias.zero_()
    return net


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """No TF32 inside (cuDNN allows it for convolutions by default; it moves distances by ~1e-2)."""
    prev = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = prev


def mfcc_of(audio: np.ndarray) -> np.ndarray:
    """python_speech_features.mfcc(audio, 16000) transposed to [13, T] (float64), as evaluate()."""
    import python_speech_features

    return np.asarray(python_speech_features.mfcc(audio, AUDIO_RATE)).T


@dataclass
class TrackInput:
    """One 224×224 face track at 25 fps (BGR uint8 [T,224,224,3]) and its 16 kHz int16 audio."""

    frames: np.ndarray
    audio: np.ndarray


@dataclass
class TrackScore:
    offset: int
    sync_d: float  # minval
    sync_c: float  # conf
    mean_dist: list[float]  # 31 values, index j ↔ offset 15 − j
    framewise_conf: list[float]  # before the median filter
    n_windows: int
    audio_video_mismatch_s: float  # audio length − video length (evaluate() warns when nonzero)


def n_windows(track: TrackInput) -> int:
    """evaluate(): min_length = min(n_frames, floor(n_samples / 640)); windows = min_length − 5."""
    min_length = min(len(track.frames), math.floor(len(track.audio) / SAMPLES_PER_FRAME))
    return min_length - 5


class SyncNetScorer:
    """`SyncNetInstance.evaluate` for many tracks, with the network loaded once."""

    def __init__(self, net: torch.nn.Module, device: str = "cpu", batch_size: int = 20):
        self.net = net.to(device).eval()
        self.device = device
        self.batch_size = batch_size

    @torch.no_grad()
    def embed(self, tracks: Sequence[TrackInput]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(video [n,1024], audio [n,1024]) embeddings per track; windows of all tracks share batches."""
        plans = []  # (track index, window start)
        mfccs = []
        for ti, track in enumerate(tracks):
            n = n_windows(track)
            if n <= 0:
                raise ValueError(f"track {ti} has no full window ({len(track.frames)} frames)")
            mfccs.append(torch.from_numpy(mfcc_of(track.audio)).float())
            plans.extend((ti, i) for i in range(n))
        video_out: list[list[torch.Tensor]] = [[] for _ in tracks]
        audio_out: list[list[torch.Tensor]] = [[] for _ in tracks]
        uploaded: dict[int, torch.Tensor] = {}
        with exact_float32():
            for start in range(0, len(plans), self.batch_size):
                batch = plans[start : start + self.batch_size]
                vids, auds = [], []
                for ti, i in batch:
                    if ti not in uploaded:
                        uploaded.clear()  # keep one track's frames on the device at a time
                        # [T,H,W,3] BGR uint8 → [3,T,H,W] float 0..255, no normalisation (as evaluate())
                        uploaded[ti] = (
                            torch.from_numpy(tracks[ti].frames)
                            .to(self.device)
                            .permute(3, 0, 1, 2)
                            .float()
                            .contiguous()
                        )
                    vids.append(uploaded[ti][:, i : i + 5])
                    auds.append(mfccs[ti][:, 4 * i : 4 * i + 20])
                v = self.net.forward_lip(torch.stack(vids))
                a = self.net.forward_aud(torch.stack(auds).unsqueeze(1).to(self.device))
                for k, (ti, _) in enumerate(batch):
                    video_out[ti].append(v[k : k + 1].cpu())
                    audio_out[ti].append(a[k : k + 1].cpu())
        return [(torch.cat(v), torch.cat(a)) for v, a in zip(video_out, audio_out, strict=True)]

    def score(self, tracks: Sequence[TrackInput]) -> list[TrackScore]:
        results = []
        for track, (im_feat, cc_feat) in zip(tracks, self.embed(tracks), strict=True):
            results.append(score_embeddings(im_feat, cc_feat, track))
        return results


def distance_matrix(im_feat: torch.Tensor, cc_feat: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """calc_pdist: [n, 2·vshift+1] distances of each video window to the zero-padded audio windows."""
    n = im_feat.size(0)
    win = 2 * vshift + 1
    padded = F.pad(cc_feat, (0, 0, vshift, vshift))
    idx = torch.arange(n)[:, None] + torch.arange(win)[None, :]
    lhs = im_feat[:, None, :].expand(n, win, im_feat.size(1)).reshape(-1, im_feat.size(1))
    return F.pairwise_distance(lhs, padded[idx].reshape(-1, cc_feat.size(1))).view(n, win)


def score_embeddings(
    im_feat: torch.Tensor, cc_feat: torch.Tensor, track: TrackInput | None = None
) -> TrackScore:
    """evaluate()'s tail: mean curve, minval/offset/conf and the per-frame confidence."""
    dists = distance_matrix(im_feat.float(), cc_feat.float())
    mdist = dists.mean(0)
    minval, minidx = torch.min(mdist, 0)
    median = torch.median(mdist)
    fconf = median - dists[:, int(minidx)]
    mismatch = 0.0
    if track is not None:
        mismatch = len(track.audio) / AUDIO_RATE - len(track.frames) / VIDEO_FPS
    return TrackScore(
        offset=VSHIFT - int(minidx),
        sync_d=float(minval),
        sync_c=float(median - minval),
        mean_dist=[float(x) for x in mdist],
        framewise_conf=[float(x) for x in fconf],
        n_windows=int(im_feat.size(0)),
        audio_video_mismatch_s=mismatch,
    )
