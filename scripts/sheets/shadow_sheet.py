"""Contact sheet of the shadow step: products × (mirror, drop) × three settings → docs/img/shadows.png.

    python scripts/sheets/shadow_sheet.py [--out docs/img/shadows.png] [--tile 320]

Products are synthetic shaded cutouts (bottle, box, mug, shoe, a stool on thin legs) on light
studio backgrounds built here; each sits on the scene's floor line, as after a `background` step.
"""
from __future__ import annotations

from pathlib import Path

import click
import cv2
import numpy as np

from product_augment.sample import Sample
from product_augment.steps import shadow as shadow_step

SS = 4  # supersampling for anti-aliased silhouettes


def _aa(draw_fn, h: int, w: int) -> np.ndarray:
    """Anti-aliased float matte from a function drawing 255 on a supersampled uint8 canvas."""
    big = np.zeros((h * SS, w * SS), np.uint8)
    draw_fn(big, SS)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _shade_cylinder(alpha: np.ndarray, color, x0: float, x1: float, gloss: float = 0.6) -> np.ndarray:
    """Colour a vertical cylinder-like product: dark edges, lit left-centre, a specular streak."""
    h, w = alpha.shape
    u = np.clip((np.arange(w, dtype=np.float32) - x0) / max(x1 - x0, 1), 0, 1)
    lam = np.clip(np.cos((u - 0.38) * np.pi * 0.95), 0.05, 1) ** 0.8
    spec = gloss * np.exp(-((u - 0.3) / 0.035) ** 2)
    base = np.asarray(color, np.float32)
    row = base[None, :] * (0.35 + 0.65 * lam[:, None]) + 255 * spec[:, None]
    img = np.broadcast_to(row[None], (h, w, 3)).copy()
    return np.clip(img, 0, 255)


def bottle(h: int, w: int, floor: int):
    cx, bw, top = w // 2, int(w * 0.13), int(floor - h * 0.62)

    def draw(c, s):
        neck_w, shoulder = int(bw * 0.38), top + int(h * 0.2)
        pts = np.array([[cx - neck_w, top], [cx + neck_w, top], [cx + neck_w, shoulder - int(h * 0.08)],
                        [cx + bw, shoulder], [cx + bw, floor - 6], [cx + bw - 6, floor],
                        [cx - bw + 6, floor], [cx - bw, floor - 6], [cx - bw, shoulder],
                        [cx - neck_w, shoulder - int(h * 0.08)]], np.float32) * s
        cv2.fillPoly(c, [pts.astype(np.int32)], 255, cv2.LINE_AA)
    a = _aa(draw, h, w)
    img = _shade_cylinder(a, (30, 110, 60), cx - bw, cx + bw, 0.7)
    label = (np.arange(h)[:, None] > top + h * 0.3) & (np.arange(h)[:, None] < top + h * 0.45)
    band = np.broadcast_to(label, (h, w))
    img[band] = img[band] * 0.2 + np.array([230, 225, 200]) * 0.8
    return img, a


def box(h: int, w: int, floor: int):
    x0, x1, top = int(w * 0.3), int(w * 0.68), int(floor - h * 0.42)

    def draw(c, s):
        d = int(h * 0.06)
        pts = np.array([[x0, top + d], [x0 + d, top], [x1 + d, top], [x1 + d, floor - d], [x1, floor],
                        [x0, floor]], np.float32) * s
        cv2.fillPoly(c, [pts.astype(np.int32)], 255, cv2.LINE_AA)
    a = _aa(draw, h, w)
    img = np.zeros((h, w, 3), np.float32)
    yy, xx = np.mgrid[:h, :w]
    img[...] = (70, 90, 170)
    side = xx >= x1
    topf = (yy < top + int(h * 0.06)) & ~side
    img[side] *= 0.6
    img[topf] = img[topf] * 1.3 + 20
    return np.clip(img, 0, 255), a


def mug(h: int, w: int, floor: int):
    cx, bw, top = int(w * 0.46), int(w * 0.15), int(floor - h * 0.34)

    def draw(c, s):
        cv2.rectangle(c, ((cx - bw) * s, top * s), ((cx + bw) * s, (floor - 4) * s), 255, -1, cv2.LINE_AA)
        cv2.ellipse(c, ((cx) * s, (floor - 4) * s), (bw * s, 4 * s), 0, 0, 180, 255, -1, cv2.LINE_AA)
        cv2.ellipse(c, ((cx + bw) * s, (top + int(h * 0.16)) * s), (int(w * 0.07) * s, int(h * 0.09) * s),
                    0, -90, 90, 255, int(w * 0.03) * s, cv2.LINE_AA)
    a = _aa(draw, h, w)
    img = _shade_cylinder(a, (235, 225, 210), cx - bw, cx + bw, 0.35)
    img[:, cx + bw:] = (200, 190, 178)
    return img, a


def shoe(h: int, w: int, floor: int):
    def draw(c, s):
        pts = np.array([[w * 0.2, floor - h * 0.05], [w * 0.22, floor - h * 0.2],
                        [w * 0.38, floor - h * 0.24], [w * 0.5, floor - h * 0.3], [w * 0.6, floor - h * 0.3],
                        [w * 0.63, floor - h * 0.22],
                        [w * 0.78, floor - h * 0.17], [w * 0.82, floor - h * 0.06], [w * 0.8, floor],
                        [w * 0.22, floor]], np.float32) * s
        cv2.fillPoly(c, [pts.astype(np.int32)], 255, cv2.LINE_AA)
    a = _aa(draw, h, w)
    img = np.zeros((h, w, 3), np.float32)
    img[...] = (150, 75, 40)
    yy = np.arange(h)[:, None]
    sole = (yy > floor - h * 0.04)
    img[np.broadcast_to(sole, (h, w))] = (205, 200, 190)
    img *= (0.75 + 0.25 * np.linspace(1, 0.6, h))[:, None, None] ** 0.5
    return np.clip(img, 0, 255), a


