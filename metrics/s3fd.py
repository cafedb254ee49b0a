"""S3FD face detection as syncnet_python's `S3FD.detect_faces`, batched over frames.

The network is the package's `S3FDNet` (same modules, same state-dict keys as sfd_face.pth). What
differs is how its output is post-processed: the official code runs a per-class NMS over every
prior scoring above 0.05 in a Python loop (slow, one frame at a time) and then keeps the boxes above
`conf_th`. Greedy NMS visits boxes in descending score, so the boxes above `conf_th` it keeps depend
only on boxes that also score above `conf_th`: filtering first and running the same NMS on the
survivors gives the same boxes. The caps of the official `Detect` (5000 candidates, 750 kept) are
kept too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

IMG_MEAN_RGB = (123.0, 117.0, 104.0)  # detect_faces subtracts (104,117,123) in BGR order
NMS_OVERLAP = 0.3  # Detect(nms_thresh)
NMS_TOP_K = 5000  # Detect(nms_top_k)
KEEP_TOP_K = 750  # Detect(top_k)
FINAL_NMS = 0.1  # detect_faces: nms_(bboxes, 0.1)


def build_s3fd_net():
    """The package's S3FDNet on CPU (device moves are ours)."""
    from nava_eval.metrics.syncnet_model import import_syncnet_python

    nets = import_syncnet_python("detectors.s3fd.nets")
    return nets.S3FDNet(device="cpu")


