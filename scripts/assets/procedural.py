"""Seamless procedural textures: wood, parquet, marble, granite, concrete, linen, paper, leather,
terrazzo, bokeh, brushed metal, tiles and plaster.

Every texture is built from functions that are periodic on the tile (FFT-filtered noise, sines with
an integer number of periods, shapes drawn with wrap-around), so it tiles without seams. The
generator is passed in explicitly; the same seed gives the same texture. Used offline by
scripts/assets/make_textures.py, not per image (ops/ never draws random numbers).
"""
from __future__ import annotations

import cv2
import numpy as np

Rng = np.random.Generator


def spectral_noise(rng: Rng, size: int, beta: float = 2.0, stretch: tuple[float, float] = (1.0, 1.0),
                   low: float = 1.0) -> np.ndarray:
    """Periodic fractal noise in [0, 1]: white noise shaped to a 1/f^beta spectrum.

    stretch=(sx, sy) > 1 elongates features along that axis (fibres, brushing). `low` is the lowest
    kept frequency in cycles per tile."""
    fy = np.fft.fftfreq(size)[:, None] * size * stretch[1]
    fx = np.fft.rfftfreq(size)[None, :] * size * stretch[0]
    f = np.hypot(fx, fy)
    amp = np.where(f >= low * min(stretch), 1.0 / np.maximum(f, 1e-9) ** (beta / 2.0), 0.0)
    spec = (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape)) * amp
    n = np.fft.irfft2(spec, s=(size, size))
    return normalize(n)


def normalize(x: np.ndarray, lo: float = 0.5, hi: float = 99.5) -> np.ndarray:
    a, b = np.percentile(x, [lo, hi])
    return np.clip((x - a) / max(b - a, 1e-9), 0.0, 1.0)