def stool(h: int, w: int, floor: int):
    """A bar stool: round seat on three thin legs, the case a contact line must not miss."""
    top = int(floor - h * 0.46)
    seat_y = top + int(h * 0.05)

    def draw(c, s):
        cv2.ellipse(c, (w // 2 * s, seat_y * s), (int(w * 0.16) * s, int(h * 0.035) * s), 0, 0, 360, 255, -1,
                    cv2.LINE_AA)
        cv2.rectangle(c, (int(w * 0.34) * s, top * s), (int(w * 0.66) * s, seat_y * s), 255, -1, cv2.LINE_AA)
        for x_top, x_bot in ((0.38, 0.33), (0.5, 0.5), (0.62, 0.67)):
            p0 = (int(w * x_top * s), seat_y * s)
            p1 = (int(w * x_bot * s), floor * s)
            cv2.line(c, p0, p1, 255, int(0.012 * w * s) or 1, cv2.LINE_AA)
        rung = int((floor - h * 0.15) * s)
        cv2.line(c, (int(w * 0.36 * s), rung), (int(w * 0.64 * s), rung), 255, int(0.008 * w * s) or 1,
                 cv2.LINE_AA)
    a = _aa(draw, h, w)
    img = np.zeros((h, w, 3), np.float32)
    img[...] = (60, 58, 56)
    seat = np.arange(h)[:, None] <= seat_y + int(h * 0.035)
    img[np.broadcast_to(seat, (h, w))] = (170, 110, 60)
    return np.clip(img, 0, 255), a


def studio(h: int, w: int, floor: int, tone) -> np.ndarray:
    """A paper sweep: wall darker at the top, bright floor, soft bend at the floor line."""
    tone = np.asarray(tone, np.float32)
    y = np.arange(h, dtype=np.float32)
    wall = 0.86 + 0.1 * (y / floor)
    ground = 0.97 + 0.03 * np.clip((y - floor) / (h - floor), 0, 1)
    t = 1 / (1 + np.exp(-(y - floor) / (h * 0.04)))
    lum = wall * (1 - t) + ground * t
    x = np.linspace(-1, 1, w, dtype=np.float32)
    vign = 1 - 0.05 * x ** 2
    return np.clip(tone[None, None] * lum[:, None, None] * vign[None, :, None], 0, 255).astype(np.uint8)


PRODUCTS = [("bottle", bottle, (246, 246, 246)), ("box", box, (244, 240, 232)),
            ("mug", mug, (226, 236, 246)), ("shoe", shoe, (246, 244, 240)),
            ("stool", stool, (240, 240, 236))]
SETTINGS = [
    ("mirror", "acrylic", {"kind": "mirror", "opacity": 0.4, "fade": 0.5, "blur": 0.015}),
    ("mirror", "satin", {"kind": "mirror", "opacity": 0.3, "fade": 0.4, "blur": 0.06}),
    ("mirror", "squashed", {"kind": "mirror", "opacity": 0.35, "fade": 0.45, "blur": 0.03, "squash": 0.7}),
    ("drop", "key left", {"kind": "drop", "azimuth": 60, "elevation": 35, "size": 0.06}),
    ("drop", "softbox right", {"kind": "drop", "azimuth": -70, "elevation": 45, "size": 0.2}),
    ("drop", "backlight", {"kind": "drop", "azimuth": 160, "elevation": 35, "size": 0.1, "opacity": 0.5}),
]


def render_tile(make, tone, cfg: dict, tile: int) -> np.ndarray:
    from pydantic import TypeAdapter
    floor = int(tile * 0.74)
    fg, alpha = make(tile, tile, floor)
    bg = studio(tile, tile, floor, tone)
    image = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg + 0.5, 0, 255).astype(np.uint8)
    sample = Sample(image=image, alpha=alpha, plate=bg, floor_y=float(floor))
    step = shadow_step.build(TypeAdapter(shadow_step.Config).validate_python(cfg))
    return step(sample, np.random.default_rng(0)).image


@click.command(help=__doc__)
@click.option("--out", default="docs/img/shadows.png", show_default=True)
@click.option("--tile", type=int, default=320, show_default=True)
def main(out: str, tile: int) -> None:
    t = tile
    head = 26
    rows = []
    header = np.full((head, t * len(SETTINGS), 3), 255, np.uint8)
    for j, (kind, label, _) in enumerate(SETTINGS):
        cv2.putText(header, f"{kind}: {label}", (j * t + 8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (40, 40, 40), 1, cv2.LINE_AA)
    rows.append(header)
    for _name, make, tone in PRODUCTS:
        rows.append(np.concatenate([render_tile(make, tone, cfg, t) for _, _, cfg in SETTINGS], axis=1))
    sheet = np.concatenate(rows, axis=0)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {out_path} ({sheet.shape[1]}×{sheet.shape[0]})")


if __name__ == "__main__":
    main()
