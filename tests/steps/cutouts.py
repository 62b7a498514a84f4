"""Procedural cut-outs with an exact soft alpha, backdrops, and the edge metrics of issue 12.

Shared by the edge tests and `scripts/bench/edges.py`. Alpha is the exact area coverage of shapes
drawn at 8× and area-averaged, so soft, thin and semi-transparent edges are known to the grey level.
"""
from __future__ import annotations

import cv2
import numpy as np

SS = 8  # supersampling of the drawing


def _down(big: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


def foliage_cutout(size: int = 192, rng: np.random.Generator | None = None, light: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(F uint8 H×W×3 straight colours, alpha float32) of a plant-like product: an opaque body,
    leaves with anti-aliased edges, hair-thin stems and fringes (sub-pixel lines), and a
    semi-transparent glass-like disc (alpha 0.45). `light` makes a light product (for dark
    backgrounds); otherwise a dark one."""
    rng = rng or np.random.default_rng(0)
    s, n = SS, size * SS
    cov = np.zeros((n, n), np.uint8)      # opaque coverage at 8×
    glass = np.zeros((n, n), np.uint8)
    c = n // 2
    cv2.ellipse(cov, (c, int(n * 0.68)), (int(n * 0.2), int(n * 0.14)), 0, 0, 360, 255, -1)  # body
    for _ in range(7):  # leaves
        ang = rng.uniform(0, 180)
        cx, cy = (c + rng.uniform(-0.22, 0.22) * n, n * rng.uniform(0.25, 0.55))
        cv2.ellipse(cov, (int(cx), int(cy)), (int(n * rng.uniform(0.06, 0.13)), int(n * rng.uniform(0.02, 0.04))),
                    ang, 0, 360, 255, -1)
    for _ in range(40):  # hair-like fringe: lines 0.3–1.5 px wide at 1×
        x0, y0 = c + rng.uniform(-0.25, 0.25) * n, n * rng.uniform(0.2, 0.6)
        ang = rng.uniform(0, 2 * np.pi)
        ln = n * rng.uniform(0.05, 0.15)
        x1, y1 = x0 + ln * np.cos(ang), y0 + ln * np.sin(ang)
        cv2.line(cov, (int(x0), int(y0)), (int(x1), int(y1)), 255, max(1, int(rng.uniform(0.3, 1.5) * s)))
    cv2.circle(glass, (int(n * 0.72), int(n * 0.78)), int(n * 0.1), 255, -1)
    a_op = _down(cov, size).astype(np.float32) / 255.0
    a_gl = _down(glass, size).astype(np.float32) / 255.0 * 0.45
    alpha = np.clip(a_op + a_gl * (1.0 - a_op), 0.0, 1.0)
    yy, xx = np.mgrid[:size, :size] / size
    if light:
        body = np.dstack([225 + 20 * xx, 230 - 10 * yy, 200 + 30 * yy])
        glass_rgb = np.array([200, 235, 255], np.float32)
    else:
        body = np.dstack([30 + 40 * xx, 90 + 50 * yy, 30 + 20 * xx])
        glass_rgb = np.array([40, 70, 110], np.float32)
    g = np.where(a_op > 0, 0.0, 1.0)[..., None] * (a_gl > 0)[..., None]
    rgb = body * (1 - g) + glass_rgb * g
    rgb += rng.normal(0, 3, rgb.shape)  # product texture
    return np.clip(rgb, 0, 255).astype(np.uint8), alpha.astype(np.float32)


def backdrop(kind: str, h: int, w: int, rng: np.random.Generator, tone: int = 128) -> np.ndarray:
    """An old background: `plain` (one colour of lightness `tone`), `texture` (fine stripes and
    noise) or `photo` (smooth blobs + edges + grain)."""
    if kind == "plain":
        return np.full((h, w, 3), tone, np.uint8)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    if kind == "texture":
        t = tone + 35 * np.sin(xx * 0.9 + 0.3 * yy) + rng.normal(0, 12, (h, w))
        img = np.dstack([t, t * 0.9 + 10, t * 0.8 + 20])
    else:
        low = cv2.resize(rng.uniform(tone - 90, tone + 90, (6, 6, 3)).astype(np.float32), (w, h),
                         interpolation=cv2.INTER_CUBIC)
        img = low + 40 * ((xx + 0.6 * yy) % 53 < 26)[..., None] + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def composite(f: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """The exact composite alpha·F + (1 − alpha)·B, rounded to uint8."""
    a = alpha[..., None]
    return np.clip(np.rint(a * f.astype(np.float32) + (1 - a) * bg.astype(np.float32)), 0, 255).astype(np.uint8)


def edge_distance(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance outside, distance inside) to the true edge, the 0.5 level of `alpha`, in px."""
    inside = (alpha > 0.5).astype(np.uint8)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return d_out, d_in


def edge_errors(out: np.ndarray, exact: np.ndarray, alpha: np.ndarray, band: float = 8.0) -> dict:
    """Mean absolute error (grey levels, all channels) in the ±`band` px edge band and in the
    interior; the signed mean luminance difference in the 1–6 px ring outside the true edge (halo);
    and the blockiness of the difference image."""
    d_out, d_in = edge_distance(alpha)
    err = np.abs(out.astype(np.float32) - exact.astype(np.float32))
    in_band = ((d_out > 0) & (d_out <= band)) | ((d_in > 0) & (d_in <= band))
    interior = d_in > band
    ring = (d_out >= 1) & (d_out <= 6)
    lum = np.array([0.299, 0.587, 0.114], np.float32)
    dl = (out.astype(np.float32) - exact.astype(np.float32)) @ lum
    return {"band_mae": float(err[in_band].mean()), "interior_mae": float(err[interior].mean()),
            "halo": float(dl[ring].mean()), "halo_abs": float(np.abs(dl[ring]).mean()),
            "blockiness": blockiness(dl)}


def blockiness(diff: np.ndarray, step: float = 6.0) -> int:
    """Longest straight axis-aligned run (px) of a same-signed step > `step` grey levels in a
    difference image. Window-shaped artefacts (box-filter squares, rectangular smears) have long
    straight borders; errors that follow a curved product edge do not."""
    d = diff.astype(np.float32)
    best = 0
    for g in (np.diff(d, axis=1), np.diff(d, axis=0).T):  # steps across columns, then across rows
        for sign in (1.0, -1.0):
            on = (sign * g > step).astype(np.uint8)  # runs go along axis 0 (down a column)
            if not on.any():
                continue
            # run lengths down each column via cumulative sums reset at zeros
            run = np.zeros(on.shape[1], np.int32)
            longest = 0
            for row in on:
                run = (run + 1) * row
                longest = max(longest, int(run.max()))
            best = max(best, longest)
    return best


def soft_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Fuzzy IoU of two mattes: Σ min / Σ max (the usual IoU for binary masks)."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    return float(np.minimum(a, b).sum() / max(np.maximum(a, b).sum(), 1e-9))