def ramp(t: np.ndarray, colors: list[tuple[int, int, int]], stops: list[float] | None = None) -> np.ndarray:
    """Map t in [0, 1] through a piecewise-linear colour ramp → float32 RGB 0..255."""
    colors_a = np.asarray(colors, np.float32)
    stops_a = np.linspace(0, 1, len(colors)) if stops is None else np.asarray(stops, np.float32)
    return np.stack([np.interp(t, stops_a, colors_a[:, c]) for c in range(3)], axis=-1).astype(np.float32)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def wrap_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur on the torus (pad by wrapping, blur, crop) so the tile stays seamless."""
    p = int(np.ceil(3 * sigma)) + 1
    pad = ((p, p), (p, p)) + ((0, 0),) * (img.ndim - 2)
    out = cv2.GaussianBlur(np.pad(img, pad, mode="wrap"), (0, 0), sigma)
    return out[p:-p, p:-p]


def _coords(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.indices((size, size), dtype=np.float32)
    return xx / size, yy / size


# -------------------------------------------------------------------------------------------------


def wood(rng: Rng, size: int, colors, planks: int = 4, rings: int = 14) -> np.ndarray:
    """Wood planks running vertically: growth rings seen edge-on as long streaks along the grain,
    distorted by smooth noise, fine fibres, a different cut per plank and dark joints."""
    x, _ = _coords(size)
    x = (x + 0.5 / planks) % 1.0  # joints inside the tile, not on its border
    out = np.zeros((size, size, 3), np.float32)
    plank = np.minimum((x * planks).astype(int), planks - 1)
    fib = spectral_noise(rng, size, 1.4, stretch=(1.0, 40.0))
    for i in range(planks):
        turb = spectral_noise(rng, size, 3.6, stretch=(1.0, 6.0)) - 0.5
        r = rings + int(rng.integers(-4, 5))
        drift = spectral_noise(rng, size, 3.0, stretch=(1.0, 50.0)) - 0.5  # uneven ring widths
        phase = x * r * planks / 2 + rng.uniform(0, 1) + 0.5 * turb + 1.5 * drift
        t = 0.5 + 0.5 * np.sin(2 * np.pi * phase)
        t = t ** 2.5 * 0.55 + 0.45 * fib
        col = ramp(t, colors) * rng.uniform(0.9, 1.08)
        out = np.where((plank == i)[..., None], col, out)
    seam = np.abs(((x * planks) % 1.0) - 0.5) * 2  # 1 at the joints
    joint = np.clip((seam - 0.99) / 0.01, 0, 1)
    out *= (1 - 0.5 * joint)[..., None]
    return to_uint8(out)


def marble(rng: Rng, size: int, base, vein, veins: int = 3, sharp: float = 6.0) -> np.ndarray:
    """Veined stone: |sin| of a diagonal ramp displaced by smooth turbulence, plus thin secondary veins."""
    x, y = _coords(size)
    turb = spectral_noise(rng, size, 4.0) - 0.5
    turb2 = spectral_noise(rng, size, 3.0) - 0.5
    v = np.sin(np.pi * (veins * x + 2 * y + 1.6 * turb + 0.25 * turb2))
    t = (1 - np.abs(v)) ** sharp
    v2 = np.sin(np.pi * (2 * veins * x - 3 * y + 2.0 * (spectral_noise(rng, size, 3.6) - 0.5)))
    t2 = (1 - np.abs(v2)) ** (sharp * 3)
    cloud = spectral_noise(rng, size, 3.2)
    fine = spectral_noise(rng, size, 1.0)
    base_c = np.asarray(base, np.float32) * (0.93 + 0.09 * cloud[..., None] + 0.02 * fine[..., None])
    mix = np.clip(0.8 * t * (0.6 + 0.4 * cloud) + 0.45 * t2, 0, 1)[..., None]
    out = base_c * (1 - mix) + np.asarray(vein, np.float32) * mix
    return to_uint8(wrap_blur(out, 0.5))


def concrete(rng: Rng, size: int, color, contrast: float = 0.22, pores: int = 900) -> np.ndarray:
    big = spectral_noise(rng, size, 3.0)
    mid = spectral_noise(rng, size, 2.0)
    grain = spectral_noise(rng, size, 0.6)
    t = 0.5 * big + 0.3 * mid + 0.2 * grain
    out = np.asarray(color, np.float32) * (1 + contrast * (t[..., None] - 0.5) * 2)
    holes = np.zeros((size, size), np.float32)
    for _ in range(pores):
        cx, cy, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0.6, 2.2)
        for ox in (-size, 0, size):
            for oy in (-size, 0, size):
                cv2.circle(holes, (int(cx + ox), int(cy + oy)), round(r), 1.0, -1, cv2.LINE_AA)
    holes = wrap_blur(holes, 0.7)
    out *= (1 - 0.35 * holes)[..., None]
    return to_uint8(out)


def granite(rng: Rng, size: int, colors, weights) -> np.ndarray:
    """Speckled stone: crystals of a few colours at two scales over a mottled base."""
    out = ramp(spectral_noise(rng, size, 2.6), [colors[0], colors[1]])
    for scale in (0.9, 0.35):
        label = spectral_noise(rng, size, scale)
        edges = np.quantile(label, np.cumsum(weights)[:-1] / np.sum(weights))
        idx = np.digitize(label, edges)
        speck = np.asarray(colors, np.float32)[idx]
        keep = (spectral_noise(rng, size, 1.2) > 0.55)[..., None]
        out = np.where(keep, 0.6 * speck + 0.4 * out, out)
    return to_uint8(wrap_blur(out, 0.6))


def linen(rng: Rng, size: int, color, threads: int = 96, contrast: float = 0.28) -> np.ndarray:
    """Plain weave: warp and weft threads alternating over/under, with uneven (slub) threads."""
    x, y = _coords(size)
    tx, ty = x * threads, y * threads
    wx = 0.5 + 0.5 * np.cos(2 * np.pi * tx)  # brightness across a vertical thread
    wy = 0.5 + 0.5 * np.cos(2 * np.pi * ty)
    over = ((np.floor(tx) + np.floor(ty)) % 2).astype(np.float32)
    slub_x = spectral_noise(rng, size, 2.0, stretch=(0.05, 30.0))
    slub_y = spectral_noise(rng, size, 2.0, stretch=(30.0, 0.05))
    h = over * wx * (0.8 + 0.4 * slub_x) + (1 - over) * wy * (0.8 + 0.4 * slub_y)
    fuzz = spectral_noise(rng, size, 0.8)
    t = 0.75 * h + 0.25 * fuzz
    out = np.asarray(color, np.float32) * (1 + contrast * (t[..., None] - 0.5) * 2)
    return to_uint8(out)


def paper(rng: Rng, size: int, color) -> np.ndarray:
    mott = spectral_noise(rng, size, 3.0)
    fib = np.maximum(spectral_noise(rng, size, 1.2, stretch=(6.0, 1.0)),
                     spectral_noise(rng, size, 1.2, stretch=(1.0, 6.0)))
    grain = spectral_noise(rng, size, 0.3)
    t = 0.45 * mott + 0.3 * fib + 0.25 * grain
    out = np.asarray(color, np.float32) * (1 + 0.08 * (t[..., None] - 0.5) * 2)
    return to_uint8(out)


def _cell_borders(rng: Rng, size: int, cells: int) -> np.ndarray:
    """Distance (pixels) to the nearest border of a periodic Voronoi tiling with `cells` cells."""
    pts = rng.integers(0, size, (cells, 2))
    seeds = np.ones((size, size), np.uint8)
    seeds[pts[:, 1], pts[:, 0]] = 0
    big = np.tile(seeds, (3, 3))
    _, labels = cv2.distanceTransformWithLabels(big, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    border = np.zeros_like(big)
    border[:, 1:] |= (labels[:, 1:] != labels[:, :-1]).astype(np.uint8)
    border[1:, :] |= (labels[1:, :] != labels[:-1, :]).astype(np.uint8)
    dist = cv2.distanceTransform(1 - border, cv2.DIST_L2, 5)
    return dist[size:2 * size, size:2 * size]


def leather(rng: Rng, size: int, color, cells: int = 2600) -> np.ndarray:
    """Pebbled grain: small rounded cells separated by soft creases, lit from the left."""
    d = _cell_borders(rng, size, cells)
    pebble = 1.0 - np.exp(-d / 2.2)
    bump = spectral_noise(rng, size, 2.4)
    grain = spectral_noise(rng, size, 0.8)
    height = (0.75 * pebble + 0.15 * bump + 0.1 * grain).astype(np.float32)
    height = wrap_blur(height, 0.8)
    gx = np.roll(height, -1, axis=1) - np.roll(height, 1, axis=1)
    gy = np.roll(height, -1, axis=0) - np.roll(height, 1, axis=0)
    light = 1.0 + 1.3 * (gx + 0.5 * gy)
    tone = 0.82 + 0.22 * height + 0.08 * (spectral_noise(rng, size, 3.4) - 0.5)
    out = np.asarray(color, np.float32) * (tone * light)[..., None]
    return to_uint8(out)


def terrazzo(rng: Rng, size: int, base, chip_colors, chips: int = 420) -> np.ndarray:
    out = concrete(rng, size, base, contrast=0.06, pores=120).astype(np.float32)
    canvas = out.copy()
    for _ in range(chips):
        col = chip_colors[int(rng.integers(len(chip_colors)))]
        cx, cy = rng.uniform(0, size), rng.uniform(0, size)
        r = rng.uniform(2.0, 11.0) if rng.uniform() < 0.85 else rng.uniform(11, 20)
        n = int(rng.integers(5, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.6, 1.0, n)
        poly = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], -1)
        shade_ = rng.uniform(0.85, 1.1)
        for ox in (-size, 0, size):
            for oy in (-size, 0, size):
                pts = np.round((poly + [ox, oy]) * 4).astype(np.int32)
                cv2.fillPoly(canvas, [pts], tuple(float(c) * shade_ for c in col), cv2.LINE_AA, shift=2)
    return to_uint8(canvas)


def bokeh(rng: Rng, size: int, bg_colors, light_colors, discs: int = 90) -> np.ndarray:
    base = ramp(spectral_noise(rng, size, 3.4), bg_colors)
    light = np.zeros((size, size, 3), np.float32)
    for _ in range(discs):
        col = np.asarray(light_colors[int(rng.integers(len(light_colors)))], np.float32)
        cx, cy = rng.uniform(0, size), rng.uniform(0, size)
        r = rng.uniform(size * 0.02, size * 0.09)
        layer = np.zeros((size, size), np.float32)
        for ox in (-size, 0, size):
            for oy in (-size, 0, size):
                cv2.circle(layer, (int((cx + ox) * 4), int((cy + oy) * 4)), int(r * 4), 1.0, -1,
                           cv2.LINE_AA, shift=2)
        light += layer[..., None] * col * rng.uniform(0.15, 0.5)
    light = wrap_blur(light, 2.5)
    return to_uint8(base + light)


def brushed_metal(rng: Rng, size: int, color) -> np.ndarray:
    streak = spectral_noise(rng, size, 1.0, stretch=(60.0, 1.0))
    broad = spectral_noise(rng, size, 3.0, stretch=(4.0, 1.0))
    t = 0.7 * streak + 0.3 * broad
    out = np.asarray(color, np.float32) * (1 + 0.22 * (t[..., None] - 0.5) * 2)
    return to_uint8(out)


def tiles(rng: Rng, size: int, color, grout, n: int = 4, jitter: float = 0.05) -> np.ndarray:
    """Square ceramic tiles with grout lines; each tile a slightly different shade."""
    x, y = _coords(size)
    ix, iy = (x * n).astype(int), (y * n).astype(int)
    tone = rng.uniform(1 - jitter, 1 + jitter, (n, n))[iy, ix]
    glaze = spectral_noise(rng, size, 2.6)
    out = np.asarray(color, np.float32) * (tone * (0.96 + 0.06 * glaze))[..., None]
    fx, fy = (x * n) % 1.0, (y * n) % 1.0
    d = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fy, 1 - fy)) * size / n
    line = np.clip(1.0 - (d - 2.0) / 1.5, 0, 1)
    bevel = np.clip(1.0 - (d - 3.0) / 6.0, 0, 1) * 0.12
    out = out * (1 - bevel)[..., None]
    out = out * (1 - line[..., None]) + np.asarray(grout, np.float32) * line[..., None]
    return to_uint8(out)


def diagonal_parquet(rng: Rng, size: int, colors, n: int = 8) -> np.ndarray:
    """Parquet of 2:1 planks laid diagonally in a staggered bond, a wood-like tone per plank."""
    yy, xx = np.indices((size, size), dtype=np.float32)
    unit = size / n
    u, v = (xx + yy) / unit, (yy - xx) / unit  # rotated by 45° in units of plank width
    fib = spectral_noise(rng, size, 1.5, stretch=(8.0, 8.0))
    k = np.floor(u).astype(int)
    m = np.floor((v - k) / 2.0).astype(int)
    horiz = ((k + m) % 2 == 0)
    pid = (k % n) * n + (m % n)  # invariant under shifts by one tile in x and in y
    tone = rng.uniform(0, 1, n * n).astype(np.float32)[pid]
    base = ramp(tone * 0.7 + 0.3 * fib, colors)
    fu, fv = u % 1.0, ((v - k) / 2.0) % 1.0
    edge = np.minimum(np.minimum(fu, 1 - fu), np.minimum(fv, 1 - fv) * 2) * unit
    line = np.clip(1.0 - (edge - 0.8), 0, 1)
    out = base * (1 - 0.4 * line)[..., None] * np.where(horiz, 1.0, 0.94)[..., None]
    return to_uint8(out)


def plaster(rng: Rng, size: int, color) -> np.ndarray:
    big = spectral_noise(rng, size, 2.8)
    strokes = spectral_noise(rng, size, 2.0, stretch=(3.0, 1.0))
    t = 0.6 * big + 0.4 * strokes
    light = wrap_blur(t.astype(np.float32), 1.5)
    gx = np.roll(light, -2, axis=1) - light
    out = np.asarray(color, np.float32) * (1 + 0.1 * (t[..., None] - 0.5)) * (1 + 6.0 * gx)[..., None]
    return to_uint8(out)


def make_tileable(img: np.ndarray, blend: float = 0.25) -> np.ndarray:
    """Make a photo texture seamless: cross-fade it with itself shifted by half a tile.

    Done one axis at a time: near the left/right borders the copy shifted by w/2 (whose own seam
    sits in the middle, where the original is kept) takes over, so the result wraps horizontally;
    then the same vertically. The cross-fade band is `blend` of the tile."""
    out = img.astype(np.float32)
    for axis in (1, 0):
        n = out.shape[axis]
        shifted = np.roll(out, n // 2, axis=axis)
        i = np.arange(n)
        wgt = np.clip(np.minimum(i, n - 1 - i) / (blend * n), 0, 1)
        wgt = wgt * wgt * (3 - 2 * wgt)
        shape = [1] * out.ndim
        shape[axis] = n
        wgt = wgt.reshape(shape)
        out = out * wgt + shifted * (1 - wgt)
    return to_uint8(out)


def seam_score(img: np.ndarray, block: int = 8) -> float:
    """Mean |difference| across the wrap-around seams relative to that across interior lines.

    Interior lines are taken every `block` pixels: JPEG's 8×8 blocks put small discontinuities
    exactly there (and at the tile border), so this compares like with like. ~1 for a seamless
    tile; a photo cut at random scores well above."""
    f = img.astype(np.float32)
    seam = (np.abs(f[0] - f[-1]).mean() + np.abs(f[:, 0] - f[:, -1]).mean()) / 2
    rows = np.arange(block, f.shape[0], block)
    cols = np.arange(block, f.shape[1], block)
    inner = (np.abs(f[rows] - f[rows - 1]).mean() + np.abs(f[:, cols] - f[:, cols - 1]).mean()) / 2
    return float(seam / max(inner, 1e-6))
