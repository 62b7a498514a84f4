"""Photographic backdrops for the `image` background kind: perspective views of a CC0 panorama.

    python scripts/assets/make_photo_backdrops.py --pano PATH/spruit_sunrise_4k.hdr.jpg \
        [--out backgrounds] [--sheet /tmp/photo-backdrops.png]

Source: Poly Haven's "Spruit Sunrise" HDRI (Greg Zaal, CC0), as the 4096×2048 Ultra HDR JPEG that three.js
ships as `examples/textures/equirectangular/spruit_sunrise_4k.hdr.jpg` (the same file is vendored by other
repositories; the one used here has the SHA-256 in PANO_SHA256). Only the JPEG's primary, standard-range
picture is read (the gain map is ignored): it is already tone-mapped for display.

Each view is a level pinhole camera at the panorama's centre whose principal point is shifted down
(a rising-front / shift lens), so the horizon lies at row `horizon`·H and the rest of the frame shows
the ground. That keeps the sidecar's model exact: a thing standing on the ground at image row y
measures (y − horizon·H) / camera_height_cm pixels per centimetre.

Sidecar fields and where they come from (format product_augment.backdrop/1, plus `kind: photo`):
- horizon: the camera's principal point, exact for a level panorama (Poly Haven levels its HDRIs).
- camera_height_cm: the tripod height is not published; 160 cm is assumed (a standing photographer's
  eye level, Poly Haven's usual capture height). Every size in the scene scales with it.
- support: the ground (`floor`), usable from the row where the ground is 12 m away.
- light.azimuth / elevation: the sun, found in the panorama as the centroid of the brightest pixels
  of the Ultra HDR gain map (the gain is largest where the scene is brightest: the sun's disc; about
  8° above the horizon in this sunrise), expressed relative to the view's direction in the convention
  of ops/shadow/drop.light_shear (0 from the camera's side, 90 from the left, 180 from behind the scene).
- light.kelvin: the black body whose colour best matches the sunlit side of the ground/sky near the
  sun (ratio of the channels), rounded to 100 K.
- gloss: grass and dirt, not glossy: 0.
- objects: none; every view was checked by eye for the 21 product classes (the field holds trees,
  power pylons and a fence; no furniture, plant pot, lamp or other product class).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import click
import cv2
import numpy as np
from PIL import Image, ImageDraw

from product_augment.data.render import kelvin_to_rgb

ROOT = Path(__file__).resolve().parents[2]
SIZE = 1024
PANO_SHA256 = "49372dff4f9db4aab995f0a22462df4c25d31d5ac16ce9620b7e69d2dac69ddd"
PANO_NAME = "spruit_sunrise_4k.hdr.jpg"
CAMERA_HEIGHT_CM = 160.0
SUPPORT_DISTANCE_CM = 1200.0  # the support is usable from the row where the ground is this far away
MIN_ELEVATION = 5.0  # the sidecar's smallest allowed light elevation


@dataclass(frozen=True)
class View:
    name: str
    off_sun: float  # the sun's direction seen from the view's axis, degrees, + = to the right
    hfov: float  # horizontal field of view, degrees
    horizon: float  # horizon row, fraction of the height


# Named by where the sun stands relative to the view's axis. Only views lit from the side or from
# behind the scene: with the sun 8 degrees high, a product's shadow is 7 times its height, and with
# the sun behind the camera (light azimuth within 60 degrees of 0) the drop shadow's shear (no
# perspective) would run it past the horizon into the sky; those views (sun 150 to 210 degrees off
# the axis) are left out.
VIEWS: tuple[View, ...] = (
    View("photo-field-sun-left30", -30, 70, 0.34),
    View("photo-field-sun-right30", 30, 70, 0.34),
    View("photo-field-sun-left45", -45, 64, 0.38),
    View("photo-field-sun-right45", 45, 64, 0.38),
    View("photo-field-sun-left60", -60, 72, 0.36),
    View("photo-field-sun-right60", 60, 72, 0.36),
    View("photo-field-sun-left90", -90, 68, 0.33),
    View("photo-field-sun-right90", 90, 68, 0.33),
    View("photo-field-sun-left120", -120, 74, 0.37),
    View("photo-field-sun-right120", 120, 74, 0.37),
)


def wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def load_pano(path: Path) -> np.ndarray:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != PANO_SHA256:
        raise click.ClickException(f"{path}: SHA-256 {digest} is not the expected {PANO_SHA256}")
    with Image.open(io.BytesIO(data)) as im:  # the primary (standard-range) picture of the Ultra HDR JPEG
        return np.asarray(im.convert("RGB"))


def gain_map(path: Path) -> np.ndarray | None:
    """The Ultra HDR JPEG's gain map (the second JPEG in the file), as luminance; None without one."""
    data = path.read_bytes()
    start = data.find(b"\xff\xd8\xff", 1)
    if start < 0:
        return None
    with Image.open(io.BytesIO(data[start:])) as im:
        return np.asarray(im.convert("L"))


