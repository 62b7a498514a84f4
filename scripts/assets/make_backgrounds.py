"""Render the lifestyle backdrops in backgrounds/ for the `image` background kind.

    python scripts/assets/make_backgrounds.py [--out backgrounds] [--sheet docs/img/backgrounds.png] [--seed 7]

No redistributable photo set is available offline, so each backdrop is a 2.5D scene built from
this project's assets: a floor or table top (one of the repo's seamless textures/, sampled in
perspective), a painted or plastered back wall, and a few CC0 Sweet Home 3D models (Blend Swap
CC-0 library of the Debian package sweethome3d-furniture) rendered with the project's renderer and
composited at the size a pinhole camera gives them. A depth-of-field blur (circle of confusion
from the depth of every row and prop, focused where the product stands), soft contact and wall
shadows, window light, colour temperature, vignette and grain make it read as a photo backdrop.

Geometry (centimetres): the camera sits `cam_h` above the support plane (floor or table top) and
looks level; the horizon is row `horizon`·H. A point at depth Z and height Y above the support lands
on row horizon·H + f·(cam_h − Y)/Z. The focus distance is the depth of the support at row
0.875·H, the middle of the `image` kind's default floor band [0.8, 0.95], so a product placed
there stands on the sharp part of the floor and at the scale the camera implies. Props keep
out of the lower centre, where the product stands.

Output is deterministic for a seed, up to rare one-pixel differences in the props that Mesa's
llvmpipe renders (seen once: ±3 grey levels in one 16×16 JPEG block).
Origins and licences: LICENSES/ASSETS.md, section "backgrounds/".
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import click
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from product_augment.data import sources
from product_augment.data.render import Light, Renderer, View, kelvin_to_rgb, prepare_model
from product_augment.ops.variable_blur import variable_blur_rows

ROOT = Path(__file__).resolve().parents[2]
TEXTURES = ROOT / "textures"
FONT = ROOT / "src/product_augment/assets/fonts/DejaVuSans-Bold.ttf"
LIBRARY = "Blend Swap CC-0#"
SIZE = 1024
FOCUS_ROW = 0.875  # middle of the image kind's default floor band
TABLE_HEIGHT = 75.0  # a table top above the room floor, cm


@dataclass(frozen=True)
class Prop:
    """One CC0 model placed in the scene.

    x: centre across the frame at its depth (-1 left edge, 0 centre, 1 right edge); z: depth as a
    fraction of the wall's depth (of the table edge's, for things on the table of a "table" scene);
    yaw: extra turn, degrees; on: height of what it stands on, cm; room: on the floor beyond the table.
    """

    model: str  # catalogue id without the library prefix
    x: float
    z: float
    yaw: float = 0.0
    on: float = 0.0
    room: bool = False


@dataclass(frozen=True)
class Scene:
    name: str
    kind: str  # floor: room floor + wall; counter: table top against the wall; table: table top, room behind
    surface: str  # texture stem in textures/
    tile_cm: float  # one texture tile on the support plane, cm
    paint: tuple[int, int, int]  # wall colour
    plaster: str  # texture stem whose luminance modulates the wall
    cam_h: float  # camera height above the support, cm
    wall_row: float  # where the support meets the wall (floor, counter) or ends (table), fraction of H
    props: tuple[Prop, ...]
    kelvin: float = 5200.0
    side: int = -1  # key light from the left (-1) or the right (+1)
    window: float = 0.3  # strength of the window light patch on the wall
    gloss: float = 0.0  # glossy reflection of the wall in the support
    wall_blur: float = 13.0  # blur (sigma, px) of the back wall; sets the aperture
    skirting: bool = False
    room_depth: float = 1.9  # table: wall distance / table-edge distance
    exposure: float = 1.0
    horizon: float = 0.42
    contrast: float = 0.75  # of the surface texture around its mean
    wall_tile_cm: float = 110.0  # one tile of the wall texture, cm
    art: tuple[float, float, float, float] | None = None  # framed print: x (-1..1), bottom, width, height (cm)


def P(model, x, z, yaw=0.0, on=0.0, room=False) -> Prop:
    return Prop(model, float(x), float(z), float(yaw), float(on), room)


SCENES: tuple[Scene, ...] = (
    Scene("living-oak-sage", "floor", "proc-wood-oak", 110, (168, 178, 156), "proc-plaster-sage", 32, 0.53,
          (P("sofa2", -0.95, 0.9, 12), P("plant", 0.85, 0.85, -10), P("bedsideTable2", 0.45, 0.93),
           P("littlePlant", 0.45, 0.93, on=45.4)),
          kelvin=4300, side=-1, window=0.0, gloss=0.06, skirting=True, art=(-0.12, 100, 55, 72), contrast=0.55),
    Scene("lounge-walnut-sand", "floor", "proc-wood-walnut", 100, (214, 200, 178), "proc-plaster-sand", 34, 0.53,
          (P("couch2", 1.05, 0.9, -8), P("decorativePlant", -0.8, 0.85), P("bedsideTable2", -0.45, 0.93),
           P("desklamp", -0.45, 0.93, 20, on=45.4)),
          kelvin=3600, side=1, window=0.25, gloss=0.1, skirting=True, exposure=0.95, contrast=0.6),
    Scene("scandi-concrete", "floor", "proc-concrete-light", 100, (232, 230, 224), "proc-plaster-sand", 30, 0.54,
          (P("osakaChair", -0.85, 0.7, 30), P("verticalShelves", 0.8, 0.93, -5), P("orchids", 0.8, 0.93, on=37)),
          kelvin=6200, side=-1, window=0.4, gloss=0.04, skirting=True, exposure=1.04),
    Scene("counter-marble-white", "counter", "proc-marble-white", 70, (226, 222, 214), "proc-plaster-sand", 16, 0.53,
          (P("orchids", -0.8, 0.85, 10), P("desklamp", 0.62, 0.88, -30), P("cactus", 0.85, 0.7)),
          kelvin=5800, side=-1, window=0.45, gloss=0.16, exposure=1.03),
    Scene("table-oak-room", "table", "proc-wood-oak", 80, (196, 204, 208), "proc-plaster-sand", 18, 0.53,
          (P("plant", -0.7, 0.8, room=True), P("bookcase", 0.7, 0.92, -10, room=True),
           P("wallLight", -0.7, 0.75), P("littlePlant", 0.75, 0.6)),
          kelvin=4500, side=-1, window=0.3, gloss=0.05, room_depth=1.7, contrast=0.6),
    Scene("table-linen-evening", "table", "proc-linen-natural", 40, (206, 190, 168), "proc-plaster-sand", 16, 0.53,
          (P("couch", 0.3, 0.85, room=True), P("verticalShelves", -0.85, 0.9, room=True),
           P("wallLight", 0.7, 0.7, -10)),
          kelvin=3300, side=1, window=0.0, wall_blur=15, room_depth=1.6, exposure=0.94, art=(0.0, 128, 60, 45)),
    Scene("counter-marble-black", "counter", "proc-marble-black", 70, (74, 76, 80), "proc-plaster-sage", 15, 0.53,
          (P("wallLight", -0.7, 0.85), P("augalas", 0.75, 0.8, -20)),
          kelvin=3500, side=-1, window=0.22, gloss=0.22, exposure=0.98),
    Scene("terrazzo-armchair", "floor", "proc-terrazzo-light", 45, (222, 196, 186), "proc-plaster-sand", 32, 0.53,
          (P("armchair2", -0.85, 0.75, 25), P("bedsideTable2", 0.7, 0.93), P("augalas", 0.7, 0.93, on=45.4)),
          kelvin=5600, side=1, window=0.0, gloss=0.08, skirting=True, art=(0.15, 105, 45, 60)),
    Scene("counter-concrete-sage", "counter", "proc-concrete-dark", 90, (160, 176, 152), "proc-tiles-white", 17, 0.53,
          (P("littlePlant", -0.75, 0.85), P("plantie", 0.8, 0.9), P("cactus", -0.5, 0.65)),
          kelvin=6500, side=1, window=0.3, gloss=0.08, wall_tile_cm=60, wall_blur=8),
    Scene("parquet-reading-corner", "floor", "proc-parquet-diagonal", 110, (236, 232, 222), "proc-plaster-sand", 34, 0.53,
          (P("chair2", 0.8, 0.7, -25), P("shelves", -0.85, 0.93, 8), P("orchids", -0.8, 0.93, on=79)),
          kelvin=3900, side=-1, window=0.35, gloss=0.1, skirting=True, exposure=0.97),
    Scene("table-walnut-study", "table", "proc-wood-walnut", 70, (120, 136, 150), "proc-plaster-sage", 17, 0.53,
          (P("verticalShelves", 0.75, 0.9, -10, room=True), P("plant", -0.75, 0.85, room=True),
           P("desklamp", -0.7, 0.7, 25), P("speaker2", 0.75, 0.75, -15)),
          kelvin=4000, side=-1, window=0.0, gloss=0.12, room_depth=1.7, exposure=0.96, contrast=0.6, art=(-0.05, 120, 50, 65)),
    Scene("counter-terrazzo-pink", "counter", "proc-terrazzo-pink", 40, (240, 232, 226), "proc-plaster-sand", 16, 0.53,
          (P("orchids", 0.75, 0.85, -10), P("cactus", -0.8, 0.7), P("littlePlant", -0.55, 0.9)),
          kelvin=5400, side=1, window=0.45, gloss=0.05, exposure=1.02),
    # session 6: 18 more (30 in all), some with no object of the 21 classes at all
    Scene("floor-weathered-bare", "floor", "proc-wood-weathered", 100, (222, 218, 210), "proc-plaster-sand", 30, 0.53,
          (P("verticalShelves", -0.85, 0.93, 6), P("bedsideTable2", 0.75, 0.93)),
          kelvin=5000, side=1, window=0.35, gloss=0.04, skirting=True),
    Scene("floor-granite-lounge", "floor", "proc-granite-grey", 80, (198, 206, 214), "proc-plaster-sand", 32, 0.53,
          (P("armchair2", 0.85, 0.75, -25), P("decorativePlant", -0.8, 0.85)),
          kelvin=6000, side=-1, window=0.4, gloss=0.18, skirting=True, exposure=1.02),
    Scene("floor-concrete-loft", "floor", "proc-concrete-dark", 110, (176, 170, 162), "proc-concrete-light", 34, 0.52,
          (P("bookcase", -0.85, 0.93, 5), P("chair2", 0.8, 0.7, -30)),
          kelvin=5400, side=1, window=0.3, gloss=0.08, contrast=0.6),
    Scene("floor-oak-bright", "floor", "proc-wood-oak", 110, (240, 238, 232), "proc-plaster-sand", 30, 0.54,
          (P("shelves", 0.85, 0.93, -8),),
          kelvin=6200, side=-1, window=0.5, gloss=0.08, skirting=True, exposure=1.05),
    Scene("floor-terrazzo-plant", "floor", "proc-terrazzo-light", 45, (200, 214, 204), "proc-plaster-sage", 30, 0.53,
          (P("plant", -0.85, 0.85), P("augalas", 0.8, 0.8, 15)),
          kelvin=5200, side=1, window=0.2, gloss=0.1, skirting=True),
    Scene("floor-walnut-evening", "floor", "proc-wood-walnut", 100, (188, 170, 150), "proc-plaster-sand", 32, 0.53,
          (P("couch", -1.0, 0.9, 10), P("desklamp", 0.7, 0.93, -20, on=45.4), P("bedsideTable2", 0.7, 0.93)),
          kelvin=3000, side=1, window=0.0, gloss=0.12, skirting=True, exposure=0.92, contrast=0.6),
    Scene("floor-linen-rug", "floor", "proc-linen-natural", 60, (230, 224, 214), "proc-plaster-sand", 28, 0.54,
          (P("osakaChair", 0.85, 0.75, -20), P("littlePlant", -0.8, 0.9)),
          kelvin=4800, side=-1, window=0.3, gloss=0.0, skirting=True),
    Scene("counter-granite-red", "counter", "proc-granite-red", 70, (232, 226, 218), "proc-tiles-white", 16, 0.53,
          (P("plantie", -0.8, 0.9),),
          kelvin=5000, side=-1, window=0.35, gloss=0.14, wall_tile_cm=50, wall_blur=9),
    Scene("counter-granite-bare", "counter", "proc-granite-grey", 70, (200, 184, 168), "proc-plaster-sand", 15, 0.5,
          (),
          kelvin=4600, side=1, window=0.3, gloss=0.12, exposure=0.98),
    Scene("counter-marble-green", "counter", "proc-marble-green", 70, (220, 224, 216), "proc-plaster-sage", 16, 0.53,
          (P("cactus", 0.8, 0.75), P("littlePlant", 0.6, 0.9)),
          kelvin=6000, side=-1, window=0.25, gloss=0.2, exposure=1.0),
    Scene("counter-concrete-grey", "counter", "proc-concrete-light", 80, (210, 212, 214), "proc-concrete-light", 17, 0.53,
          (P("speaker2", -0.8, 0.8, 20),),
          kelvin=6500, side=1, window=0.3, gloss=0.06),
    Scene("counter-walnut-warm", "counter", "proc-wood-walnut", 70, (214, 196, 172), "proc-plaster-sand", 16, 0.53,
          (P("desklamp", -0.75, 0.85, 25), P("orchids", 0.8, 0.85)),
          kelvin=3300, side=-1, window=0.0, gloss=0.1, exposure=0.95),
    Scene("counter-kraft-studio", "counter", "proc-paper-kraft", 60, (236, 228, 214), "proc-paper-warm", 15, 0.54,
          (),
          kelvin=5200, side=-1, window=0.3, gloss=0.0, wall_tile_cm=80, wall_blur=10),
    Scene("counter-tiles-blue", "counter", "proc-tiles-blue", 40, (228, 232, 236), "proc-tiles-white", 16, 0.53,
          (P("orchids", -0.8, 0.9, 10),),
          kelvin=6200, side=1, window=0.4, gloss=0.16, wall_tile_cm=40, wall_blur=8, exposure=1.02),
    Scene("table-oak-bright", "table", "proc-wood-oak", 80, (232, 230, 224), "proc-plaster-sand", 17, 0.53,
          (P("bookcase", -0.75, 0.92, 8, room=True), P("plant", 0.75, 0.85, room=True)),
          kelvin=5800, side=1, window=0.4, gloss=0.06, room_depth=1.7, exposure=1.04),
    Scene("table-linen-white", "table", "proc-linen-white", 40, (214, 220, 226), "proc-plaster-sand", 16, 0.53,
          (P("verticalShelves", 0.8, 0.9, -8, room=True),),
          kelvin=6500, side=-1, window=0.3, gloss=0.0, room_depth=1.6, wall_blur=14),
    Scene("table-walnut-dim", "table", "proc-wood-walnut", 70, (150, 140, 128), "proc-plaster-sage", 17, 0.53,
          (P("armchair2", -0.7, 0.85, 20, room=True), P("wallLight", 0.7, 0.7, -15)),
          kelvin=3200, side=1, window=0.0, gloss=0.14, room_depth=1.7, exposure=0.9, contrast=0.6),
    Scene("table-weathered-garden", "table", "proc-wood-weathered", 80, (206, 214, 196), "proc-plaster-sage", 18, 0.53,
          (P("decorativePlant", 0.75, 0.85, room=True), P("plantie", -0.75, 0.7)),
          kelvin=5600, side=-1, window=0.35, gloss=0.03, room_depth=1.8),
)


# ---------------------------------------------------------------------------------------------
# Camera


@dataclass(frozen=True)
class Camera:
    f: float  # focal length, px
    cx: float
    cy: float  # horizon row
    h: float  # height above the support plane, cm
    size: int

    def row(self, y: float, z: float) -> float:
        return self.cy + self.f * (self.h - y) / z

    def col(self, x: float, z: float) -> float:
        return self.cx + self.f * x / z

    def depth_of_row(self, v: np.ndarray) -> np.ndarray:
        """Depth of the support plane seen at rows v (inf at or above the horizon)."""
        dv = np.asarray(v, np.float64) - self.cy
        return np.where(dv > 1e-6, self.f * self.h / np.maximum(dv, 1e-6), np.inf)


def make_camera(scene: Scene, rng: np.random.Generator) -> Camera:
    fov = math.radians(rng.uniform(36, 42))
    f = SIZE / 2 / math.tan(fov / 2)
    return Camera(f, SIZE / 2, (scene.horizon + rng.uniform(-0.02, 0.02)) * SIZE, scene.cam_h, SIZE)


# ---------------------------------------------------------------------------------------------
# Textures and planes


def load_texture(stem: str) -> np.ndarray:
    img = cv2.imread(str(TEXTURES / f"{stem}.jpg"), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(TEXTURES / f"{stem}.jpg")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def wrap_blur(tex: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Gaussian blur of a seamless tile with wrap-around borders."""
    if sx <= 0 and sy <= 0:
        return tex
    h, w = tex.shape[:2]
    py, px = min(h, int(3 * sy) + 2), min(w, int(3 * sx) + 2)
    padded = np.pad(tex, ((py, py), (px, px), (0, 0)), mode="wrap")
    out = cv2.GaussianBlur(padded, (0, 0), sigmaX=max(sx, 0.1), sigmaY=max(sy, 0.1))
    return out[py:py + h, px:px + w]


