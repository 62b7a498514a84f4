"""CutNet at run time: ONNX Runtime + numpy, no torch.

``CutPredictor.alpha(image)`` is the product's soft cut at the image's resolution: the photo resized
to the network's square input, logits at half that size resampled to the full image, a sigmoid, and
the guided filter that snaps the edge onto the photo's own edges (as YOLACT's masks get). `cut_mask`
turns it into the product's mask: above 0.5, fragments much smaller than the largest part dropped.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ...ops.matte import GuidedFilter, parts
from ..ort import SidecarModel, cpu_session, int8_beside, int8_problem, is_int8, onnx_beside, onnx_sidecar

REFINE_RADIUS = 0.01  # guided-filter window as a fraction of the longer side (weights' sidecar may say)
REFINE_EPS = 1e-3
REFINE_MARGIN = 0.15  # the refiner's box: the product's grown by this share of its size on each side
MIN_FRAGMENT = 0.02  # parts smaller than this fraction of the largest part are specks, not product


class CutPredictor(SidecarModel):
    """One loaded CutNet on ONNX Runtime (CPU, ``threads`` intra-op threads). One per worker."""

    WHAT = "the cut model's"

    def __init__(self, onnx_file: str | Path, threads: int = 1, refine_radius: float | None = None,
                 refine_eps: float = REFINE_EPS, providers: list[str] | None = None, precision: str = "auto",
                 refiner: bool = True) -> None:
        """``precision``: the step's (`float32` keeps the zoomed pass on the float file too);
        ``refiner``: False leaves the sidecar's refiner unloaded (what its training cache reads is
        CutNet's own logits)."""
        super().__init__(onnx_file, threads, providers)
        self.size = int(self.meta["config"]["input_size"])
        side = onnx_sidecar(self.path).name
        # the guided-filter window tuned for these weights (sidecar `postprocess`), unless given
        post = self.meta.get("postprocess", {})
        self.refine_radius = float(post.get("refine_radius", REFINE_RADIUS) if refine_radius is None
                                   else refine_radius)
        self.min_fragment = float(post.get("min_fragment", MIN_FRAGMENT))
        self.threshold = float(post.get("threshold", 0.5))
        self.blend = float(post.get("blend", 0.0))
        self.anchor = bool(post.get("anchor", False))
        self.anchor_gap = float(post.get("anchor_gap", 0.0))  # parts this near the pick are kept too
        self.flip = bool(post.get("flip", False))  # average with the mirrored photo's logits
        # a second look at a small product: the cut again on its box grown by `zoom_margin`, when that
        # covers less than `zoom_max_area` of the photo (absent: off)
        self.zoom_margin = post.get("zoom_margin")
        self.zoom_max_area = float(post.get("zoom_max_area", 0.6))
        # `zoom_precision: int8`: the second look runs the int8 copy (where it is shipped and current,
        # and the step's precision is not float32; else the float file). It is averaged with the float
        # first look, where the int8 copy's error does not show (session 13: real val and shop val
        # unchanged), and it costs half as much.
        zp = post.get("zoom_precision", "float32")
        if zp not in ("float32", "int8"):
            raise ValueError(f"{side}: postprocess.zoom_precision {zp!r}: use float32 or int8")
        self.zoom_session, self.zoom_path = self.session, self.path
        if self.zoom_margin is not None and zp == "int8" and precision != "float32" and not is_int8(self.path):
            int8_file = int8_beside(self.path)
            if int8_problem(int8_file) is None:
                self.zoom_session, _ = cpu_session(int8_file, threads, providers)
                self.zoom_path = int8_file
        self.refine_eps = refine_eps
        # the refiner (models/cut/refine.py): the product's grown box redrawn at a finer scale
        ref = post.get("refine")
        self.refiner = None
        self.keep_joins: float | None = None
        if ref is not None and refiner:
            if not isinstance(ref, dict) or not isinstance(ref.get("onnx"), str):
                raise ValueError(f"{side}: postprocess.refine must name its ONNX file ({{onnx: FILE, margin: M}}), "
                                 f"got {ref!r}")
            ref_file = self.path.parent / ref["onnx"]
            if not ref_file.is_file():
                raise FileNotFoundError(f"{ref_file}: the cut's refiner is missing ({side}, postprocess.refine.onnx)")
            self.refiner = Refiner(ref_file, threads, providers, float(ref.get("margin", REFINE_MARGIN)),
                                   ref.get("band"))
            joins = ref.get("keep_joins")
            if joins is not None and (isinstance(joins, bool) or not isinstance(joins, (int, float))
                                      or not math.isfinite(joins) or joins < 0):
                raise ValueError(f"{side}: postprocess.refine.keep_joins must be a finite number >= 0 (the "
                                 f"slack, a share of the product's √area; absent: off), got {joins!r}")
            self.keep_joins = None if joins is None else float(joins)

    @classmethod
    def from_weights(cls, path: str | Path, precision: str = "float32", **kwargs: Any) -> CutPredictor:
        """As `SidecarModel.from_weights`, the precision also deciding the zoomed pass's file."""
        return cls(onnx_beside(path, cls.WHAT, precision), precision=precision, **kwargs)

    def frame(self, image: np.ndarray) -> np.ndarray:
        """The network's input: the RGB uint8 photo resized to S×S (aspect not kept)."""
        h, w = image.shape[:2]
        interp = cv2.INTER_AREA if max(h, w) > self.size else cv2.INTER_LINEAR
        return cv2.resize(np.ascontiguousarray(image), (self.size, self.size), interpolation=interp)

    def logits(self, image: np.ndarray, session: Any = None) -> np.ndarray:
        """Logits at half the network's input size (s×s float32); with the sidecar's `flip`, the mean
        of the photo's and its mirror image's (mirrored back). `session`: another copy of the
        network to run (the zoomed pass's), else this one's."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected H×W×3 uint8 RGB, got {image.shape} {image.dtype}")
        session = self.session if session is None else session
        frame = self.frame(image)
        out = session.run(None, {self.input_name: frame[None]})[0][0, 0]
        if self.flip:  # a second opinion on the mirrored frame, mirrored back
            mirrored = session.run(None, {self.input_name: np.ascontiguousarray(frame[:, ::-1])[None]})[0][0, 0]
            out = (out + mirrored[:, ::-1]) / 2
        return out

    def threshold_logit(self) -> float:
        """The sidecar's probability threshold as a logit."""
        t = min(max(self.threshold, 1e-6), 1 - 1e-6)
        return float(np.log(t / (1 - t)))

    def product_mask(self, up: np.ndarray) -> np.ndarray:
        """The product in logits `up`: above the sidecar's probability threshold (as a logit),
        specks dropped (what the zoomed pass and the refiner take the product's box from)."""
        return drop_fragments(up > self.threshold_logit(), self.min_fragment)

    def zoom_box(self, up: np.ndarray) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the second look: the box of the cut's mask (`up`: its logits at the
        photo's size; above the threshold, specks dropped) grown by `zoom_margin` of its size on
        each side; None when zoom is off, the mask is empty or the box is not small enough."""
        if self.zoom_margin is None:
            return None
        from ...sample import mask_box

        bx0, by0, bx1, by1 = mask_box(self.product_mask(up))
        if bx1 == 0:  # empty
            return None
        h, w = up.shape
        mx, my = self.zoom_margin * (bx1 - bx0), self.zoom_margin * (by1 - by0)
        x0, x1 = max(0, int(bx0 - mx)), min(w, int(bx1 + mx))
        y0, y1 = max(0, int(by0 - my)), min(h, int(by1 + my))
        if (x1 - x0) * (y1 - y0) >= self.zoom_max_area * h * w or min(x1 - x0, y1 - y0) < 8:
            return None
        return x0, y0, x1, y1

    def full_logits(self, image: np.ndarray, info: dict[str, float] | None = None) -> np.ndarray:
        """Logits at the image's resolution; with the sidecar's zoom, averaged inside the product's
        grown box with the cut's logits on that crop (a small product seen at the network's full
        input size: its thin parts and edge, session 10); then the refiner's, where the sidecar
        names one (its splits of a thin join mended, `keep_joins`). `info` receives ``refine_change``:
        the pixels the refiner moved across the threshold (after that mending), as a share of the
        product's area after it (a cut it had to redraw much of)."""
        h, w = image.shape[:2]
        up = cv2.resize(self.logits(image), (w, h), interpolation=cv2.INTER_LINEAR)
        box = self.zoom_box(up)
        if box is not None:
            x0, y0, x1, y1 = box
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
            near = cv2.resize(self.logits(crop, self.zoom_session), (x1 - x0, y1 - y0),
                              interpolation=cv2.INTER_LINEAR)
            up[y0:y1, x0:x1] = (up[y0:y1, x0:x1] + near) / 2
        if self.refiner is not None:
            new = self.refiner(image, up, self.product_mask(up))
            t = self.threshold_logit()
            if self.keep_joins is not None:
                new = keep_joins(up, new, t, self.min_fragment, self.keep_joins)
            if info is not None:
                before, after = up > t, new > t
                info["refine_change"] = round(int(np.count_nonzero(before != after))
                                              / max(int(np.count_nonzero(after)), 1), 4)
            up = new
        return up

    def alpha(self, image: np.ndarray, info: dict[str, float] | None = None) -> np.ndarray:
        """The product's soft cut (H×W float32 in [0, 1]) at the image's resolution (`info`: see
        `full_logits`)."""
        h, w = image.shape[:2]
        up = self.full_logits(image, info)
        p = 1.0 / (1.0 + np.exp(-np.clip(up, -30, 30)))
        if self.refine_radius > 0:
            side = max(h, w)
            gf = GuidedFilter(image, max(1, round(self.refine_radius * side)), self.refine_eps,
                              subsample=max(1, side // 512))
            p = gf(p)
        return p.astype(np.float32)


def keep_joins(old: np.ndarray, new: np.ndarray, t: float, min_fraction: float, slack: float) -> np.ndarray:
    """`new` (the refiner's logits), except where it split a part off the product that `old` (the
    cut's) had joined to it by a thin bridge: there the cut's logits come back on the bridge, on the
    pixels within `slack` × √(the largest part's area) (at least 2 px) of the shortest way across (a
    chair's stem between its seat and its base). Parts are above `t`; parts smaller than
    `min_fraction` of the largest are specks, which a bridge may run through. A wide bridge (two
    parts facing each other along an edge: a lipstick and its cap side by side, the backdrop between
    them cut away) is left cut, and so is a way that would not join the two parts again."""
    if old.shape != new.shape:
        raise ValueError(f"keep_joins: the cut's logits are {old.shape}, the refiner's {new.shape}")
    before, after = old > t, new > t
    x, y, w, h = cv2.boundingRect((before | after).view(np.uint8))  # everything happens in this box
    if w == 0:
        return new
    box = (slice(y, y + h), slice(x, x + w))
    back = _joins(before[box], after[box], min_fraction, slack)
    if back is None:
        return new
    out = new.copy()
    crop = out[box]
    crop[back] = np.maximum(old[box][back], crop[back])
    return out


def _joins(before: np.ndarray, after: np.ndarray, min_fraction: float, slack: float) -> np.ndarray | None:
    """The bridge pixels `keep_joins` puts back (a boolean mask), or None."""
    n, labels = cv2.connectedComponents(np.ascontiguousarray(after).view(np.uint8), connectivity=8)
    if n <= 2:
        return None  # one part (or none): nothing was split off (the common case: no part sizes needed)
    areas = np.bincount(labels.ravel(), minlength=n)
    keep = np.zeros(n, bool)
    keep[1:] = areas[1:] >= min_fraction * areas[1:].max()
    if int(keep.sum()) <= 1:
        return None
    sig = keep[labels]
    gaps = before & ~sig  # what the refiner removed, and its specks: where a bridge may run
    if not (gaps & ~after).any():
        return None
    n_gaps, gl = cv2.connectedComponents(gaps.view(np.uint8), connectivity=8)
    # which gap pieces touch which parts, in one pass: the largest and the smallest piece label
    # among each part pixel's 8 neighbours
    k3 = np.ones((3, 3), np.uint8)
    g = gl.astype(np.float32)
    hi = cv2.dilate(g, k3)
    lo = -cv2.dilate(np.where(gl > 0, -g, np.float32(-(n_gaps + 1))), k3)
    touch: set[tuple[int, int]] = set()
    for near, ok in ((hi, hi > 0), (lo, lo <= n_gaps)):
        on = sig & ok
        touch |= set(zip(labels[on].tolist(), near[on].astype(int).tolist()))
    main = 1 + int(np.argmax(areas[1:]))
    of_main = {piece for part, piece in touch if part == main}
    room = max(2.0, slack * math.sqrt(float(areas[main])))
    back = np.zeros_like(after)
    d_main = None
    for b in np.flatnonzero(keep):
        shared = sorted({piece for part, piece in touch if part == b} & of_main) if b != main else []
        if not shared:
            continue
        if d_main is None:
            d_main = cv2.distanceTransform((labels != main).astype(np.uint8), cv2.DIST_L2, 3)
        bridge = np.isin(gl, shared)
        way = d_main + cv2.distanceTransform((labels != b).astype(np.uint8), cv2.DIST_L2, 3)
        shortest = float(way[bridge].min())  # the gap's length: the least way across
        path = bridge & (way <= shortest + room)
        if int(path.sum()) > (shortest + 1) * (2 * room + 2):
            continue  # wide: two parts facing each other along an edge, not a thin stem
        joined = parts((labels == main) | (labels == b) | path, 8)[0] - 1
        if joined == 1:  # the way joins them again
            back |= path
    return back if back.any() else None


def drop_fragments(mask: np.ndarray, min_fraction: float = MIN_FRAGMENT) -> np.ndarray:
    """``mask`` without connected parts smaller than ``min_fraction`` of its largest part."""
    n, labels, areas = parts(mask, 8)
    if n <= 2:
        return mask.astype(bool)
    areas = areas[1:]
    keep = np.zeros(n, bool)
    keep[1:] = areas >= min_fraction * areas.max()
    return keep[labels]


def cut_mask(alpha: np.ndarray, min_fraction: float = MIN_FRAGMENT, threshold: float = 0.5) -> np.ndarray:
    """The product's boolean mask from its soft cut (the cut alone, without YOLACT's mask)."""
    return drop_fragments(alpha > threshold, min_fraction)


def _anchored(mask: np.ndarray, anchor: np.ndarray, gap: float = 0.0) -> np.ndarray:
    """The connected parts of `mask` that overlap `anchor`, or come within ``gap`` × √(its area)
    pixels of it; all of `mask` when none does."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    if gap > 0 and anchor.any():  # within r of the pick: a distance map costs the same for any r
        r = max(1, round(gap * float(np.sqrt(np.count_nonzero(anchor)))))
        anchor = cv2.distanceTransform((~anchor).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= r
    hit = np.unique(labels[anchor & mask])
    hit = hit[hit > 0]
    if hit.size == 0:
        return mask
    keep = np.zeros(n, bool)
    keep[hit] = True
    return keep[labels]


def merge_with_detections(found: list[Any], soft: np.ndarray, alpha: np.ndarray, default_class: int,
                          keep_all: bool = False, min_fraction: float = MIN_FRAGMENT, threshold: float = 0.5,
                          blend: float = 0.0, anchor: bool = False, anchor_gap: float = 0.0,
                          joins: float | None = None,
                          info: dict[str, float] | None = None) -> list[tuple[Any, np.ndarray]]:
    """The kept (Instance, soft mask) pairs when the cut makes the product's mask.

    ``found``/``soft``: YOLACT's instances and soft masks, best first, at the photo's resolution or
    (for a large photo) at a smaller copy's, then resampled where they are used; ``alpha``: the cut. The
    product is the detection that overlaps the cut's mask most (IoU ≥ 0.1): its class and score
    name it, and its soft mask is blended into the cut (``blend`` of it, the two models missing
    different parts of real products); without one, the cut alone with ``default_class`` and the
    cut's mean confidence. With ``anchor``, only the cut's parts that touch YOLACT's first
    detection (its product pick: centred, not spanning the frame) or come within ``anchor_gap`` ×
    √(its area) pixels of it (a lipstick's cap standing beside it) are kept, so a prop or a
    patterned backdrop the cut also finds stays out. The mask is the blend above ``threshold``, parts smaller than
    ``min_fraction`` of the largest dropped; the soft mask is remapped so that ``threshold`` sits at
    0.5 (the level every later step reads as the edge). With ``keep_all`` the other detections
    follow, less the product's pixels, when they are not the same object (IoU < 0.5) and keep at
    least half their area. With ``joins`` (the refiner's ``keep_joins`` slack), a part the blend
    splits off where the cut held it joined is mended as `keep_joins` does (YOLACT's mask often lacks
    a thin stem the cut keeps). An empty cut gives YOLACT's result. ``info``, when given, receives
    ``agreement``: the IoU of the cut's mask with the detection chosen as the product (0 without
    one), which the quality gate reads (two models that disagree about a product's outline).
    """
    from ...sample import Instance

    h, w = alpha.shape
    low = len(soft) > 0 and soft.shape[1:] != alpha.shape
    if low and keep_all:
        raise ValueError("keep_all needs YOLACT's masks at the cut's resolution")

    def full(m: np.ndarray) -> np.ndarray:  # a detection's soft mask at the photo's resolution
        return cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) if low else m

    cut = cut_mask(alpha, min_fraction, threshold)
    if not cut.any():  # YOLACT's own result, its boxes and masks at the photo's resolution
        kept = []
        for inst, m in zip(found, soft):
            fm = full(m)
            if (fm > 0.5).any():
                kept.append((Instance.from_mask(inst.class_id, fm > 0.5, inst.score), fm))
        return kept if keep_all else kept[:1]
    if anchor and len(found):
        cut = _anchored(cut, full(soft[0]) > 0.5, anchor_gap)
    # overlaps are measured where the detections are (a smaller copy of the photo, for large ones)
    cut_at = cv2.resize(cut.view(np.uint8), soft.shape[:0:-1], interpolation=cv2.INTER_NEAREST).view(bool) \
        if low else cut
    area = cut_at.sum()
    best, best_j, best_iou = None, -1, 0.1
    ious = []
    for j, (inst, m) in enumerate(zip(found, soft)):
        mi = m > 0.5
        inter = np.logical_and(mi, cut_at).sum()
        iou = inter / max(area + mi.sum() - inter, 1)
        ious.append(iou)
        if iou > best_iou:
            best, best_j, best_iou = inst, j, iou
    if info is not None:
        info["agreement"] = round(float(best_iou), 4) if best is not None else 0.0
    p = alpha if best is None or blend <= 0 else (1 - blend) * alpha + blend * full(soft[best_j])
    if joins is not None and p is not alpha:
        p = keep_joins(alpha, p, threshold, min_fraction, joins)
    mask = drop_fragments(p > threshold, min_fraction)
    if anchor and len(found):
        mask = _anchored(mask, cut)
    if not mask.any():
        mask = cut
    # the soft mask outside the kept parts is no product (dropped specks); threshold → 0.5
    reach = cv2.dilate(mask.view(np.uint8), np.ones((5, 5), np.uint8)).view(bool)
    gamma = np.log(0.5) / np.log(threshold)
    product_soft = np.where(reach, np.clip(p, 0.0, 1.0) ** gamma, 0.0).astype(np.float32)
    product_soft[(product_soft > 0.5) & ~mask] = 0.5
    product_soft[mask & (product_soft <= 0.5)] = np.nextafter(np.float32(0.5), np.float32(1))
    if best is not None:
        cls, score = best.class_id, best.score
    else:
        cls, score = default_class, float(alpha[mask].mean())
    kept = [(Instance.from_mask(cls, mask, score), product_soft)]
    if keep_all:
        for inst, m, iou in zip(found, soft, ious):
            if inst is best or iou >= 0.5:
                continue
            rest = (m > 0.5) & ~mask
            if rest.sum() >= 0.5 * max((m > 0.5).sum(), 1):
                kept.append((Instance.from_mask(inst.class_id, rest, inst.score), np.where(mask, 0.0, m)))
    return kept


def refine_box(mask: np.ndarray, margin: float) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the mask's box grown by `margin` of its size on each side, inside the
    picture; None for an empty mask or a box under 8 px."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    bx0, bx1, by0, by1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    mx, my = margin * (bx1 - bx0), margin * (by1 - by0)
    h, w = mask.shape
    x0, x1 = max(0, int(bx0 - mx)), min(w, math.ceil(bx1 + mx))
    y0, y1 = max(0, int(by0 - my)), min(h, math.ceil(by1 + my))
    if min(x1 - x0, y1 - y0) < 8:
        return None
    return x0, y0, x1, y1


def net_input(image: np.ndarray, logits: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """1×4×S×S float32: the box of the RGB photo and of the logits (both at the photo's size), resized."""
    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    interp = cv2.INTER_AREA if max(crop.shape[:2]) > size else cv2.INTER_LINEAR
    rgb = cv2.resize(crop, (size, size), interpolation=interp).astype(np.float32)
    lg = cv2.resize(np.ascontiguousarray(logits[y0:y1, x0:x1], dtype=np.float32), (size, size),
                    interpolation=cv2.INTER_LINEAR)
    return np.concatenate([rgb.transpose(2, 0, 1), lg[None]], 0)[None]


class Refiner:
    """The exported refiner on ONNX Runtime (one per worker)."""

    def __init__(self, onnx_file: str | Path, threads: int = 1, providers: list[str] | None = None,
                 margin: float = REFINE_MARGIN, band: float | None = None) -> None:
        self.path = Path(onnx_file)
        self.band = band  # redraw only where the cut's logit is within ±band (its undecided edge)
        self.session, self.runtime = cpu_session(self.path, threads, providers)
        self.input_name = self.session.get_inputs()[0].name
        self.size = int(self.session.get_inputs()[0].shape[-1])
        self.margin = margin

    def __call__(self, image: np.ndarray, logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The logits (photo-sized) with the box of `mask` (the product: the cut's mask, specks
        dropped), grown by the margin, redrawn; unchanged without a product."""
        box = refine_box(mask, self.margin)
        if box is None:
            return logits
        x0, y0, x1, y1 = box
        out = self.session.run(None, {self.input_name: net_input(image, logits, box, self.size)})[0][0, 0]
        logits = logits.copy()
        new = cv2.resize(out, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        if self.band is not None:
            old = logits[y0:y1, x0:x1]
            new = np.where(np.abs(old) < self.band, new, old)
        logits[y0:y1, x0:x1] = new
        return logits