def sun_position(pano: np.ndarray, gain: np.ndarray | None) -> tuple[float, float, str]:
    """(longitude, latitude) in degrees of the sun, and how it was found: the centroid of the gain
    map's brightest pixels (within 3 levels of its maximum: where the scene is brightest above the
    standard-range picture), else of the largest clipped region of the picture's upper half."""
    if gain is not None:
        h, w = gain.shape
        ys, xs = np.nonzero(gain >= int(gain.max()) - 3)
        how = f"centroid of the Ultra HDR gain map's {len(xs)} brightest pixels"
        cx, cy = xs.mean(), ys.mean()
    else:
        h, w = pano.shape[:2]
        clipped = (pano[: h // 2].min(axis=2) >= 250).astype(np.uint8)
        n, _labels, stats, centroids = cv2.connectedComponentsWithStats(clipped, connectivity=8)
        if n < 2:
            raise click.ClickException("no clipped region in the upper half: cannot place the sun")
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        cx, cy = centroids[k]
        how = "centroid of the picture's largest clipped region"
    return (cx + 0.5) / w * 360.0 - 180.0, 90.0 - (cy + 0.5) / h * 180.0, how


def sun_kelvin(pano: np.ndarray, lon: float, lat: float) -> float:
    """Colour temperature of the bright, unclipped ring around the sun (5–20° away)."""
    h, w = pano.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    plon = (xx + 0.5) / w * 360.0 - 180.0
    plat = 90.0 - (yy + 0.5) / h * 180.0
    dlon = np.radians((plon - lon + 180.0) % 360.0 - 180.0)
    cosd = (np.sin(np.radians(plat)) * math.sin(math.radians(lat))
            + np.cos(np.radians(plat)) * math.cos(math.radians(lat)) * np.cos(dlon))
    dist = np.degrees(np.arccos(np.clip(cosd, -1, 1)))
    px = pano.astype(np.float32) / 255.0
    ring = (dist > 5) & (dist < 20) & (px.max(axis=2) < 0.98) & (px.max(axis=2) > 0.5)
    lin = px[ring] ** 2.2
    rgb = lin.mean(axis=0)
    target = np.log(rgb / rgb[1])
    best, err = 5000.0, float("inf")
    for k in range(2000, 10001, 100):
        c = np.asarray(kelvin_to_rgb(float(k)))
        e = float(np.sum((np.log(c / c[1]) - target)[[0, 2]] ** 2))
        if e < err:
            best, err = float(k), e
    return best


def render_view(pano: np.ndarray, yaw: float, hfov: float, horizon: float, size: int = SIZE) -> np.ndarray:
    """A level pinhole view looking at longitude `yaw`, its principal point at row horizon·size."""
    h, w = pano.shape[:2]
    f = (size / 2) / math.tan(math.radians(hfov) / 2)
    cx, cy = size / 2 - 0.5, horizon * size - 0.5
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    dx, dy = xs - cx, -(ys - cy)
    psi = math.radians(yaw)
    wx = dx * math.cos(psi) + f * math.sin(psi)
    wz = -dx * math.sin(psi) + f * math.cos(psi)
    lon = np.arctan2(wx, wz)
    lat = np.arctan2(dy, np.hypot(wx, wz))
    map_x = ((lon + math.pi) / (2 * math.pi) * w - 0.5).astype(np.float32)
    map_y = ((math.pi / 2 - lat) / math.pi * h - 0.5).astype(np.float32)
    # wrap around the seam: pad the panorama by a few columns on both sides
    pad = 8
    padded = np.concatenate([pano[:, -pad:], pano, pano[:, :pad]], axis=1)
    return cv2.remap(padded, map_x + pad, map_y, interpolation=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)


def sidecar(view: View, sun_lon: float, sun_lat: float, how: str, yaw: float, kelvin: float) -> dict:
    f = (SIZE / 2) / math.tan(math.radians(view.hfov) / 2)
    support_from = view.horizon + f * CAMERA_HEIGHT_CM / SUPPORT_DISTANCE_CM / SIZE
    # where the sun is relative to the view (+ right), then the shadow code's azimuth: 0 = from the
    # camera's side, 90 = from the left, -90 = from the right, 180 = from behind the scene
    rel = wrap(sun_lon - yaw)
    azimuth = wrap(rel - 180.0)
    contact = 0.875 * SIZE
    return {
        "format": "product_augment.backdrop/1",
        "kind": "photo",
        "size": [SIZE, SIZE],
        "horizon": round(view.horizon, 6),
        "camera_height_cm": CAMERA_HEIGHT_CM,
        "support": {"kind": "floor", "from": round(support_from, 4)},
        "light": {"azimuth": round(azimuth, 2), "elevation": round(max(MIN_ELEVATION, sun_lat), 2),
                  "kelvin": kelvin},
        "gloss": 0.0,
        "objects": [],
        "estimated": {
            "light": f"the sun in the panorama ({how}): {sun_lat:.1f} deg above the horizon, {rel:+.1f} deg "
                     f"from the view's axis (+ = right); kelvin from the colour of the unclipped ring 5-20 deg "
                     f"around it",
            "camera_height_cm": "assumed: a standing photographer's eye level (the capture height is not "
                                "published); sizes scale with it",
            "horizon": "exact: a level camera whose principal point is at this row (shift lens)",
            "px_per_cm_at_row_0.875": round((contact - view.horizon * SIZE) / CAMERA_HEIGHT_CM, 3),
            "support_from": f"the row where the ground is {SUPPORT_DISTANCE_CM / 100:g} m away",
            "gloss": "grass and dirt: matte",
            "objects": "checked by eye: no object of the 21 classes in the view",
        },
        "source": {"asset": "Poly Haven 'Spruit Sunrise' (Greg Zaal), CC0-1.0",
                   "file": PANO_NAME, "sha256": PANO_SHA256,
                   "view": {"yaw_deg": round(yaw, 3), "hfov_deg": view.hfov, "horizon": view.horizon}},
        "made_by": "scripts/assets/make_photo_backdrops.py",
    }


def contact_sheet(images: list[tuple[str, np.ndarray, float]], out: Path, cols: int = 4, tile: int = 300) -> None:
    rows = math.ceil(len(images) / cols)
    label = 18
    sheet = Image.new("RGB", (cols * tile, rows * (tile + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, img, az) in enumerate(images):
        x, y = (i % cols) * tile, (i // cols) * (tile + label)
        sheet.paste(Image.fromarray(img).resize((tile, tile), Image.LANCZOS), (x, y))
        draw.text((x + 4, y + tile + 3), f"{name} az {az:+.0f}", fill=(0, 0, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


@click.command(help=__doc__)
@click.option("--pano", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help=f"the panorama, {PANO_NAME}")
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "backgrounds", show_default=True)
@click.option("--sheet", type=click.Path(path_type=Path), default=None, help="also write a contact sheet here")
@click.option("--quality", type=int, default=85, show_default=True)
def main(pano: Path, out: Path, sheet: Path | None, quality: int) -> None:
    img = load_pano(pano)
    sun_lon, sun_lat, how = sun_position(img, gain_map(pano))
    kelvin = sun_kelvin(img, sun_lon, sun_lat)
    print(f"sun at longitude {sun_lon:.2f}, latitude {sun_lat:.2f}; {kelvin:.0f} K")
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for v in VIEWS:
        yaw = wrap(sun_lon - v.off_sun)  # the sun then stands off_sun degrees right of the axis
        view = render_view(img, yaw, v.hfov, v.horizon)
        buf = io.BytesIO()
        Image.fromarray(view).save(buf, format="JPEG", quality=quality, optimize=True)
        (out / f"{v.name}.jpg").write_bytes(buf.getvalue())
        side = sidecar(v, sun_lon, sun_lat, how, yaw, kelvin)
        (out / f"{v.name}.json").write_text(json.dumps(side, indent=1) + "\n")
        print(f"{v.name}.jpg  {len(buf.getvalue()) // 1024} KB  yaw {yaw:+.1f}  light az {side['light']['azimuth']:+.1f}")
        done.append((v.name, view, side["light"]["azimuth"]))
    if sheet:
        contact_sheet(done, sheet)


if __name__ == "__main__":
    main()