def support_plane(cam: Camera, tex: np.ndarray, tile_cm: float, rows: slice, offset: tuple[float, float],
                  angle: float) -> np.ndarray:
    """The texture laid on the support plane, seen in perspective on `rows` (H'×W×3 float).

    Aliasing far away is avoided per row: the texture is pre-blurred at a few levels along and
    across the depth direction, and each row blends the two levels that bracket its footprint."""
    n = tex.shape[0]
    v = np.arange(rows.start, rows.stop, dtype=np.float64) + 0.5
    u = np.arange(cam.size, dtype=np.float64) + 0.5
    z = cam.depth_of_row(v)[:, None]
    x = (u[None, :] - cam.cx) * z / cam.f
    px_per_cm = n / tile_cm
    ca, sa = math.cos(angle), math.sin(angle)
    s = (ca * x - sa * z) * px_per_cm + offset[0]
    t = -(sa * x + ca * z) * px_per_cm + offset[1]
    mapx = np.mod(s, n).astype(np.float32)
    mapy = np.mod(t, n).astype(np.float32)
    # footprint of one screen pixel on the texture: along depth and across it
    along = (z[:, 0] ** 2 / (cam.f * cam.h)) * px_per_cm
    across = (z[:, 0] / cam.f) * px_per_cm
    levels = [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    want = np.clip(0.5 * along, 0, levels[-1])
    out = np.zeros((len(v), cam.size, 3), np.float32)
    idx = np.clip(np.searchsorted(levels, want, side="right") - 1, 0, len(levels) - 2)
    tt = np.clip((want - np.take(levels, idx)) / (np.take(levels, idx + 1) - np.take(levels, idx)), 0, 1)
    for k in range(len(levels)):
        w = np.where(idx == k, 1 - tt, 0) + np.where(idx == k - 1, tt, 0)
        sel = np.flatnonzero(w > 0)
        if sel.size == 0:
            continue
        sig_across = float(np.median(0.5 * across[sel]))
        # the texture's own rotation mixes the axes: blur both by the larger share
        sx = max(sig_across, levels[k] * abs(sa))
        sy = max(levels[k] * abs(ca), sig_across)
        level = wrap_blur(tex, sx, sy)
        r0, r1 = sel[0], sel[-1] + 1
        sampled = cv2.remap(level, mapx[r0:r1], mapy[r0:r1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        out[r0:r1] += sampled * w[r0:r1, None, None].astype(np.float32)
    return out


def wall_plane(cam: Camera, z_wall: float, paint: np.ndarray, plaster: np.ndarray, tile_cm: float,
               rng) -> np.ndarray:
    """The back wall at depth z_wall: paint colour modulated by a plaster (or tile) texture's luminance."""
    n = plaster.shape[0]
    tile_px = max(16, round(tile_cm * cam.f / z_wall))
    lum = cv2.cvtColor(plaster, cv2.COLOR_RGB2GRAY)
    lum = lum / max(float(lum.mean()), 1e-3)
    lum = cv2.resize(lum, (tile_px, tile_px), interpolation=cv2.INTER_AREA if tile_px < n else cv2.INTER_LINEAR)
    reps = cam.size // tile_px + 2
    big = np.tile(lum, (reps, reps))
    oy, ox = rng.integers(0, tile_px, size=2)
    lum = big[oy:oy + cam.size, ox:ox + cam.size]
    detail = 1.0 + 0.55 * (lum - 1.0)
    return paint[None, None, :] * detail[..., None]


# ---------------------------------------------------------------------------------------------
# Light


def light_rgb(kelvin: float) -> np.ndarray:
    c = np.asarray(kelvin_to_rgb(kelvin), np.float32)
    return c / float(c @ np.array([0.2126, 0.7152, 0.0722], np.float32))


def window_patch(cam: Camera, side: int, rng) -> np.ndarray:
    """A soft, sheared window-light shape on the wall (H×W in [0, 1]): two or four panes."""
    s = cam.size
    m = np.zeros((s, s), np.float32)
    cx = s * (0.5 - side * rng.uniform(0.18, 0.3))
    w, h = s * rng.uniform(0.22, 0.3), s * rng.uniform(0.3, 0.4)
    top = s * rng.uniform(0.02, 0.1)
    shear = -side * rng.uniform(0.25, 0.5)
    bar = max(3, int(s * 0.012))
    cols = int(rng.integers(1, 3))
    for i in range(cols):
        for j in range(2):
            x0 = cx - w / 2 + i * w / cols + bar / 2
            x1 = cx - w / 2 + (i + 1) * w / cols - bar / 2
            y0 = top + j * h / 2 + bar / 2
            y1 = top + (j + 1) * h / 2 - bar / 2
            pts = np.array([[x0 + shear * (y0 - top), y0], [x1 + shear * (y0 - top), y0],
                            [x1 + shear * (y1 - top), y1], [x0 + shear * (y1 - top), y1]])
            cv2.fillConvexPoly(m, np.round(pts * 4).astype(np.int32), 1.0, lineType=cv2.LINE_AA, shift=2)
    return cv2.GaussianBlur(m, (0, 0), s * 0.012)


def paint_art(wall: np.ndarray, cam: Camera, z_wall: float, art: tuple[float, float, float, float],
              ground: float, side: int, rng) -> None:
    """A framed abstract print hung on the wall: wood or black frame, white mat, soft shapes on
    watercolour paper, and a faint shadow under its lower edge (in place)."""
    x_frac, bottom, w_cm, h_cm = art
    k = cam.f / z_wall  # px per cm on the wall
    cx = cam.cx + x_frac * cam.size / 2
    y1 = cam.row(bottom + ground, z_wall)
    w, h = w_cm * k, h_cm * k
    x0, y0 = round(cx - w / 2), round(y1 - h)
    x1, y1 = x0 + round(w), round(y1)
    if x1 <= 0 or y1 <= 0 or x0 >= cam.size:
        return
    shadow = np.zeros(wall.shape[:2], np.float32)
    off = round(2.5 * k)
    shadow[max(0, y0 + off):y1 + off, max(0, x0 - side * off):max(0, x1 - side * off)] = 1
    wall *= (1 - 0.35 * cv2.GaussianBlur(shadow, (0, 0), 2 * k))[..., None]
    frame = np.asarray([[0.05, 0.045, 0.04], [0.34, 0.22, 0.12], [0.8, 0.78, 0.74]][int(rng.integers(3))], np.float32)
    paper = load_texture("mypaint-hr-watercolor")
    pw, ph = max(4, x1 - x0), max(4, y1 - y0)
    art_img = cv2.resize(paper, (pw, ph), interpolation=cv2.INTER_AREA) ** 2.2 * 0.9
    mat, border = round(6 * k), max(2, round(2.2 * k))
    inner = art_img[border + mat:ph - border - mat, border + mat:pw - border - mat]
    if inner.size:
        ih, iw = inner.shape[:2]
        hues = rng.uniform(0, 1, 3)
        for j, hue in enumerate(hues):  # a few soft arches and discs in muted colours
            col = np.asarray(cv2.cvtColor(np.uint8([[[hue * 179, 90, 200]]]), cv2.COLOR_HSV2RGB)[0, 0],
                             np.float32) / 255.0
            m = np.zeros((ih, iw), np.float32)
            r = int(iw * rng.uniform(0.18, 0.32))
            c = (int(iw * rng.uniform(0.25, 0.75)), int(ih * rng.uniform(0.3, 0.8)))
            cv2.circle(m, c, r, 1.0, -1, cv2.LINE_AA)
            if j == 0:
                cv2.rectangle(m, (c[0] - r, c[1]), (c[0] + r, ih), 1.0, -1)
            m = cv2.GaussianBlur(m, (0, 0), 1.0)[..., None]
            inner[:] = inner * (1 - 0.8 * m) + (col ** 2.2) * 0.8 * m
    art_img[:border] = art_img[-border:] = frame
    art_img[:, :border] = art_img[:, -border:] = frame
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(cam.size, x1), min(cam.size, y1)
    light = wall[sy0:sy1, sx0:sx1].mean() / max(float(wall.mean()), 1e-4)
    wall[sy0:sy1, sx0:sx1] = art_img[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] * 0.8 * light


# ---------------------------------------------------------------------------------------------
# Props


@dataclass
class Cutout:
    rgba: np.ndarray  # float32 straight colour + alpha, placed on the canvas window
    x0: int
    y0: int
    z: float
    base_row: float
    prop: Prop
    entry: sources.CatalogEntry


def render_prop(renderer: Renderer, entry, prop: Prop, cam: Camera, scene: Scene, rng) -> Cutout | None:
    """Render one model as seen from the scene camera and scale it to its physical size there."""
    model = prepare_model(entry.model_path, entry.rotation, entry.size_cm)
    _w_cm, h_cm, d_cm = entry.size_cm
    ground = prop.on - (TABLE_HEIGHT if prop.room else 0.0)
    # seen from the camera: off-axis angle (an object on the right shows its left side) and height
    az = -math.degrees(math.atan2(prop.x, prop.z)) + prop.yaw
    el = math.degrees(math.atan2(cam.h - (ground + h_cm / 2), prop.z))
    kel = scene.kelvin
    key = Light(scene.side * float(rng.uniform(50, 75)), float(rng.uniform(30, 50)), float(rng.uniform(2.6, 3.4)), kel)
    fill = Light(-scene.side * 70.0, 15.0, 0.9, 7000.0 if kel < 5000 else 5000.0)
    view = View(az, el, 20.0, key, fill, ambient=0.42, frame=0.95)
    res = renderer.render(model, view)
    a = res.rgba[..., 3]
    ys, xs = np.nonzero(a)
    if ys.size == 0:
        return None
    crop = res.rgba[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32) / 255.0
    # projected height: the silhouette spans the height plus the top face seen from above/below
    el_r = math.radians(abs(el))
    h_proj = h_cm * math.cos(el_r) + d_cm * math.sin(el_r)
    z_front = prop.z - d_cm / 2
    target_h = cam.f * h_proj / prop.z
    k = target_h / crop.shape[0]
    ch, cw = max(2, round(crop.shape[0] * k)), max(2, round(crop.shape[1] * k))
    premul = crop.copy()
    premul[..., :3] *= premul[..., 3:4]
    premul = cv2.resize(premul, (cw, ch), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
    premul = np.clip(premul, 0, 1)
    alpha = premul[..., 3:4]
    rgb = np.where(alpha > 1e-4, premul[..., :3] / np.maximum(alpha, 1e-4), 0)
    base = cam.row(ground, z_front)
    u = cam.col(prop.x, prop.z)
    return Cutout(np.dstack([rgb, alpha]).astype(np.float32), round(u - cw / 2), round(base - ch),
                  prop.z, base, prop, entry)


def canvas_layer(c: Cutout, size: int) -> np.ndarray:
    """The cutout as a full-canvas premultiplied RGBA layer (clipped to the canvas)."""
    layer = np.zeros((size, size, 4), np.float32)
    h, w = c.rgba.shape[:2]
    x0, y0 = max(0, c.x0), max(0, c.y0)
    x1, y1 = min(size, c.x0 + w), min(size, c.y0 + h)
    if x1 <= x0 or y1 <= y0:
        return layer
    part = c.rgba[y0 - c.y0:y1 - c.y0, x0 - c.x0:x1 - c.x0]
    layer[y0:y1, x0:x1, :3] = part[..., :3] * part[..., 3:4]
    layer[y0:y1, x0:x1, 3] = part[..., 3]
    return layer


def contact_shadow(c: Cutout, cam: Camera, size: int) -> np.ndarray:
    """Soft darkening of the ground under and around a prop's footprint (H×W in [0, 1])."""
    m = np.zeros((size, size), np.float32)
    w_cm, _, d_cm = c.entry.size_cm
    ground = c.prop.on - (TABLE_HEIGHT if c.prop.room else 0.0)
    # a prop standing on another prop only shadows that one's top: skip, the lower prop has its own
    if c.prop.on > 0:
        return m
    near, far = cam.row(ground, c.prop.z - d_cm / 2), cam.row(ground, c.prop.z + d_cm / 2)
    u = cam.col(c.prop.x, c.prop.z)
    half_w = 0.5 * cam.f * max(w_cm, d_cm) * 0.9 / c.prop.z
    centre = (round(u * 4), round((near + far) / 2 * 4))
    axes = (round(half_w * 4), round(max(2.0, (near - far) / 2 + 2) * 4))
    cv2.ellipse(m, centre, axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA, shift=2)
    core = cv2.GaussianBlur(m, (0, 0), max(2.0, half_w * 0.12))
    wide = cv2.GaussianBlur(m, (0, 0), max(4.0, half_w * 0.45))
    return np.clip(0.55 * core + 0.45 * wide, 0, 1)


def wall_shadow(c: Cutout, cam: Camera, side: int, size: int, distance_cm: float) -> np.ndarray:
    """The prop's silhouette thrown on the wall behind it, away from the key light."""
    layer = canvas_layer(c, size)[..., 3]
    shift = -side * cam.f * distance_cm * 0.35 / c.prop.z
    mat = np.float32([[1, 0, shift], [0, 1, -0.15 * abs(shift)]])
    moved = cv2.warpAffine(layer, mat, (size, size))
    # the further from the wall, the softer and fainter the shadow
    return cv2.GaussianBlur(moved, (0, 0), 6 + 0.15 * abs(shift)) * math.exp(-distance_cm / 70.0)


# ---------------------------------------------------------------------------------------------
# Blur by depth and compositing


def coc_sigma(z, z_focus: float, aperture: float, f: float):
    """Blur sigma (px) of a point at depth z when focused at z_focus: thin-lens circle of confusion."""
    return aperture * f * np.abs(1.0 / np.asarray(z, np.float64) - 1.0 / z_focus)


def over(dst: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA `layer` over an opaque RGB `dst`."""
    return layer[..., :3] + dst * (1.0 - layer[..., 3:4])


def blur_layer(layer: np.ndarray, sigma: float) -> np.ndarray:
    if sigma < 0.3:
        return layer
    if sigma > 6:  # wide blurs at half size: the result is smooth anyway
        h, w = layer.shape[:2]
        small = cv2.resize(layer, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / 2)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(layer, (0, 0), sigma)


def build_scene(scene: Scene, catalog: dict, renderer: Renderer, seed: int, index: int
                ) -> tuple[np.ndarray, list, Camera]:
    rng = np.random.default_rng([seed, index])
    s = SIZE
    cam = make_camera(scene, rng)
    wall_v = scene.wall_row * s
    z_wall_row = float(cam.depth_of_row(np.array([wall_v]))[0])  # depth where the support ends
    z_wall = z_wall_row * (scene.room_depth if scene.kind == "table" else 1.0)
    z_focus = float(cam.depth_of_row(np.array([FOCUS_ROW * s]))[0])
    aperture = scene.wall_blur / (cam.f * abs(1 / z_wall - 1 / z_focus))
    light = light_rgb(scene.kelvin)
    ambient = light_rgb(7200.0 if scene.kelvin < 5000 else 4800.0)
    tint = 0.7 * light + 0.3 * ambient

    # back wall: paint × plaster, lit from the key side, window patch, darker towards the top
    paint = (np.asarray(scene.paint, np.float32) / 255.0) ** 2.2
    wall = wall_plane(cam, z_wall, paint, load_texture(scene.plaster), scene.wall_tile_cm, rng)
    xx = (np.arange(s, dtype=np.float32) + 0.5) / s
    yy = (np.arange(s, dtype=np.float32) + 0.5) / s
    side_grad = 1.0 + 0.28 * (0.5 - scene.side * (xx - 0.5) * 2) - 0.14
    top_dark = 0.82 + 0.18 * np.clip(yy / scene.wall_row, 0, 1) ** 0.7
    wall *= (side_grad[None, :] * top_dark[:, None])[..., None] * tint
    if scene.window > 0:
        wall += (wall * 1.6 * scene.window) * window_patch(cam, scene.side, rng)[..., None] * light
    if scene.art is not None:
        paint_art(wall, cam, z_wall, scene.art, -TABLE_HEIGHT if scene.kind == "table" else 0.0, scene.side, rng)
    if scene.skirting:
        top_v = cam.row(9.0, z_wall)
        band = (yy * s >= top_v) & (yy * s < wall_v + 1)
        board = np.asarray([0.82, 0.81, 0.78], np.float32) * tint * 0.95
        wall[band] = board * side_grad[None, :, None][0]
        lip = (yy * s >= top_v) & (yy * s < top_v + 2)
        wall[lip] *= 1.25
        under = (yy * s >= top_v - 4) & (yy * s < top_v)
        wall[under] *= 0.85

    # support plane: texture in perspective, darker into the corner, glossy reflection of the wall
    tex = load_texture(scene.surface)
    tex = np.clip(tex.mean(axis=(0, 1)) + scene.contrast * (tex - tex.mean(axis=(0, 1))), 0, 1) ** 2.2
    rows = slice(math.floor(wall_v), s)
    if "wood" in scene.surface:  # boards run into the room on floors, across the view on tables
        angle = 0.0 if scene.kind == "floor" else math.pi / 2
    else:
        angle = float(rng.choice([0.0, math.pi / 2]))
    angle += float(rng.uniform(-0.03, 0.03))
    surf = support_plane(cam, tex, scene.tile_cm, rows, tuple(rng.uniform(0, tex.shape[0], 2)), angle)
    z_rows = cam.depth_of_row(np.arange(rows.start, rows.stop) + 0.5)
    shade = 1.0 + 0.18 * (0.5 - scene.side * (xx - 0.5) * 2)[None, :] - 0.09
    if scene.kind != "table":  # occlusion where the support meets the wall
        ao = 1 - 0.35 * np.exp(-(z_wall_row * 1.0001 - z_rows) / (0.08 * z_wall_row))
        shade = shade * ao[:, None]
    surf *= shade[..., None] * tint
    if scene.gloss > 0:
        # mirror: support row v reflects the wall at height cam_h·(z_wall/z − 1)
        y_ref = cam.h * (z_wall / z_rows - 1)
        v_ref = cam.row(y_ref, z_wall).astype(np.float32)
        mapy = np.repeat(v_ref[:, None], s, axis=1)
        mapx = np.repeat(np.arange(s, dtype=np.float32)[None, :], len(z_rows), axis=0)
        refl = cv2.remap(cv2.GaussianBlur(wall, (0, 0), 6), mapx, mapy, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
        fade = np.exp(-np.maximum(y_ref, 0) / 120.0)[:, None, None]
        surf = surf * (1 - scene.gloss * fade) + refl * scene.gloss * fade * 1.1
    if scene.kind == "table":  # the back edge catches a little light
        surf[:2] *= 1.18

    # props, far to near
    cutouts = []
    for spec in scene.props:
        z = spec.z * (z_wall_row if scene.kind == "table" and not spec.room else z_wall)
        prop = replace(spec, x=spec.x * z * (s / 2) / cam.f, z=z)
        entry = catalog[LIBRARY + prop.model]
        # vendored renders: the model's own licence file must say CC0, not just its library
        if sources.licence_in_model_folder(entry.model_path.parent) != "CC0-1.0":
            raise ValueError(f"{entry.id} is not CC0 by its own licence file: pick another model")
        c = render_prop(renderer, entry, prop, cam, scene, rng)
        if c is not None:
            cutouts.append(c)
    cutouts.sort(key=lambda c: (-c.z, c.prop.on))

    # light the props like the room: colour of the light, a little darker away from the key side
    for c in cutouts:
        rgb = c.rgba[..., :3] ** 2.2 * tint * 1.05 * scene.exposure
        u = (c.x0 + c.rgba.shape[1] / 2) / s
        rgb *= 1.0 + 0.12 * (0.5 - scene.side * (u - 0.5) * 2) - 0.06
        c.rgba[..., :3] = rgb

    def gap(c: Cutout) -> float:  # from the back of a prop to the wall, cm
        return max(0.0, z_wall - c.prop.z - c.entry.size_cm[2] / 2) + 8.0

    # shadows: on the wall behind props near it, and under every prop that stands on its ground
    if scene.kind == "table":
        room_img = wall.copy()
        for c in cutouts:
            if c.prop.room:
                room_img *= (1 - 0.22 * wall_shadow(c, cam, scene.side, s, gap(c)))[..., None]
        img = blur_layer(room_img, scene.wall_blur)
        for c in cutouts:
            if c.prop.room:
                img = over(img, blur_layer(canvas_layer(c, s), float(coc_sigma(c.z, z_focus, aperture, cam.f))))
        # the table top as a layer over the room, blurred row by row
        table = np.zeros((s, s, 4), np.float32)
        table[rows.start:, :, :3] = surf
        table[rows.start:, :, 3] = 1.0
        frac = wall_v - rows.start
        table[rows.start, :, 3] = 1 - frac
        table[rows.start, :, :3] *= 1 - frac
        for c in cutouts:
            if not c.prop.room:
                sh = contact_shadow(c, cam, s)
                table[..., :3] *= (1 - 0.5 * sh)[..., None]
        sig = np.where(np.arange(s) < rows.start, coc_sigma(z_wall_row, z_focus, aperture, cam.f),
                       coc_sigma(cam.depth_of_row(np.arange(s) + 0.5), z_focus, aperture, cam.f))
        table = variable_blur_rows(table, np.nan_to_num(sig, nan=0.0, posinf=0.0).astype(np.float32))
        img = over(img, table)
        front = [c for c in cutouts if not c.prop.room]
    else:
        full = np.concatenate([wall[:rows.start], surf])
        on_wall = (np.arange(s) < rows.start)[:, None]
        for c in cutouts:
            full *= (1 - 0.25 * wall_shadow(c, cam, scene.side, s, gap(c)) * on_wall)[..., None]
            full *= (1 - 0.5 * contact_shadow(c, cam, s))[..., None]
        z_all = np.where(np.arange(s) < rows.start, z_wall, cam.depth_of_row(np.arange(s) + 0.5))
        sig = coc_sigma(z_all, z_focus, aperture, cam.f).astype(np.float32)
        img = variable_blur_rows(full, sig)
        front = cutouts
    for c in front:
        img = over(img, blur_layer(canvas_layer(c, s), float(coc_sigma(c.z, z_focus, aperture, cam.f))))

    return finish(img, scene, rng), cutouts, cam


# ---------------------------------------------------------------------------------------------
# Sidecar: what the pipeline needs to know about the backdrop (format product_augment.backdrop/1)

# The props' catalogue ids that show one of the 21 product classes (the rest are furniture the
# classes do not cover: shelves, a bookcase, a bedside table).
PROP_CLASS = {"sofa2": "sofa", "couch2": "sofa", "couch": "sofa", "plant": "plant", "littlePlant": "plant",
              "decorativePlant": "plant", "orchids": "plant", "cactus": "plant", "augalas": "plant",
              "plantie": "plant", "desklamp": "lamp", "wallLight": "lamp", "osakaChair": "chair",
              "armchair2": "chair", "chair2": "chair", "speaker2": "headphones"}
KEY_AZIMUTH = 62.5  # the props' key light comes from 50..75 degrees to the key side (render_prop)
KEY_ELEVATION = 40.0  # 30..50 degrees above the floor


def visible_props(scene: Scene, cutouts: list, cam: Camera) -> list[tuple[Cutout, np.ndarray]]:
    """Each prop's visible silhouette on the canvas (alpha > 0.5 minus what is drawn over it), in
    the order build_scene draws: far to near; on a table scene the table top hides the room's props."""
    s = cam.size
    drawn = [c for c in cutouts if scene.kind != "table" or c.prop.room]
    front = [c for c in cutouts if scene.kind == "table" and not c.prop.room]
    masks = [(c, canvas_layer(c, s)[..., 3] > 0.5) for c in drawn + front]
    if scene.kind == "table":
        table_rows = np.arange(s)[:, None] >= math.floor(scene.wall_row * s)
        masks = [(c, m & ~table_rows) if c.prop.room else (c, m) for c, m in masks]
    out = []
    for i, (c, m) in enumerate(masks):
        for _c2, nearer in masks[i + 1:]:
            m = m & ~nearer
        out.append((c, m))
    return out


def sidecar(scene: Scene, cutouts: list, cam: Camera) -> dict:
    from product_augment.annotations import mask_to_rle

    objects = []
    for c, m in visible_props(scene, cutouts, cam):
        cls = PROP_CLASS.get(c.prop.model)
        if cls is not None and m.any():
            objects.append({"class": cls, "model": c.prop.model, "mask": mask_to_rle(m)})
    return {
        "format": "product_augment.backdrop/1",
        "size": [cam.size, cam.size],
        "horizon": round(cam.cy / cam.size, 6),
        "camera_height_cm": scene.cam_h,
        "support": {"kind": scene.kind, "from": round(scene.wall_row, 4)},
        "light": {"azimuth": -scene.side * KEY_AZIMUTH, "elevation": KEY_ELEVATION, "kelvin": scene.kelvin},
        "gloss": scene.gloss,
        "objects": objects,
        "made_by": "scripts/assets/make_backgrounds.py",
    }


def finish(img: np.ndarray, scene: Scene, rng) -> np.ndarray:
    """Exposure, gentle highlight roll-off, vignette, sRGB, grain."""
    s = img.shape[0]
    img = img * scene.exposure * 1.08
    img = img / (1 + 0.18 * img)  # soft shoulder
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s - 0.5
    img *= (1 - 0.32 * (xx ** 2 + yy ** 2) * 2)[..., None]
    out = np.clip(img, 0, 1) ** (1 / 2.2)
    out = out * 255.0 + rng.normal(0, 1.6, size=(s, s, 1)).astype(np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------


def contact_sheet(images: list[tuple[str, np.ndarray]], out: Path, cols: int = 4, tile: int = 300) -> None:
    rows = math.ceil(len(images) / cols)
    label = 22
    sheet = Image.new("RGB", (cols * tile, rows * (tile + label)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(FONT), 13)
    for i, (name, img) in enumerate(images):
        x, y = (i % cols) * tile, (i // cols) * (tile + label)
        sheet.paste(Image.fromarray(img).resize((tile, tile), Image.LANCZOS), (x, y))
        # the image kind's default floor band [0.8, 0.95], where products stand
        for f in (0.8, 0.95):
            draw.line([(x + tile * 0.3, y + tile * f), (x + tile * 0.7, y + tile * f)], fill=(255, 64, 64), width=1)
        draw.text((x + 4, y + tile + 3), name, fill=(0, 0, 0), font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)


@click.command(help=__doc__)
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "backgrounds", show_default=True)
@click.option("--sheet", type=click.Path(path_type=Path), default=ROOT / "docs/img/backgrounds.png", show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--quality", type=int, default=88, show_default=True)
@click.option("--only", multiple=True, help="a scene name to render (repeatable; default all)")
def main(out: Path, sheet: Path, seed: int, quality: int, only: tuple[str, ...]) -> None:
    catalog = {e.id: e for e in sources.load_catalog()}
    out.mkdir(parents=True, exist_ok=True)
    done = []
    with Renderer(512, supersample=2) as renderer:
        for i, scene in enumerate(SCENES):
            if only and scene.name not in only:
                continue
            img, cutouts, cam = build_scene(scene, catalog, renderer, seed, i)
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=quality, optimize=True)
            path = out / f"{scene.name}.jpg"
            path.write_bytes(buf.getvalue())
            (out / f"{scene.name}.json").write_text(json.dumps(sidecar(scene, cutouts, cam), indent=1) + "\n")
            models = ", ".join(f"'{c.entry.name}' by {c.entry.creator}" for c in cutouts)
            print(f"{path.name}  {len(buf.getvalue()) // 1024} KB  {scene.surface} + {scene.plaster}; {models}")
            done.append((scene.name, img))
    if sheet and not only:
        contact_sheet(done, sheet)
    elif sheet:
        contact_sheet(done, Path("/tmp") / sheet.name)


if __name__ == "__main__":
    main()
