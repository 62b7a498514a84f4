"""YOLACT inference post-processing in numpy (+ OpenCV through the guided filter); no torch.

The one post-processing of both runtimes: the torch `predict.Predictor` (GPU batches, training's
evaluation) and ONNX Runtime's `onnx_predict.OnnxPredictor` (the default CPU path) each run the
network and hand its raw outputs to `PredictorAPI.post_process`, so they differ only in the network:

softmax → anchor decode → candidates → Fast NMS (class-agnostic or per class) → top detections →
mask logits (prototypes × coefficients) → bilinear resample to the full image (grid_sample's
align_corners=False convention with border padding) → sigmoid → guided-filter edge refinement →
soft crop to the grown boxes → mask quality, product prior, ranking.

All arithmetic is float32, in the order of the torch implementation it replaced (grid_sample,
topk, torch's Fast NMS); tests/models/yolact/test_postprocess.py holds it to values recorded from
that implementation.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...ops.matte import GuidedFilter
from ...sample import Instance
from .data import Letterbox
from .spec import PICK_BORDER, PICK_CENTRE, PICK_MIN_AREA

F32 = np.float32


@dataclass
class SoftDetections:
    """Detections at full resolution, best first: boxes xyxy pixels (D×4), classes 1..21, class scores,
    masks D×H×W float32, and mask quality (mean probability over each mask's own pixels)."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    masks: np.ndarray
    quality: np.ndarray
    coarse: np.ndarray | None = None  # the masks before the guided filter (for a learned refiner), same order

    @staticmethod
    def empty(h: int, w: int) -> SoftDetections:
        return SoftDetections(np.zeros((0, 4), F32), np.zeros(0, np.int64), np.zeros(0, F32),
                              np.zeros((0, h, w), F32), np.zeros(0, F32))

class PredictorAPI:
    """What every predictor offers on top of its own `soft` / `soft_batch` (torch and ONNX alike)."""

    def _batch_settings(self, images: list[np.ndarray], score_threshold: float | None, top_k: int | None,
                        agnostic: bool | None) -> tuple[bool, float, int, list[Letterbox]]:
        """(agnostic, score threshold, top k, one letterbox per image) of a `soft_batch` call, with
        the predictor's defaults; checks that every image is H×W×3 uint8 RGB."""
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected H×W×3 uint8 RGB, got {image.shape} {image.dtype}")
        return (self.agnostic if agnostic is None else agnostic,
                self.score_threshold if score_threshold is None else score_threshold,
                self.top_k if top_k is None else top_k,
                [Letterbox.for_shape(*image.shape[:2], self.size) for image in images])

    def post_process(self, image: np.ndarray, lb: Letterbox, out: dict[str, np.ndarray], anchors: np.ndarray,
                     agnostic: bool, score_threshold: float, top_k: int, keep_coarse: bool = False
                     ) -> SoftDetections:
        """One image's detections and soft masks from the network's raw outputs for its letterboxed
        frame (`cls`, `box`, `coef`, `protos`, batch axis dropped): `detect`, then `soft_detections`
        with the predictor's settings."""
        det = detect(out["cls"], out["box"], out["coef"], anchors, self.cfg.box_variances,
                     score_threshold=score_threshold, nms_iou=self.nms_iou, max_dets=top_k, agnostic=agnostic)
        return soft_detections(image, det, out["protos"], lb.scale, self.size, box_margin=self.box_margin,
                               refine_radius=self.refine_radius, refine_eps=self.refine_eps,
                               rescore_power=self.rescore_power, agnostic=agnostic, pick_centre=self.pick_centre,
                               pick_border=self.pick_border, keep_coarse=keep_coarse)

    def soft_masks(self, image: np.ndarray, **kwargs: Any) -> tuple[list[Instance], np.ndarray]:
        """Instances and their full-resolution float32 soft masks (D×H×W, values in [0, 1])."""
        soft = self.soft(image, **kwargs)
        return self._instances(soft), soft.masks

    def soft_masks_batch(self, images: list[np.ndarray], **kwargs: Any) -> list[tuple[list[Instance], np.ndarray]]:
        """`soft_masks` of several images (the same instances and masks as one at a time)."""
        return [(self._instances(s), s.masks) for s in self.soft_batch(images, **kwargs)]

    def __call__(self, image: np.ndarray, **kwargs: Any) -> list[Instance]:
        return self._instances(self.soft(image, **kwargs))

    @staticmethod
    def _instances(soft: SoftDetections, threshold: float = 0.5) -> list[Instance]:
        return [Instance(int(cls), mask >= threshold, tuple(float(v) for v in box), float(score))
                for box, cls, score, mask in zip(soft.boxes, soft.classes, soft.scores, soft.masks)]



@dataclass
class Detections:
    """Detections of one image in the square input frame; boxes xyxy normalised to [0, 1]."""

    boxes: np.ndarray  # D×4
    classes: np.ndarray  # D, 1..num_classes
    scores: np.ndarray  # D
    coefs: np.ndarray  # D×k
    objectness: np.ndarray  # D, 1 − P(background)


# ---------------------------------------------------------------------------------------- anchors


def make_anchors(grid_sizes: Sequence[Sequence[int]], anchor_fracs: Sequence[float],
                 aspect_ratios: Sequence[float]) -> np.ndarray:
    """A×4 (cx, cy, w, h) in [0, 1], level → row → column → aspect ratio, like the head's outputs."""
    out = []
    for (h, w), frac in zip(grid_sizes, anchor_fracs):
        ys, xs = np.meshgrid(np.arange(h, dtype=F32), np.arange(w, dtype=F32), indexing="ij")
        n = len(aspect_ratios)
        cx = np.repeat(((xs + F32(0.5)) / F32(w)).reshape(-1, 1), n, 1)
        cy = np.repeat(((ys + F32(0.5)) / F32(h)).reshape(-1, 1), n, 1)
        ws = np.broadcast_to(np.array([frac * math.sqrt(a) for a in aspect_ratios], F32), cx.shape)
        hs = np.broadcast_to(np.array([frac / math.sqrt(a) for a in aspect_ratios], F32), cx.shape)
        out.append(np.stack([cx, cy, ws, hs], -1).reshape(-1, 4))
    return np.concatenate(out, 0).astype(F32)


def decode(offsets: np.ndarray, anchors: np.ndarray, variances: Sequence[float]) -> np.ndarray:
    """Offsets A×4 → xyxy boxes in [0, 1] coordinates of the square input (the inverse of the
    training targets' `anchors.encode`)."""
    xy = anchors[:, :2] + offsets[:, :2] * F32(variances[0]) * anchors[:, 2:]
    wh = anchors[:, 2:] * np.exp(np.minimum(offsets[:, 2:] * F32(variances[1]), F32(6.0)))
    half = wh / F32(2)
    return np.concatenate([xy - half, xy + half], -1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes: (..., N, 4) × (..., M, 4) → (..., N, M)."""
    lt = np.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = np.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[..., 2:] - a[..., :2], 0, None).prod(-1)
    area_b = np.clip(b[..., 2:] - b[..., :2], 0, None).prod(-1)
    return inter / np.maximum(area_a[..., :, None] + area_b[..., None, :] - inter, F32(1e-9))


# ------------------------------------------------------------------------------------- detection


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def fast_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5,
             top_k: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Per-class Fast NMS (Bolya et al., YOLACT 2019): boxes A×4 shared by the classes, scores C×A.

    Per class, the top_k boxes by score; a box is kept iff its IoU with every higher-scoring one
    is <= the threshold (the strict upper triangle of the IoU matrix, one matrix op). Unlike greedy
    NMS, a box that is itself suppressed still suppresses lower-scoring ones, so Fast NMS keeps a
    subset of what greedy NMS keeps. Returns (class index, anchor index) of the kept detections, by
    class then descending score.
    """
    num_classes, num = scores.shape
    k = min(top_k, num)
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # C×k, descending
    cand = boxes[idx]  # C×k×4
    iou = np.triu(box_iou(cand, cand), 1)  # row i (higher score) vs column j
    keep = iou.max(1) <= iou_threshold  # per column: max IoU with any higher-scoring box
    cls_idx = np.broadcast_to(np.arange(num_classes)[:, None], keep.shape)
    return cls_idx[keep], idx[keep]


def detect(cls_logits: np.ndarray, box: np.ndarray, coef: np.ndarray, anchors: np.ndarray,
           variances: Sequence[float], score_threshold: float = 0.05, nms_iou: float = 0.5,
           top_k: int = 200, max_dets: int = 100, agnostic: bool = False) -> Detections:
    """One image's detections from the head outputs (A×(C+1), A×4, A×k).

    With ``agnostic`` the score is the objectness 1 − P(background) and NMS runs once over all
    classes, the class being the most probable one; otherwise per-class scores and per-class NMS.
    """
    probs = softmax(cls_logits.astype(F32, copy=False))
    boxes = np.clip(decode(box, anchors, variances), F32(0), F32(1))
    k = coef.shape[-1]
    empty = Detections(np.zeros((0, 4), F32), np.zeros(0, np.int64), np.zeros(0, F32),
                       np.zeros((0, k), F32), np.zeros(0, F32))
    if agnostic:
        obj = F32(1) - probs[:, 0]
        cand = np.flatnonzero(obj > score_threshold)
        if cand.size == 0:
            return empty
        _, anchor_j = fast_nms(boxes[cand], obj[cand][None], nms_iou, top_k)
        a = cand[anchor_j]
        a = a[np.argsort(-obj[a], kind="stable")][:max_dets]
        return Detections(boxes[a], probs[a, 1:].argmax(1).astype(np.int64) + 1, obj[a], coef[a], obj[a])
    fg = probs[:, 1:]  # A×C
    cand_idx = np.flatnonzero(fg.max(1) > score_threshold)
    if cand_idx.size == 0:
        return empty
    scores = fg[cand_idx]  # M×C
    classes = np.flatnonzero(scores.max(0) > score_threshold)  # skip empty classes
    scores = scores[:, classes].T  # C'×M
    cls_i, anchor_j = fast_nms(boxes[cand_idx], scores, nms_iou, top_k)
    det_scores = scores[cls_i, anchor_j]
    valid = det_scores > score_threshold
    cls_i, anchor_j, det_scores = cls_i[valid], anchor_j[valid], det_scores[valid]
    order = np.argsort(-det_scores, kind="stable")[:max_dets]
    a = cand_idx[anchor_j[order]]
    return Detections(boxes[a], classes[cls_i[order]].astype(np.int64) + 1, det_scores[order], coef[a],
                      F32(1) - probs[a, 0])


# ------------------------------------------------------------------------------------------ masks


def assemble_mask_logits(protos: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """Linear combination of prototypes: h×w×k @ k×D → D×h×w mask logits."""
    h, w, k = protos.shape
    return np.ascontiguousarray((protos.reshape(h * w, k) @ coefs.T).T.reshape(-1, h, w))


def resample_matrix(n_out: int, n_in: int, scale: float, size: int) -> np.ndarray:
    """n_out×n_in bilinear weights: output pixel i (centre i + 0.5) samples the frame at
    (i + 0.5)·scale, over an n_in-cell map covering the size-wide frame; grid_sample's
    align_corners=False unnormalisation with border padding (coordinates clamped to the map)."""
    g = (np.arange(n_out, dtype=F32) + F32(0.5)) * F32(scale / size) * F32(2) - F32(1)  # grid, as torch
    src = ((g + F32(1)) * F32(n_in) - F32(1)) / F32(2)
    src = np.clip(src, F32(0), F32(n_in - 1))
    i0 = np.floor(src).astype(np.int64)
    frac = src - i0.astype(F32)
    i1 = np.minimum(i0 + 1, n_in - 1)
    m = np.zeros((n_out, n_in), F32)
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), F32(1) - frac)
    np.add.at(m, (rows, i1), frac)
    return m


def logits_to_image(logits: np.ndarray, h: int, w: int, scale: float, size: int) -> np.ndarray:
    """Bilinearly resample D×ph×pw logits covering the size×size letterbox frame to D×h×w: image
    pixel centre x + 0.5 sits at (x + 0.5)·scale in the frame (grid_sample's align_corners=False
    convention, border padding); the resampling is separable: Ry · L · Rxᵀ."""
    _, ph, pw = logits.shape
    ry = resample_matrix(h, ph, scale, size)
    rx = resample_matrix(w, pw, scale, size)
    return np.matmul(np.matmul(ry, logits), rx.T)


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """In-place logistic function of a float32 array (1 / (1 + e^−x)); returns x."""
    with np.errstate(over="ignore"):
        np.negative(x, out=x)
        np.exp(x, out=x)
    x += F32(1)
    np.reciprocal(x, out=x)
    return x


def crop_to_boxes(masks: np.ndarray, boxes: np.ndarray, soft_px: float = 0.0,
                  inplace: bool = False) -> np.ndarray:
    """Zero masks (D×h×w) outside their boxes (D×4 xyxy pixels); ``soft_px`` > 0 ramps the edge
    linearly over that many pixels (the training loss's `loss.crop_to_boxes`, in numpy).
    ``inplace`` reuses ``masks``."""
    _d, h, w = masks.shape
    xs = np.arange(w, dtype=F32) + F32(0.5)
    ys = np.arange(h, dtype=F32) + F32(0.5)
    x0, y0, x1, y1 = (boxes[:, i, None].astype(F32) for i in range(4))
    if soft_px > 0:
        s = F32(soft_px)
        wx = np.clip((xs - x0) / s + F32(0.5), 0, 1) * np.clip((x1 - xs) / s + F32(0.5), 0, 1)
        wy = np.clip((ys - y0) / s + F32(0.5), 0, 1) * np.clip((y1 - ys) / s + F32(0.5), 0, 1)
    else:
        wx = ((xs >= x0) & (xs < x1)).astype(F32)
        wy = ((ys >= y0) & (ys < y1)).astype(F32)
    if inplace:
        masks *= wy[:, :, None]
        masks *= wx[:, None, :]
        return masks
    return masks * wy[:, :, None] * wx[:, None, :]


def guided_refine(image: np.ndarray, probs: np.ndarray, refine_radius: float, refine_eps: float) -> np.ndarray:
    """Guided-filter edge refinement of D×H×W probabilities on the RGB image; window radius
    ``refine_radius`` × the longer image side."""
    side = max(image.shape[:2])
    radius = max(1, round(refine_radius * side))
    gf = GuidedFilter(image, radius, refine_eps, subsample=max(1, side // 512))
    return np.stack([gf(m) for m in probs])


# ---------------------------------------------------------------------------------------- ranking


def mask_quality(masks: np.ndarray) -> np.ndarray:
    """Mean probability over each soft mask's own pixels (p ≥ 0.5); 0 for an empty mask. D×H×W → D."""
    inside = masks >= 0.5
    count = inside.sum((1, 2))
    total = np.where(inside, masks, 0.0).sum((1, 2))
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)


def product_prior(masks: np.ndarray, centre: float = PICK_CENTRE, border: float = PICK_BORDER,
                  min_area: float = PICK_MIN_AREA) -> np.ndarray:
    """What a product photo says about which mask is the product, one factor per mask (D×H×W → D).

    exp(−centre · d²), d the distance of the mask's centroid from the image centre over the half
    diagonal (products are framed near the centre; props and background pieces sit at the edges),
    times (1 − border)^(n − 1) for a box touching n ≥ 2 image borders (a wall, a floor stripe or a
    shadow band spans the frame; a product rarely touches more than its standing edge), and 1e-3 for
    a speck below ``min_area`` of the image.
    """
    d, h, w = masks.shape
    out = np.ones(d, np.float32)
    if d == 0:
        return out
    ys, xs = np.arange(h, dtype=np.float32) + 0.5, np.arange(w, dtype=np.float32) + 0.5
    for j, m in enumerate(masks >= 0.5):
        area = m.sum()
        if area < min_area * h * w:
            out[j] = 1e-3
            continue
        rows, cols = m.any(1), m.any(0)
        cy = float((m.sum(1) * ys).sum() / area)
        cx = float((m.sum(0) * xs).sum() / area)
        dist2 = ((cx - w / 2) ** 2 + (cy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        touches = int(rows[0]) + int(rows[-1]) + int(cols[0]) + int(cols[-1])
        out[j] = np.exp(-centre * dist2) * (1 - border) ** max(0, touches - 1)
    return out


def rank_order(scores: np.ndarray, masks: np.ndarray, quality: np.ndarray, rescore_power: float,
               agnostic: bool, pick_centre: float = PICK_CENTRE, pick_border: float = PICK_BORDER
               ) -> np.ndarray | None:
    """The best-first order of the detections (score × quality^power [× product prior when
    agnostic]), or None when they stay in score order (power 0, per-class detection)."""
    if not (rescore_power > 0 or agnostic):
        return None
    rank = scores * quality ** rescore_power
    if agnostic:
        rank = rank * product_prior(masks, pick_centre, pick_border)
    return np.argsort(-rank, kind="stable")


# ------------------------------------------------------------------------------------ whole image


def soft_detections(image: np.ndarray, det: Detections, protos: np.ndarray, scale: float, size: int, *,
                    box_margin: float, refine_radius: float, refine_eps: float, rescore_power: float,
                    agnostic: bool, pick_centre: float = PICK_CENTRE,
                    pick_border: float = PICK_BORDER, keep_coarse: bool = False) -> SoftDetections:
    """Full-resolution soft masks, boxes and ranking of ``det`` on ``image`` (H×W×3 uint8 RGB),
    ``protos`` h×w×k over the size×size letterbox frame in which the image has scale ``scale``.
    ``keep_coarse`` also returns the cropped masks before the guided filter (a learned refiner's input)."""
    h, w = image.shape[:2]
    if det.scores.size == 0:
        return SoftDetections.empty(h, w)
    logits = assemble_mask_logits(protos, det.coefs)  # D×ph×pw over the S×S input frame
    probs = sigmoid_(logits_to_image(logits, h, w, scale, size))
    del logits
    boxes = det.boxes * F32(size / scale)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
    grow = (boxes[:, 2:] - boxes[:, :2]) * F32(box_margin)
    crop = np.concatenate([boxes[:, :2] - grow, boxes[:, 2:] + grow], 1)
    coarse = crop_to_boxes(probs, crop, soft_px=1.0) if keep_coarse else None
    if refine_radius > 0:
        probs = guided_refine(image, probs, refine_radius, refine_eps)
    masks = crop_to_boxes(probs.astype(F32, copy=False), crop, soft_px=1.0, inplace=True)
    del probs
    boxes = boxes.astype(F32)
    classes, scores = det.classes.astype(np.int64), det.scores.astype(F32)
    quality = mask_quality(masks)
    order = rank_order(scores, masks, quality, rescore_power, agnostic, pick_centre, pick_border)
    if order is not None:
        boxes, classes, scores, masks, quality = (a[order] for a in (boxes, classes, scores, masks, quality))
        coarse = coarse[order] if coarse is not None else None
    return SoftDetections(boxes, classes, scores, masks, quality, coarse)
