"""Background plates: gradients, a procedural studio scene, tiled and tinted textures.

Smooth fields are computed at an eighth of the canvas size and upsampled (bilinear is exact for a
linear ramp and invisible for the others). No randomness: every parameter is an argument.
"""
from __future__ import annotations

import cv2
import numpy as np

from .color import lab_to_srgb, srgb_to_lab


def _upsample(field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float 0..255 small field → uint8 canvas (bilinear on uint8 is ~4x cheaper than on float)."""
    small = np.clip(np.rint(field), 0, 255).astype(np.uint8)
    return cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)


def _small(size: tuple[int, int], factor: int = 8) -> tuple[int, int]:
    w, h = size
    return max(2, -(-w // factor)), max(2, -(-h // factor))


def color_ramp(colors_rgb: np.ndarray, n: int = 256) -> np.ndarray:
    """n×3 float32 sRGB (0..255) ramp through `colors_rgb` (K×3), interpolated in CIELAB."""
    lab = srgb_to_lab(np.asarray(colors_rgb, dtype=np.uint8))
    pos = np.linspace(0, 1, len(lab))
    t = np.linspace(0, 1, n)
    ramp = np.stack([np.interp(t, pos, lab[:, c]) for c in range(3)], axis=-1)
    return (lab_to_srgb(ramp, as_uint8=False) * 255.0).astype(np.float32)


def gradient_plate(size: tuple[int, int], colors_rgb, shape: str, angle_deg: float = 0.0,
                   center: tuple[float, float] = (0.5, 0.5), radius: float = 0.75) -> np.ndarray:
    """Linear (along `angle_deg`, 0 = left→right, 90 = top→bottom) or radial (from `center` in
    canvas fractions out to `radius` × the canvas diagonal / 2) gradient, H×W×3 uint8."""
    w, h = size
    sw, sh = _small(size)
    # pixel centres of the small grid in full-canvas coordinates
    xs = (np.arange(sw, dtype=np.float32) + 0.5) * (w / sw)
    ys = (np.arange(sh, dtype=np.float32) + 0.5) * (h / sh)
    xx, yy = np.meshgrid(xs, ys)
    if shape == "linear":
        a = np.radians(angle_deg)
        dx, dy = np.cos(a), np.sin(a)
        proj = (xx - w / 2) * dx + (yy - h / 2) * dy
        half = 0.5 * (abs(w * dx) + abs(h * dy))
        t = proj / (2 * half) + 0.5
    elif shape == "radial":
        r = np.hypot(xx - center[0] * w, yy - center[1] * h)
        t = r / (radius * 0.5 * np.hypot(w, h))
    else:
        raise ValueError(f"unknown gradient shape {shape!r}")
    ramp = color_ramp(np.asarray(colors_rgb))
    idx = np.clip(t * 255.0, 0, 255)
    lo = idx.astype(np.int32)
    frac = (idx - lo)[..., None]
    hi = np.minimum(lo + 1, 255)
    small = ramp[lo] * (1 - frac) + ramp[hi] * frac
    return _upsample(small, size)


def studio_plate(size: tuple[int, int], wall_rgb, floor_rgb, horizon: float, softness: float,
                 light_xy: tuple[float, float], light_radius: float, light_strength: float,
                 vignette: float, sheen: float) -> np.ndarray:
    """A wall meeting a floor at row `horizon`×H, lit by a soft spot, with vignetting.

    softness: height of the cove (the curved wall-to-floor joint) as a fraction of H.
    light_xy: spot centre in canvas fractions; light_radius in fractions of the canvas diagonal;
    light_strength: multiplicative brightening at its centre (0.3 = +30 %). vignette: darkening at
    the corners (0..1). sheen: a glossy highlight band on the floor just below the horizon (0..1).
    """
    w, h = size
    sw, sh = _small(size)
    xs = (np.arange(sw, dtype=np.float32) + 0.5) / sw
    ys = (np.arange(sh, dtype=np.float32) + 0.5) / sh
    xx, yy = np.meshgrid(xs, ys)
    aspect = h / w
    wall = np.asarray(wall_rgb, np.float32) / 255.0
    floor = np.asarray(floor_rgb, np.float32) / 255.0
    # smoothstep cove between wall and floor
    s = np.clip((yy - horizon) / max(softness, 1e-3) + 0.5, 0, 1)
    s = s * s * (3 - 2 * s)
    base = wall[None, None] ** 2.2 * (1 - s[..., None]) + floor[None, None] ** 2.2 * s[..., None]
    # floor darkens slightly towards the camera, wall towards the top: a light from above-front
    shade = 1.0 - 0.18 * np.clip(yy - horizon, 0, 1) / max(1 - horizon, 1e-3) * s \
        - 0.10 * (1 - s) * np.clip((horizon - yy) / max(horizon, 1e-3), 0, 1)
    d = np.hypot(xx - light_xy[0], (yy - light_xy[1]) * aspect) / max(light_radius, 1e-3)
    light = 1.0 + light_strength * np.exp(-0.5 * d * d)
    band = np.exp(-0.5 * ((yy - horizon - 0.08) / 0.06) ** 2) * s
    r = np.hypot(xx - 0.5, (yy - 0.5) * aspect) / np.hypot(0.5, 0.5 * aspect)
    vig = 1.0 - vignette * r ** 2.5
    lin = base * (shade * light * vig)[..., None] + (sheen * 0.25 * band)[..., None]
    small = (np.clip(lin, 0, 1) ** (1 / 2.2)) * 255.0
    return _upsample(small, size)


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def tint(tile: np.ndarray, rgb, strength: float, gain: float = 1.0) -> np.ndarray:
    """Move a texture's colour towards `rgb` keeping its luminance detail, then scale by `gain`:
    gain · ((1-s)·T + s·(lum(T) / mean lum) · rgb), as one 3×3 colour matrix (cv2.transform)."""
    if strength <= 0 and gain == 1.0:
        return tile
    mean_lum = max(float(cv2.mean(cv2.cvtColor(tile, cv2.COLOR_RGB2GRAY))[0]), 1.0)
    k = strength * np.asarray(rgb, np.float32) / mean_lum
    m = gain * ((1.0 - strength) * np.eye(3, dtype=np.float32) + np.outer(k, _LUMA))
    return cv2.transform(tile, m.astype(np.float32))


def tile_plate(tile: np.ndarray, size: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """Repeat `tile` over a canvas of `size` = (w, h), starting `offset` = (ox, oy) pixels into it."""
    w, h = size
    th, tw = tile.shape[:2]
    ox, oy = offset[0] % tw, offset[1] % th
    reps_y = -(-(h + oy) // th)
    reps_x = -(-(w + ox) // tw)
    return np.ascontiguousarray(np.tile(tile, (reps_y, reps_x, 1))[oy:oy + h, ox:ox + w])


def crop_scale_plate(img: np.ndarray, size: tuple[int, int], zoom: float,
                     pos: tuple[float, float]) -> np.ndarray:
    """Crop of `img` with the canvas aspect, covering 1/zoom of the largest such crop, at `pos`
    (fractions of the free travel), resized to `size`."""
    w, h = size
    ih, iw = img.shape[:2]
    aspect = w / h
    cw = min(iw, ih * aspect) / max(zoom, 1.0)
    ch = cw / aspect
    x0 = pos[0] * (iw - cw)
    y0 = pos[1] * (ih - ch)
    m = np.array([[w / cw, 0, -x0 * w / cw], [0, h / ch, -y0 * h / ch]], dtype=np.float64)
    interp = cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR
    if interp == cv2.INTER_AREA:
        xi0, yi0 = int(np.floor(x0)), int(np.floor(y0))
        xi1, yi1 = min(int(np.ceil(x0 + cw)), iw), min(int(np.ceil(y0 + ch)), ih)
        return cv2.resize(img[yi0:yi1, xi0:xi1], (w, h), interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
