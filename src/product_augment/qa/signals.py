"""The quality signals, measured on a copy of at most `WORK_SIDE` px: the cut on the input photo
(`segment_signals`), the halo on the new picture, and the checks read from what the steps recorded."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from ..ops.matte import parts

WORK_SIDE = 384         # signals are measured on a copy of at most this longest side
MIN_PART = 0.002        # parts / holes smaller than this share of the product are specks, not counted
HOLE_DE = 12.0          # a hole this far (ΔE76) from the backdrop, and nearer the product, is the product's
SHADOW_CHROMA = 10.0    # a cast shadow keeps the backdrop's hue: a, b within this of the backdrop's
SHADOW_JUMP = 14.0      # ... and no edge to the backdrop: L* rises by less than this across the outline
HALO_OLD_DE = 10.0      # an edge pixel this close to the old backdrop ...
HALO_NEW_DE = 20.0      # ... and this far from the new background (and from the product) is halo
COLOUR_SAMPLE = 1500    # the backdrop's colours are clustered on at most about this many pixels


def _work(image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = alpha.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    if s >= 1.0:
        return image, alpha
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            cv2.resize(alpha.astype(np.float32, copy=False), size, interpolation=cv2.INTER_AREA))


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L in 0..100) of uint8 sRGB, float32 (OpenCV's conversion: fast, D65)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _box(labels: np.ndarray, i: int) -> tuple[int, int, int, int]:
    """(x, y, width, height) of label `i`."""
    m = labels == i
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def _ring(mask: np.ndarray, r: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.view(np.uint8), k).view(bool) & ~mask


def _erode(mask: np.ndarray, r: int) -> np.ndarray:
    k = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    return cv2.erode(mask.view(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)


def _bounds(mask: np.ndarray, grow: int) -> tuple[slice, slice]:
    """The rows and columns of `mask`'s box grown by `grow` px (cut at the array's edges)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return (slice(max(0, rows[0] - grow), rows[-1] + 1 + grow),
            slice(max(0, cols[0] - grow), cols[-1] + 1 + grow))


