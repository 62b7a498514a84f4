"""Training pictures for CutNet, composed on the fly: a photographed cut-out on a backdrop, with what
real product photos have and plain composites lack.

- backdrops: studio paper (solid or graded colour, vignette, paper grain; half of all pictures, as in
  e-commerce), a texture, or a real photograph without the product (random crop);
- a **cast shadow** painted into the backdrop (the cut-out's own silhouette sheared onto the floor,
  blurred with distance, 25–75 % dark) and a contact shadow under the base: never in the mask;
- the product re-lit: exposure, contrast, white balance, sometimes bleached toward white or glossy
  highlights added, so that white and specular products are not background;
- see-through holes punched into solid cut-outs (handles, rings: the backdrop inside is not
  product), thin parts drawn from the edge (cables, straps, legs: they are), close-ups that fill
  the frame and are cropped by it;
- sometimes a second, smaller object at the border (a prop): in the picture, not in the mask;
- metal: the product (or one side of it: a pair of pliers' head, a lure's body) turned into polished
  chrome or brushed steel, grey and banded with reflections, so that grey metal on a grey table
  is product;
- products of two parts (a lipstick and its cap, a pair of earrings): a second cut-out set beside
  the first, touching or a small gap apart, both in the mask;
- camera effects: defocus, noise, JPEG.

Every draw comes from the generator passed in; one seed gives one picture.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")
# a folder holding a file of this name is kept for measuring (the quality gate's fold,
# data/real/gate): no training run may read it, or anything inside it
HELD_OUT = "HELD_OUT"


def refuse_held_out(folder: str | Path) -> None:
    """Raise ValueError when `folder`, a folder above it or any folder inside it is marked held out."""
    folder = Path(folder)
    above = (d / HELD_OUT for d in (folder, *folder.resolve().parents))
    marked = next((m for m in above if m.is_file()), None)
    if marked is None and folder.is_dir():
        marked = next(iter(sorted(folder.rglob(HELD_OUT))), None)
    if marked is not None:
        raise ValueError(f"{folder}: {marked} marks it as held out for measuring (the quality gate's "
                         f"fold); no training run may read it")


@dataclass
class Bank:
    cutouts: list[np.ndarray]  # RGBA uint8, cropped to their alpha
    backdrops: list[np.ndarray]  # RGB uint8 photos and textures

    @staticmethod
    def load(cutout_dirs: list[Path], backdrop_dirs: list[Path], max_side: int = 640) -> Bank:
        cuts, backs = [], []
        for d in [*cutout_dirs, *backdrop_dirs]:
            refuse_held_out(d)
        for d in cutout_dirs:
            for p in sorted(Path(d).rglob("*.png")):
                im = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
                if im is None or im.ndim != 3 or im.shape[2] != 4:
                    continue
                a = im[..., 3]
                ys, xs = np.nonzero(a > 8)
                if ys.size < 400:
                    continue
                im = im[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
                cuts.append(cv2.cvtColor(_shrink(im, max_side), cv2.COLOR_BGRA2RGBA))
        for d in backdrop_dirs:
            for p in sorted(Path(d).rglob("*")):
                if p.suffix.lower() not in IMAGE_EXTS:
                    continue
                im = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if im is None or min(im.shape[:2]) < 64:
                    continue
                backs.append(cv2.cvtColor(_shrink(im, max_side), cv2.COLOR_BGR2RGB))
        if not cuts or not backs:
            raise ValueError(f"empty bank: {len(cuts)} cut-outs, {len(backs)} backdrops")
        return Bank(cuts, backs)


@dataclass
class Photos:
    """Real photographs with a soft mask each (a teacher's alpha): the pictures composites cannot be."""
    images: list[np.ndarray]  # RGB uint8
    masks: list[np.ndarray]  # float32 in [0, 1], same height and width

    @staticmethod
    def load(dirs: list[Path], max_side: int = 512) -> Photos:
        """``DIR/images/<stem>.*`` with ``DIR/masks/<stem>.png`` (8-bit alpha); photos without a mask are skipped."""
        ims, ms = [], []
        for d in dirs:
            refuse_held_out(d)
            for p in sorted((Path(d) / "images").iterdir()):
                mp = Path(d) / "masks" / f"{p.stem}.png"
                if p.suffix.lower() not in IMAGE_EXTS or not mp.exists():
                    continue
                im, m = cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.imread(str(mp), cv2.IMREAD_GRAYSCALE)
                if im is None or m is None or m.shape != im.shape[:2]:
                    continue
                ims.append(cv2.cvtColor(_shrink(im, max_side), cv2.COLOR_BGR2RGB))
                ms.append(_shrink(m, max_side).astype(np.float32) / 255)
        if not ims:
            raise ValueError(f"no photo with a mask under {[str(d) for d in dirs]}")
        return Photos(ims, ms)


def real_picture(rng: np.random.Generator, photos: Photos, size: int = 320, see_through: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One real photo, lightly varied as a camera or a catalogue would: a crop that keeps most of the
    frame, a mirror flip, sometimes (probability ``see_through``) a hole through the product that
    shows the photo's own backdrop (`_see_through`), sometimes a cast shadow of the product painted
    onto its floor (outside the mask: a shadow is never product), exposure and white balance, blur,
    noise, JPEG; resized (not letterboxed) to ``size``² as the runtime sees photos."""
    k = int(rng.integers(len(photos.images)))
    img, m = photos.images[k].astype(np.float32), photos.masks[k]
    H, W = m.shape
    if rng.random() < 0.6:
        ch, cw = int(H * rng.uniform(0.75, 1.0)), int(W * rng.uniform(0.75, 1.0))
        y0, x0 = int(rng.integers(0, H - ch + 1)), int(rng.integers(0, W - cw + 1))
        img, m = img[y0:y0 + ch, x0:x0 + cw], m[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        img, m = img[:, ::-1], m[:, ::-1]
    if see_through and rng.random() < see_through:  # a hole in the product showing the photo's own backdrop
        img, m = _see_through(rng, np.ascontiguousarray(img), np.ascontiguousarray(m))
    if rng.random() < 0.4:  # a cast shadow painted onto the photo's floor: never product
        sh = _cast_shadow(rng, np.ascontiguousarray(m)) * (1 - m)
        img = img * (1 - sh[..., None] * (1 - rng.uniform(0.0, 0.25, 3)))
    img = img * rng.uniform(0.75, 1.25) * rng.uniform(0.92, 1.08, 3) + rng.uniform(-12, 12)
    return _camera(rng, img, np.ascontiguousarray(m), size, blur=0.2, noise=(0.3, 4), jpeg=(0.3, 50))


def clean_plate(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The photo's backdrop behind the product (float RGB): the pixels well outside the mask, spread
    over the product by normalized convolution at coarser and coarser scales (smooth, as studio
    paper and a tabletop seen through a handle are), the finest scale that covers a pixel winning."""
    h, w = m.shape
    keep = cv2.erode((m < 0.05).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    out = img.astype(np.float32) * keep[..., None]
    have = keep.copy()
    side = max(h, w)
    scale = 0.5
    while have.min() < 0.5 and side * scale >= 4:
        sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
        num = cv2.resize(img.astype(np.float32) * keep[..., None], (sw, sh), interpolation=cv2.INTER_AREA)
        den = cv2.resize(keep, (sw, sh), interpolation=cv2.INTER_AREA)
        sig = 2.0
        num, den = cv2.GaussianBlur(num, (0, 0), sig), cv2.GaussianBlur(den, (0, 0), sig)
        est = cv2.resize(num / np.maximum(den, 1e-4)[..., None], (w, h), interpolation=cv2.INTER_LINEAR)
        ok = cv2.resize((den > 0.05).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        fill = (1 - have) * ok
        out = out + est * fill[..., None]
        have = have + fill
        scale /= 2
    if have.min() < 0.5:  # no backdrop at all: its mean colour
        mean = img[keep > 0].mean(0) if keep.any() else np.full(3, 240.0, np.float32)
        out = out + mean * (1 - np.clip(have, 0, 1))[..., None]
    return out / np.maximum(have, 1.0)[..., None]


def _see_through(rng: np.random.Generator, img: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A real photo with 1–2 holes through its product (a handle's loop, a bracelet's middle): the
    hole shows the photo's own backdrop (`clean_plate`, with the backdrop's grain), a faint shade
    at its rim, and leaves the mask. Holes stay inside the solid product (a hole, not a bite)."""
    core = (m > 0.8).astype(np.uint8)
    ys, xs = np.nonzero(core)
    if ys.size < 400:
        return img, m
    k = max(9, int(0.05 * max(ys.max() - ys.min(), xs.max() - xs.min())) | 1)
    solid = cv2.erode(core, np.ones((k, k), np.uint8))  # holes keep a rim of product around them
    ys, xs = np.nonzero(solid)
    if ys.size < 100:
        return img, m
    plate = clean_plate(img, m)
    bgpx = img[m < 0.05]
    grain = float(np.clip(bgpx.std(0).mean() if bgpx.size else 2.0, 1.0, 6.0))
    bh, bw = ys.max() - ys.min() + 1 + k, xs.max() - xs.min() + 1 + k
    hole = np.zeros(m.shape, np.uint8)
    for _ in range(rng.integers(1, 3)):
        i = rng.integers(ys.size)
        ax, ay = max(3, int(rng.uniform(0.05, 0.22) * bw)), max(3, int(rng.uniform(0.05, 0.22) * bh))
        cv2.ellipse(hole, (int(xs[i]), int(ys[i])), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 255, -1)
    hole = cv2.bitwise_and(hole, solid * 255)
    if hole.sum() < 255 * 30:
        return img, m
    hf = cv2.GaussianBlur(hole.astype(np.float32) / 255, (0, 0), rng.uniform(0.4, 1.0))
    # the rim of the hole: the product's own shade falls a little way into it
    rim = hf * (1 - cv2.GaussianBlur(hf, (0, 0), rng.uniform(1.5, 5.0))) * rng.uniform(0.0, 0.5)
    seen = (plate + rng.normal(0, grain, img.shape)) * (1 - rim[..., None])
    return img * (1 - hf[..., None]) + seen * hf[..., None], m * (1 - hf)


def _camera(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, size: int, blur: float,
            noise: tuple[float, float], jpeg: tuple[float, int]) -> tuple[np.ndarray, np.ndarray]:
    """What a camera adds, then the network's view: a slight blur (probability ``blur``), sensor noise
    (probability, largest sigma), JPEG (probability, lowest quality), both resized to ``size``²."""
    if rng.random() < blur:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < noise[0]:
        img = img + rng.normal(0, rng.uniform(1, noise[1]), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < jpeg[0]:
        _ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(jpeg[1], 95))])
        img = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    h, w = mask.shape
    img = cv2.resize(np.ascontiguousarray(img), (size, size),
                     interpolation=cv2.INTER_AREA if max(h, w) > size else cv2.INTER_LINEAR)
    return img, np.clip(cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def _shrink(im: np.ndarray, side: int) -> np.ndarray:
    s = side / max(im.shape[:2])
    return cv2.resize(im, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else im


def _studio(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    if rng.random() < 0.45:  # white / light grey packshot paper
        c0 = np.full(3, rng.uniform(215, 255)) + rng.normal(0, 4, 3)
    else:
        c0 = rng.uniform(20, 245, 3)
    c1 = np.clip(c0 * rng.uniform(0.6, 1.1) + rng.normal(0, 10, 3), 0, 255)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] ** rng.uniform(0.5, 2.0)
    img = c0 * (1 - t) + c1 * t
    img = np.broadcast_to(img, (h, w, 3)).astype(np.float32)
    if rng.random() < 0.6:  # vignette / light fall-off
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.2, 0.6) * h
        r = np.sqrt(((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2)
        img = img * (1 - rng.uniform(0.05, 0.35) * r[..., None])
    if rng.random() < 0.5:  # paper grain
        g = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), rng.uniform(0.5, 2))
        img = img + g[..., None] * rng.uniform(1, 6)
    return img


def _backdrop(rng: np.random.Generator, bank: Bank, h: int, w: int) -> np.ndarray:
    u = rng.random()
    if u < 0.5:
        return _studio(rng, h, w)
    src = bank.backdrops[rng.integers(len(bank.backdrops))]
    sh, sw = src.shape[:2]
    s = max(h / sh, w / sw) * rng.uniform(1.0, 1.8)
    src = cv2.resize(src, (max(w, round(sw * s)), max(h, round(sh * s))), interpolation=cv2.INTER_LINEAR)
    y0, x0 = rng.integers(src.shape[0] - h + 1), rng.integers(src.shape[1] - w + 1)
    img = src[y0:y0 + h, x0:x0 + w].astype(np.float32)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    if rng.random() < 0.4:  # a shallow depth of field behind the product
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(1, 4))
    return img


def _relight(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float32)
    u = rng.random()
    if u < 0.05:  # bleached: a white product
        g = rgb.mean(-1, keepdims=True)
        rgb = 255 - (255 - (0.3 * rgb + 0.7 * g)) * rng.uniform(0.15, 0.4)
    elif u < 0.25:  # dark product
        rgb = rgb * rng.uniform(0.2, 0.5)
    rgb = (rgb - 128) * rng.uniform(0.75, 1.25) + 128 + rng.uniform(-30, 30)
    rgb = rgb * rng.uniform(0.85, 1.15, 3)
    return np.clip(rgb, 0, 255)


def _metal(rng: np.random.Generator, rgb: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The cut-out as metal: its luminance folded into reflection bands (chrome) or compressed with
    streaks (brushed steel), almost no colour; all of it, or one side of a soft random line."""
    h, w = a.shape
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    th = rng.uniform(0, np.pi)
    along = (xx * np.cos(th) + yy * np.sin(th)) / max(h, w)
    if rng.random() < 0.5:  # chrome: the environment's bright and dark bands
        f = rng.uniform(1.0, 4.0)
        v = 0.5 + 0.5 * np.sin(2 * np.pi * (f * along + rng.uniform(0.5, 1.5) * lum) + rng.uniform(0, 2 * np.pi))
        v = 0.15 + 0.8 * v ** rng.uniform(0.6, 1.6)
    else:  # brushed steel: mid greys, fine streaks across the grain
        streak = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.6)
        k = max(3, int(0.15 * max(h, w)) | 1)
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(np.degrees(th)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        streak = cv2.filter2D(streak, -1, kernel / max(kernel.sum(), 1e-6))
        v = rng.uniform(0.45, 0.7) + 0.35 * (lum - lum[a > 0.5].mean() if (a > 0.5).any() else 0) + 0.6 * streak
    tint = np.array([1.0, 1.0, 1.0], np.float32) + rng.uniform(-0.06, 0.06, 3).astype(np.float32)
    metal = np.clip(v, 0, 1)[..., None] * 255 * tint
    if rng.random() < 0.5:  # one side only: a two-material product
        side = (along - np.median(along[a > 0.5]) if (a > 0.5).any() else along) * max(h, w)
        m = np.clip(0.5 + side / max(2.0, 0.03 * max(h, w)), 0, 1)[..., None]
        if rng.random() < 0.5:
            m = 1 - m
        return rgb * (1 - m) + metal * m
    return metal


def _highlights(rng: np.random.Generator, rgb: np.ndarray, a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    out = rgb.copy()
    for _ in range(rng.integers(1, 4)):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        sx, sy = rng.uniform(0.03, 0.2) * w, rng.uniform(0.03, 0.2) * h
        g = np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))
        out = out + (255 - out) * (g * rng.uniform(0.6, 1.0))[..., None]
    return out


def _holes(rng: np.random.Generator, cut: np.ndarray) -> np.ndarray:
    """The cut-out with 1–2 see-through holes (a handle's loop, a ring's middle) punched where it is
    solid: the backdrop shows through and is not product."""
    a = cut[..., 3]
    solid = cv2.erode((a > 200).astype(np.uint8), np.ones((9, 9), np.uint8))
    ys, xs = np.nonzero(solid)
    if ys.size < 200:
        return cut
    out = cut.copy()
    h, w = a.shape
    for _ in range(rng.integers(1, 3)):
        i = rng.integers(ys.size)
        ax = max(2, int(rng.uniform(0.06, 0.25) * w))
        ay = max(2, int(rng.uniform(0.06, 0.25) * h))
        hole = np.zeros((h, w), np.uint8)
        cv2.ellipse(hole, (int(xs[i]), int(ys[i])), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 255, -1)
        hole = cv2.bitwise_and(hole, solid * 255)  # inside the object only: a hole, not a bite
        out[..., 3] = np.where(hole > 0, 0, out[..., 3])
    return out


def _thin_part(rng: np.random.Generator, cut: np.ndarray) -> np.ndarray:
    """The cut-out with a cable, strap or leg drawn from its edge outwards (1–4 % of its size wide),
    grown onto a larger canvas: thin parts are product."""
    h, w = cut.shape[:2]
    pad = int(max(h, w) * rng.uniform(0.3, 0.8))
    big = np.zeros((h + 2 * pad, w + 2 * pad, 4), np.uint8)
    big[pad:pad + h, pad:pad + w] = cut
    ys, xs = np.nonzero(cut[..., 3] > 200)
    if ys.size == 0:
        return cut
    i = rng.integers(ys.size)
    pts = [(xs[i] + pad, ys[i] + pad)]
    ang = rng.uniform(0, 2 * np.pi)
    step = max(h, w) * rng.uniform(0.08, 0.2)
    for _ in range(rng.integers(3, 9)):
        ang += rng.normal(0, 0.5)
        x, y = pts[-1]
        pts.append((np.clip(x + step * np.cos(ang), 0, big.shape[1] - 1),
                    np.clip(y + step * np.sin(ang), 0, big.shape[0] - 1)))
    width = max(1, int(max(h, w) * rng.uniform(0.01, 0.04)))
    colour = tuple(int(c) for c in (rng.uniform(0, 255, 3) if rng.random() < 0.6 else
                                    big[ys[i] + pad, xs[i] + pad, :3]))
    line = np.zeros(big.shape[:2], np.uint8)
    cv2.polylines(line, [np.array(pts, np.int32)], False, 255, width, cv2.LINE_AA)
    lf = line.astype(np.float32)[..., None] / 255
    shade = 0.7 + 0.3 * cv2.GaussianBlur(rng.random(big.shape[:2]).astype(np.float32), (0, 0), 3)[..., None]
    rgb = big[..., :3] * (1 - lf) + np.array(colour, np.float32) * shade * lf
    alpha = np.maximum(big[..., 3], line)
    out = np.dstack([np.clip(rgb, 0, 255).astype(np.uint8), alpha])
    ys, xs = np.nonzero(alpha > 8)
    return out[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _paste_geometry(rng: np.random.Generator, cut: np.ndarray, h: int, w: int, area: tuple[float, float]
                    ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(RGB float, alpha float 0..1) of the cut-out resized, and its top-left corner (may be < 0)."""
    ch, cw = cut.shape[:2]
    target = rng.uniform(*area) * h * w
    fill = max((cut[..., 3] > 127).mean(), 0.05)
    s = np.sqrt(target / (ch * cw * fill))
    if rng.random() < 0.85:
        s = min(s, 0.98 * h / ch, 0.98 * w / cw)
    else:  # filling the frame, cropped by it (a close-up)
        s = min(h / ch, w / cw) * rng.uniform(1.0, 1.6)
    nh, nw = max(4, round(ch * s)), max(4, round(cw * s))
    if rng.random() < 0.3:
        ang = rng.uniform(-30, 30)
        m = cv2.getRotationMatrix2D((cw / 2, ch / 2), ang, 1.0)
        c, si = abs(m[0, 0]), abs(m[0, 1])
        bw, bh = int(ch * si + cw * c), int(ch * c + cw * si)
        m[0, 2] += bw / 2 - cw / 2
        m[1, 2] += bh / 2 - ch / 2
        cut = cv2.warpAffine(cut, m, (bw, bh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
        nh, nw = max(4, round(bh * s)), max(4, round(bw * s))
    cut = cv2.resize(cut, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        cut = cut[:, ::-1]
    cx = rng.normal(0.5, 0.12) * w
    cy = rng.normal(0.52, 0.1) * h
    return cut[..., :3].astype(np.float32), cut[..., 3].astype(np.float32) / 255, \
        round(cx - nw / 2), round(cy - nh / 2)


def _place(canvas_shape: tuple[int, int], arr: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """arr (h×w[×c]) placed on an empty canvas of canvas_shape at (x0, y0), clipped."""
    H, W = canvas_shape
    out = np.zeros((H, W) + arr.shape[2:], np.float32)
    h, w = arr.shape[:2]
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
    if xa < xb and ya < yb:
        out[ya:yb, xa:xb] = arr[ya - y0:yb - y0, xa - x0:xb - x0]
    return out


def _cast_shadow(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    """A shadow matte (0..1) on the floor from the product's full-frame alpha."""
    H, W = a.shape
    ys, xs = np.nonzero(a > 0.5)
    if ys.size == 0:
        return a * 0
    base = float(ys.max())
    if rng.random() < 0.5:  # long shadow: silhouette sheared and squashed about the base line
        k = rng.uniform(-1.5, 1.5)
        sq = rng.uniform(0.15, 0.6) * rng.choice([1.0, -0.4])
        m = np.float32([[1, k * sq, -k * sq * base], [0, sq, base * (1 - sq)]])
        sh = cv2.warpAffine(a, m, (W, H), flags=cv2.INTER_LINEAR)
        sh = cv2.GaussianBlur(sh, (0, 0), rng.uniform(1, 0.03 * H + 1.5))
    else:  # soft drop shadow: offset silhouette
        dx, dy = rng.normal(0, 0.03) * W, rng.uniform(0, 0.04) * H
        sh = cv2.warpAffine(a, np.float32([[1, 0, dx], [0, 1, dy]]), (W, H))
        sh = cv2.GaussianBlur(sh, (0, 0), rng.uniform(2, 0.04 * H + 3))
    # contact shadow: a flat ellipse under the base
    x0, x1 = xs.min(), xs.max()
    cont = np.zeros_like(a)
    cv2.ellipse(cont, (int((x0 + x1) / 2), int(base)), (max(1, int((x1 - x0) * rng.uniform(0.3, 0.55))),
                max(1, int(rng.uniform(0.005, 0.03) * H))), 0, 0, 360, 1.0, -1)
    cont = cv2.GaussianBlur(cont, (0, 0), 0.01 * H + 1)
    return np.clip(sh * rng.uniform(0.25, 0.75) + cont * rng.uniform(0.3, 0.8), 0, 0.9)


def _two_parts(rng: np.random.Generator, bank: Bank, rgb: np.ndarray, a: np.ndarray, x0: int, y0: int,
               H: int, W: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The product with a second part beside it (left or right, bottoms near the same line, touching
    or a gap of up to 6 % of the frame): one RGB and one alpha on the union of both boxes."""
    part = bank.cutouts[rng.integers(len(bank.cutouts))]
    prgb, pa, _, _ = _paste_geometry(rng, part, H, W, (0.02, 0.12))
    h, w = a.shape
    ph, pw = pa.shape
    gap = int(rng.uniform(-0.1, 0.06) * W)
    px = x0 + w + gap if rng.random() < 0.5 else x0 - pw - gap
    py = y0 + h - ph + int(rng.normal(0, 0.05) * H)
    X0, Y0 = min(x0, px), min(y0, py)
    X1, Y1 = max(x0 + w, px + pw), max(y0 + h, py + ph)
    A = _place((Y1 - Y0, X1 - X0), a, x0 - X0, y0 - Y0)
    PA = _place((Y1 - Y0, X1 - X0), pa, px - X0, py - Y0) * (1 - A)
    F = _place((Y1 - Y0, X1 - X0), rgb, x0 - X0, y0 - Y0)
    P = _place((Y1 - Y0, X1 - X0), prgb, px - X0, py - Y0)
    AC = np.clip(A + PA, 0.0, 1.0)
    FC = (F * A[..., None] + P * PA[..., None]) / np.maximum(AC, 1e-6)[..., None]
    return FC, AC, X0, Y0


def compose(rng: np.random.Generator, bank: Bank, size: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """One training picture (size×size RGB uint8) and its product mask (size×size float32 in [0, 1]).

    The picture has the aspect of a real photo (3:4 to 4:3) squeezed into the square, as CutNet sees
    a photo at run time."""
    aspect = rng.uniform(0.75, 1.34)
    H = size if aspect <= 1 else round(size / aspect)
    W = round(size * aspect) if aspect <= 1 else size
    H, W = max(H, 32), max(W, 32)
    img = _backdrop(rng, bank, H, W)
    cut = bank.cutouts[rng.integers(len(bank.cutouts))]
    if rng.random() < 0.3:
        cut = _holes(rng, cut)
    if rng.random() < 0.2:
        cut = _thin_part(rng, cut)
    rgb, a, x0, y0 = _paste_geometry(rng, cut, H, W, (0.06, 0.5) if rng.random() < 0.75 else (0.5, 0.85))
    if rng.random() < 0.12:
        rgb, a, x0, y0 = _two_parts(rng, bank, rgb, a, x0, y0, H, W)
    rgb = _relight(rng, rgb)
    if rng.random() < 0.15:
        rgb = _metal(rng, rgb, a)
    if rng.random() < 0.25:
        rgb = _highlights(rng, rgb, a)
    if rng.random() < 0.5:  # the product as soft as the backdrop: no sharpness seam to learn
        sigma = rng.uniform(0.3, 1.2)
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
        a = cv2.GaussianBlur(a, (0, 0), sigma)
    A = _place((H, W), a, x0, y0)
    F = _place((H, W), rgb, x0, y0)
    if rng.random() < 0.3:  # a prop at the border: seen, not the product
        prop = bank.cutouts[rng.integers(len(bank.cutouts))]
        prgb, pa, _, _ = _paste_geometry(rng, prop, H, W, (0.01, 0.06))
        ph, pw = pa.shape
        px = int(rng.choice([rng.integers(-pw // 2, max(1, W // 6)), rng.integers(W - W // 6 - pw, W - pw // 2)]))
        py = int(rng.integers(-ph // 3, max(1, H - ph // 2)))
        PA = _place((H, W), pa, px, py) * (1 - A)
        img = img * (1 - PA[..., None]) + _place((H, W), _relight(rng, prgb), px, py) * PA[..., None]
    if rng.random() < 0.7:
        s = _cast_shadow(rng, A)
        tint = rng.uniform(0.0, 0.25, 3)
        img = img * (1 - s[..., None] * (1 - tint))
    img = img * (1 - A[..., None]) + F * A[..., None]
    return _camera(rng, img, A, size, blur=0.3, noise=(0.5, 5), jpeg=(0.5, 40))