def _heads(net, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
    """S3FDNet.forward up to the multibox heads: (loc [N,P,4], conf [N,P,2] softmaxed, map sizes)."""
    sources = []
    for k in range(16):
        x = net.vgg[k](x)
    sources.append(net.L2Norm3_3(x))
    for k in range(16, 23):
        x = net.vgg[k](x)
    sources.append(net.L2Norm4_3(x))
    for k in range(23, 30):
        x = net.vgg[k](x)
    sources.append(net.L2Norm5_3(x))
    for k in range(30, len(net.vgg)):
        x = net.vgg[k](x)
    sources.append(x)
    for k, layer in enumerate(net.extras):
        x = F.relu(layer(x), inplace=True)
        if k % 2 == 1:
            sources.append(x)

    loc_x = net.loc[0](sources[0])
    conf_x = net.conf[0](sources[0])
    max_conf, _ = torch.max(conf_x[:, 0:3, :, :], dim=1, keepdim=True)  # max-out background
    conf_x = torch.cat((max_conf, conf_x[:, 3:, :, :]), dim=1)
    locs = [loc_x.permute(0, 2, 3, 1).contiguous()]
    confs = [conf_x.permute(0, 2, 3, 1).contiguous()]
    for i in range(1, len(sources)):
        confs.append(net.conf[i](sources[i]).permute(0, 2, 3, 1).contiguous())
        locs.append(net.loc[i](sources[i]).permute(0, 2, 3, 1).contiguous())
    sizes = [(int(t.size(1)), int(t.size(2))) for t in locs]
    n = x.size(0)
    loc = torch.cat([t.view(n, -1) for t in locs], 1).view(n, -1, 4)
    conf = torch.softmax(torch.cat([t.view(n, -1) for t in confs], 1).view(n, -1, 2), dim=-1)
    return loc, conf, sizes


def _greedy_nms_f32(boxes: np.ndarray, overlap: float, limit: int) -> list[int]:
    """box_utils.nms on boxes already sorted by descending score (float32 like the torch original)."""
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1) * (y2 - y1)
    idx = np.arange(len(boxes))
    keep: list[int] = []
    while idx.size and len(keep) < limit:
        i = idx[0]
        keep.append(int(i))
        rest = idx[1:]
        xx1 = np.maximum(x1[rest], x1[i])
        yy1 = np.maximum(y1[rest], y1[i])
        xx2 = np.minimum(x2[rest], x2[i])
        yy2 = np.minimum(y2[rest], y2[i])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        union = (area[rest] - inter) + area[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / union
        idx = rest[~(iou > overlap)]  # keeps IoU <= overlap (and NaN, as `le` would not)
    return keep


def nms_numpy(dets: np.ndarray, thresh: float) -> np.ndarray:
    """box_utils.nms_ (float64, Ross Girshick's py_cpu_nms)."""
    x1, y1, x2, y2, scores = (dets[:, i] for i in range(5))
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return np.array(keep).astype(int)


class S3FDDetector:
    """Loaded once; `detect()` takes many frames of one size and returns boxes per frame."""

    def __init__(self, net, device: str = "cpu", batch_size: int = 32):
        self.net = net.to(device).eval()
        self.net.device = device  # S3FDNet.forward moves inputs to .device; keep it consistent
        self.device = device
        self.batch_size = batch_size
        self._priors: dict[tuple[int, int], torch.Tensor] = {}
        self._mean = torch.tensor(IMG_MEAN_RGB, dtype=torch.float32, device=device).view(1, 3, 1, 1)

    @functools.cached_property
    def min_input_side(self) -> int:
        """Smallest height/width (after the detector's downscale) the network can take.

        Found by running it on blank squares: below this a pooling layer's output would be empty
        ("Output size is too small"). Rows and columns shrink independently, so it bounds each side.
        A test holds metrics.sync.S3FD_MIN_SIDE, the constant the scoring path checks, to this value.
        """
        with torch.no_grad():
            for side in range(1, 1025):
                try:
                    _heads(self.net, torch.zeros(1, 3, side, side, device=self.device))
                except RuntimeError:
                    continue
                return side
        raise RuntimeError("S3FD accepts no input up to 1024×1024: not an S3FD network")

    @staticmethod
    def prepare(image_bgr: np.ndarray, scale: float) -> np.ndarray:
        """detect_faces' CPU part: BGR→RGB (inference_video) then cv2.resize by `scale` (linear)."""
        import cv2

        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        return cv2.resize(rgb, dsize=(0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)

    def _priors_for(self, size: tuple[int, int], maps: list[tuple[int, int]]) -> torch.Tensor:
        key = (size, tuple(maps))
        if key not in self._priors:
            from nava_eval.metrics.syncnet_model import import_syncnet_python

            box_utils = import_syncnet_python("detectors.s3fd.box_utils")
            self._priors[key] = box_utils.PriorBox(size, maps).forward().to(self.device)
        return self._priors[key]

    @torch.no_grad()
    def detect(
        self, scaled_rgb: Sequence[np.ndarray], orig_wh: tuple[int, int], conf_th: float = 0.9
    ) -> list[np.ndarray]:
        """Boxes `[k,5]` (x1,y1,x2,y2,score; float64, original pixel units) for each prepared frame."""
        from nava_eval.metrics.syncnet_model import import_syncnet_python

        decode = import_syncnet_python("detectors.s3fd.box_utils").decode
        w, h = orig_wh
        scale = torch.tensor([w, h, w, h], dtype=torch.float32)
        out: list[np.ndarray] = []
        for start in range(0, len(scaled_rgb), self.batch_size):
            chunk = np.stack(scaled_rgb[start : start + self.batch_size])
            x = torch.from_numpy(chunk).to(self.device).permute(0, 3, 1, 2).float() - self._mean
            loc, conf, maps = _heads(self.net, x)
            priors = self._priors_for(tuple(x.shape[2:]), maps)
            for b in range(x.size(0)):
                scores = conf[b, :, 1]
                cand = torch.nonzero(scores > 0.05).squeeze(1)
                if cand.numel() == 0 or not bool((scores[cand] > conf_th).any()):
                    out.append(np.empty((0, 5)))
                    continue
                # box_utils.nms: (unstable) ascending sort of the >0.05 scores, best 5000, popped from
                # the end. The same sort call on the same device gives the same order among exact ties
                # (saturated 1.0 scores are common on clear faces).
                _, idx = scores[cand].sort(0)
                order = cand[idx[-NMS_TOP_K:].flip(0)]
                order = order[scores[order] > conf_th]
                boxes = decode(loc[b][order], priors[order], [0.1, 0.2])
                boxes_np = boxes.float().cpu().numpy()
                sel_np = scores[order].float().cpu().numpy()
                keep = _greedy_nms_f32(boxes_np, NMS_OVERLAP, KEEP_TOP_K)
                pts = (torch.from_numpy(boxes_np[keep]) * scale).numpy()  # float32 like the original
                dets = np.concatenate([pts.astype(np.float64), sel_np[keep, None].astype(np.float64)], 1)
                out.append(dets[nms_numpy(dets, FINAL_NMS)])
        return out


def reference_detect(net, image_rgb: np.ndarray, conf_th: float = 0.9, scale: float = 0.25) -> np.ndarray:
    """The package's own `S3FD.detect_faces` on one frame (used by tests to check `S3FDDetector`)."""
    from nava_eval.metrics.syncnet_model import import_syncnet_python

    s3fd = import_syncnet_python("detectors.s3fd")
    return s3fd.S3FD(net=net, device="cpu").detect_faces(image_rgb, conf_th=conf_th, scales=[scale])