def mask_certainty(soft: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """How decided a segmenter's soft mask is, on the mask's box grown by 4 px: `mask_quality`
    = 1 − undecided pixels (0.15 < p < 0.85) / product pixels, and `uncertain_width` = undecided
    pixels per pixel of outline, in px of a 1000 px photo (the width of the unsure band)."""
    if not mask.any():
        return {"mask_quality": 0.0, "uncertain_width": 0.0}
    box = _bounds(mask, 4)
    s, m = soft[box], mask[box]
    undecided = int(np.count_nonzero((s > 0.15) & (s < 0.85)))
    outline = int(np.count_nonzero(m & ~_erode(np.ascontiguousarray(m), 1)))
    side = max(mask.shape)
    return {"mask_quality": round(max(0.0, 1.0 - undecided / max(int(np.count_nonzero(m)), 1)), 4),
            "uncertain_width": round(undecided / max(outline, 1) * 1000 / side, 3)}


def segment_signals(image: np.ndarray, alpha: np.ndarray, score: float | None = None,
                    certainty: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The signals of a photo's cut (`alpha`: its matte, the product > 0.5). Also returns the
    backdrop's colour around the product (`backdrop_lab`), which the halo check compares with.

    Only the product and the bands around it are read: after the distances, everything runs on
    their box, and what lies in the product on the product's box. The values are the whole
    picture's: a box's edge is the picture's, or farther from every pixel measured than the filter
    that measures it reads."""
    img, a = _work(image, alpha)
    mask = a > 0.5
    area = int(np.count_nonzero(mask))
    out: dict[str, Any] = {}
    if score is not None:
        out["confidence"] = round(float(score), 4)
    out.update(certainty or {})
    if area == 0:
        return {**out, "product_area": 0.0}
    h, w = mask.shape
    side = max(h, w)
    out["product_area"] = round(area / (h * w), 4)
    # product pixels on the picture's frame (the outline below counts the frame as outside)
    on_frame = area - int(np.count_nonzero(mask[1:-1, 1:-1]))
    # distances to the product (outside) and to the backdrop (inside): every ring and band below.
    # On the whole picture: OpenCV (IPP) sums these in float, and on a cut-out the last bit can differ
    dist_out = cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, 3)
    dist_in = cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, 3)
    # the bands' widths (px): the backdrop's ring, the wider ring of its colours, the near band
    r_ring, r_wide = max(3, round(0.02 * side)), max(4, round(0.06 * side))
    r_near = max(3, round(0.12 * side))
    r_band = max(r_ring, r_wide, r_near)
    # the product and its bands, grown by the 2 px that the 5×5 local contrast reads around them
    win = _bounds(dist_out <= r_band, 2)
    mask, dist_out, dist_in = mask[win], np.ascontiguousarray(dist_out[win]), dist_in[win]
    # the product grown by 2 px (in `win`): its outline, parts, holes, closing and shadow read no
    # farther (the shadow's 5×5 dilation 2 px; a closing adds nothing outside the product's box)
    box = _bounds(mask, 2)
    product = mask[box]

    outline = product & ~_erode(product, 1)
    out["border_touch"] = round(on_frame / max(int(outline.sum()), 1), 4)
    areas = parts(product, 8)[2][1:]
    sizable = areas[areas >= max(MIN_PART * area, 4)]
    out["fragments"] = int(max(len(sizable) - 1, 0))
    out["fragment_area"] = round(1.0 - float(areas.max()) / area, 4)

    lab = to_lab(img[win])  # per pixel
    lab_px = lab.reshape(-1, 3)
    # the pixels of every band around the product, once (flat indices into `win`, raster order).
    # Rows are gathered with take and compress: the same rows as indexing, several times faster
    band = np.flatnonzero(~mask & (dist_out <= r_band))
    band_dist, band_px = dist_out.ravel()[band], np.take(lab_px, band, axis=0)
    ring_px = np.compress(band_dist <= r_ring, band_px, axis=0)
    backdrop = np.median(ring_px, axis=0) if len(ring_px) else np.array([100.0, 0.0, 0.0], np.float32)
    out["backdrop_lab"] = [round(float(v), 2) for v in backdrop]
    hole_area, product_holes = _holes(product, lab[box], backdrop, area)
    out["hole_area"] = round(hole_area, 4)
    out["hole_product_area"] = round(product_holes, 4)
    out["shadow_area"] = round(_shadow(product, lab[box], backdrop, area, outline), 4)
    # notches and holes, open or closed: what a closing over 3 % of the side fills in
    r = max(2, round(0.015 * side))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    padded = cv2.copyMakeBorder(product.view(np.uint8), r, r, r, r, cv2.BORDER_CONSTANT, value=0)
    closed = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, k)[r:-r, r:-r].view(bool)
    out["ragged"] = round(int((closed & ~product).sum()) / area, 4)
    # the backdrop's colours (a wall and a floor, say) from a wider ring, and their spread (texture);
    # ΔE to the nearest colour on all the bands at once (a pixel's ΔE does not depend on the others)
    wide = band_dist <= r_wide
    if wide.any():
        at = np.flatnonzero(wide)
        centres = _colours(band_px[at[:: _every(len(at))]])  # backdrop_colours, gathering only its sample
    else:
        centres = backdrop[None]
    band_de = _nearest(band_px, centres)
    spread = float(np.median(band_de[wide])) if wide.any() else 0.0
    out["backdrop_spread"] = round(spread, 2)
    near = band_dist <= r_near
    out["lost_area"] = round(_lost(mask, lab, dist_out, band[near], np.compress(near, band_px, axis=0),
                                   band_de[near], centres, spread) / area, 4)
    inner = np.flatnonzero(mask & (dist_in <= max(2, round(0.02 * side))))
    out["backdrop_inside"] = round(_taken(mask, lab_px, dist_in, inner, centres, spread) / area, 4)
    return out


def _every(n: int) -> int:
    """The step of the even sample of `n` pixels that the backdrop's colours are clustered on."""
    return max(1, n // COLOUR_SAMPLE)


def backdrop_colours(px: np.ndarray, k: int = 3, iterations: int = 5, min_share: float = 0.2) -> np.ndarray:
    """The main colours of backdrop pixels (N×3 Lab): k-means started at the lightness quantiles
    (deterministic, no random numbers) on at most 1,500 evenly taken pixels; the colours of at least
    `min_share` of them (a wall and a floor, not a part of the product the cut left out)."""
    return _colours(px[:: _every(len(px))], k, iterations, min_share)


def _colours(px: np.ndarray, k: int = 3, iterations: int = 5, min_share: float = 0.2) -> np.ndarray:
    """`backdrop_colours` of pixels already taken (all of them are clustered)."""
    px = np.ascontiguousarray(px, dtype=np.float32)
    order = np.argsort(px[:, 0])
    centres = px[order[(np.linspace(0.1, 0.9, k) * (len(px) - 1)).astype(int)]] if len(px) >= k else px
    near = np.zeros(len(px), int)
    px2, twice = (px * px).sum(1)[:, None], 2 * px
    for _ in range(iterations):
        d2 = px2 - twice @ centres.T + (centres * centres).sum(1)[None]
        near = d2.argmin(1)
        counts = np.bincount(near, minlength=len(centres))
        sums = np.stack([np.bincount(near, weights=px[:, c], minlength=len(centres)) for c in range(3)], 1)
        centres = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres).astype(np.float32)
    share = np.bincount(near, minlength=len(centres)) / max(len(px), 1)
    return centres[share >= min(min_share, share.max())]


def _nearest(px: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """ΔE76 of each pixel (N×3) to the nearest of the centres."""
    best = None
    for c in centres:
        d = px - c
        d2 = np.einsum("ij,ij->i", d, d)
        best = d2 if best is None else np.minimum(best, d2)
    return np.sqrt(best)


def _lost(mask: np.ndarray, lab: np.ndarray, dist_out: np.ndarray, near: np.ndarray, px: np.ndarray,
          de: np.ndarray, centres: np.ndarray, spread: float) -> int:
    """Not-backdrop pixels just outside the product, attached to it: a part the cut lost (pixels).
    `near`: the flat indices of the pixels near the product, `px` their Lab, `de` their ΔE to the
    nearest backdrop colour (`centres`). Shade (smooth, darker, of a backdrop colour's hue: a cast
    shadow) is not lost."""
    hit = de > max(20.0, 2.5 * spread)
    far = np.flatnonzero(hit)
    fp = np.take(px, far, axis=0)
    shade = np.zeros(len(far), bool)
    for c in centres:  # darker than a backdrop colour, of its hue
        chroma2 = (fp[:, 1] - c[1]) ** 2 + (fp[:, 2] - c[2]) ** 2
        shade |= (chroma2 < SHADOW_CHROMA ** 2) & (fp[:, 0] < c[0] - 3) & (fp[:, 0] > 0.55 * c[0])
    shaded = far[shade]
    hit[shaded] = ~_smooth(lab[..., 0], near[shaded])
    ys, xs = np.divmod(near[hit], mask.shape[1])
    return _attached(ys, xs, ~mask & (dist_out <= 2))


def _taken(mask: np.ndarray, lab_px: np.ndarray, dist_in: np.ndarray, inner: np.ndarray, centres: np.ndarray,
           spread: float) -> int:
    """Backdrop-coloured pixels just inside the product's outline (`inner`: flat indices), attached
    to it: backdrop the cut took (pixels)."""
    hit = inner[_nearest(np.take(lab_px, inner, axis=0), centres) < max(6.0, 1.5 * spread)]
    ys, xs = np.divmod(hit, mask.shape[1])
    return _attached(ys, xs, mask & (dist_in <= 1))


def _smooth(L: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whether the local std of L* (5×5) is under 4 at the flat indices `at`: blurred on their box
    grown by the 2 px a 5×5 blur reads. The values there are the whole picture's, wherever the box
    starts: OpenCV's box filter sums floats in double, and L* from its conversion comes in steps of
    2^-12 (all 2^24 colours, OpenCV 5.1), so the sums of 25 values and of 25 squares are exact (its
    IPP path gives the same values; scripts/bench/qa_signals_equal.py compares the signals)."""
    if at.size == 0:
        return np.zeros(0, bool)
    ys, xs = np.divmod(at, L.shape[1])
    y0, x0 = max(0, int(ys.min()) - 2), max(0, int(xs.min()) - 2)
    sub = L[y0: int(ys.max()) + 3, x0: int(xs.max()) + 3]
    mean = cv2.blur(sub, (5, 5))
    smooth = cv2.blur(sub * sub, (5, 5)) - mean * mean < 16.0
    return smooth[ys - y0, xs - x0]


def _attached(ys: np.ndarray, xs: np.ndarray, seed: np.ndarray) -> int:
    """Pixels of the connected parts of the candidate pixels (`ys`, `xs`) that overlap `seed`,
    labelled on the candidates' own box (it holds each of their parts whole)."""
    if ys.size == 0:
        return 0
    y0, x0 = int(ys.min()), int(xs.min())
    cand = np.zeros((int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1), bool)
    cand[ys - y0, xs - x0] = True
    touch = cand & seed[y0: y0 + cand.shape[0], x0: x0 + cand.shape[1]]
    if not touch.any():
        return 0
    _, labels, areas = parts(cand, 8)
    return int(areas[np.unique(labels[touch])].sum())


def _holes(mask: np.ndarray, lab: np.ndarray, backdrop: np.ndarray, area: int) -> tuple[float, float]:
    """(all holes, holes coloured like the product rather than the backdrop) as shares of `area`."""
    h, w = mask.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = mask
    ff = (pad == 0).astype(np.uint8)
    cv2.floodFill(ff, None, (0, 0), 2)
    holes = ff[1:-1, 1:-1] == 1
    if not holes.any():
        return 0.0, 0.0
    n, labels, areas = parts(holes, 4)
    keep = [i for i in range(1, n) if areas[i] >= max(MIN_PART * area, 3)]
    total = sum(int(areas[i]) for i in keep)
    product = 0
    for i in sorted(keep, key=lambda i: -areas[i])[:20]:
        (x, y, bw, bh), a = _box(labels, i), areas[i]
        y0, y1, x0, x1 = max(0, y - 3), min(h, y + bh + 3), max(0, x - 3), min(w, x + bw + 3)
        hole = labels[y0:y1, x0:x1] == i
        around = _ring(hole, 2) & mask[y0:y1, x0:x1]
        win = lab[y0:y1, x0:x1]
        inside = np.median(win[hole], axis=0)
        d_bg = float(np.linalg.norm(inside - backdrop))
        d_fg = float(np.linalg.norm(inside - np.median(win[around], axis=0))) if around.any() else 1e9
        if d_bg > HOLE_DE and d_fg < d_bg:
            product += int(a)
    return total / area, product / area


def _shadow(mask: np.ndarray, lab: np.ndarray, backdrop: np.ndarray, area: int, outline: np.ndarray) -> float:
    """Share of the product that looks like a cast shadow: in the lower half of the mask, darker than
    the backdrop but of its hue, touching the outline (`outline`) where the photo has no edge to the
    backdrop."""
    rows = np.flatnonzero(mask.any(1))
    low = (rows[0] + rows[-1]) // 2 + 1  # the lower half's first row: only it is read, and 2 rows above
    L, a, b = lab[low:, :, 0], lab[low:, :, 1], lab[low:, :, 2]
    lb, ab, bb = (float(v) for v in backdrop)
    cand = mask[low:] & (L < lb - 5) & (L > 0.3 * lb) & (np.hypot(a - ab, b - bb) < SHADOW_CHROMA)
    if not cand.any():
        return 0.0
    outline = outline[low:]
    # the brightest backdrop pixel within 2 px outside: a shadow fades into it, a product's edge jumps
    top = max(0, low - 2)
    outside_l = np.where(mask[top:], 0.0, lab[top:, :, 0]).astype(np.float32)
    near_out = cv2.dilate(outside_l, np.ones((5, 5), np.uint8))[low - top:]
    n, labels, areas = parts(cand, 8)
    shadow = 0
    for i in range(1, n):
        if areas[i] < max(0.005 * area, 4):
            continue
        x, y, bw, bh = _box(labels, i)
        sl = (slice(y, y + bh), slice(x, x + bw))
        comp = labels[sl] == i
        edge = comp & outline[sl]
        if not edge.any():
            continue
        jump = near_out[sl][edge] - L[sl][edge]
        # only where there is a backdrop pixel next to it (not the frame's edge)
        jump = jump[near_out[sl][edge] > 0]
        if jump.size and float(np.median(jump)) < SHADOW_JUMP:
            shadow += int(areas[i])
    return shadow / area


def halo_signal(image: np.ndarray, alpha: np.ndarray, plate: np.ndarray, backdrop_lab: Any) -> float:
    """Share of the cut-out's edge ring (2 px inside its outline, on the working copy) coloured like
    the old backdrop where the new background is far from it and the product's inside is too; 0
    when the new background is like the old one (no halo can show). Only the ring's pixels are
    read from the full-size pictures."""
    h, w = alpha.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    # nearest-neighbour: the ring is a statistic, and this costs a tenth of an area resize
    a = alpha if s >= 1.0 else cv2.resize(alpha, (max(1, round(w * s)), max(1, round(h * s))),
                                          interpolation=cv2.INTER_NEAREST)
    mask = a > 0.5
    edge = mask & ~_erode(mask, 2)
    deep = _erode(mask, 2) & ~_erode(mask, 5)
    if not edge.any():
        return 0.0

    def at(img: np.ndarray, sel: np.ndarray) -> np.ndarray:  # Lab of the full-size pixels under `sel`
        ys, xs = np.nonzero(sel)
        ys = np.minimum(((ys + 0.5) / s).astype(int), h - 1)
        xs = np.minimum(((xs + 0.5) / s).astype(int), w - 1)
        return to_lab(img[ys, xs][None])[0]

    old = np.asarray(backdrop_lab, np.float32)
    e_img, e_plate = at(image, edge), at(plate, edge)
    if float(np.linalg.norm(np.median(e_plate, axis=0) - old)) < HALO_NEW_DE:
        return 0.0
    inner = np.median(at(image, deep), axis=0) if deep.any() else np.median(e_img, axis=0)
    if float(np.linalg.norm(inner - old)) < HALO_OLD_DE:  # a product of the backdrop's own colour
        return 0.0
    d_old = np.linalg.norm(e_img - old, axis=1)
    d_new = np.linalg.norm(e_img - e_plate, axis=1)
    return round(float(np.mean((d_old < HALO_OLD_DE) & (d_new > HALO_NEW_DE))), 4)


def _params(p: Any) -> Mapping[str, Any]:
    """A step's recorded parameters (a `choice:` step's chosen ones)."""
    if not isinstance(p, Mapping):
        return {}
    if "choice" in p and isinstance(p.get("params"), Mapping):
        return p["params"]
    return p


def _logo_skipped(applied: Mapping[str, Any]) -> str | None:
    return _params(applied.get("logo")).get("skipped")


LIT_SCENES = ("image", "studio", "gradient")  # background kinds whose scene may know its key light


def scene_checks(applied: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The scale and light checks of a composed scene, from what the steps recorded:

    * ``scale``: the background placed the product at its class's physical size (`size.mode` true)
      or fell back to the preset's `scale` (the reason recorded as `size.why`);
    * ``light``: a drop or realistic shadow on a background that may know its light took the
      scene's light (`light` recorded) rather than the preset's own direction."""
    out: dict[str, dict[str, Any]] = {}
    bg, sh = _params(applied.get("background")), _params(applied.get("shadow"))
    size = bg.get("size")
    if isinstance(size, Mapping):
        if size.get("mode") in ("true", "physical"):
            out["scale"] = {"value": f"{size.get('class')} at {size.get('cm')} cm", "ok": True}
        else:
            out["scale"] = {"value": str(size.get("why", "not at its true size")), "ok": False}
    if bg.get("kind") in LIT_SCENES and sh.get("kind") in ("drop", "realistic"):
        out["light"] = ({"value": str(sh["light"]), "ok": True} if sh.get("light")
                        else {"value": "the preset's light, not the scene's", "ok": False})
    return out
