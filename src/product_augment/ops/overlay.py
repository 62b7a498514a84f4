"""Overlays (logos, stickers, captions) as RGBA arrays: premultiplied resizing, caption rendering
and painting onto an image. No randomness, no file I/O (fonts come in as loaded objects)."""
from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .composite import composite_over


def resize_rgba(rgba: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """RGB (uint8) and alpha (float32 0..1) of `rgba` resized to `size` = (w, h).

    Resampling is done on premultiplied colour so transparent pixels' RGB (often black) does not
    bleed into the edge."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    pre = rgba[..., :3].astype(np.float32) * a
    interp = cv2.INTER_AREA if size[0] < rgba.shape[1] else cv2.INTER_CUBIC
    pre = cv2.resize(pre, size, interpolation=interp)
    a = np.clip(cv2.resize(a, size, interpolation=interp), 0.0, 1.0)
    if a.ndim == 2:
        a = a[..., None]
    rgb = np.clip(pre / np.maximum(a, 1e-4), 0, 255)
    return np.rint(rgb).astype(np.uint8), a[..., 0]


def caption_size(font: ImageFont.FreeTypeFont, text: str, badge: str) -> tuple[int, int]:
    """(w, h) of the caption rendered at the font's size."""
    x0, y0, x1, y1 = font.getbbox(text)
    return _badge_size(x1 - x0, y1 - y0, font.size, badge)


def _badge_size(tw: int, th: int, size: int, badge: str) -> tuple[int, int]:
    if badge == "circle":
        d = int(np.ceil(np.hypot(tw, th) + 0.5 * size))
        return d, d
    padx = 0.6 * size if badge == "pill" else 0.4 * size
    pady = 0.28 * size if badge != "none" else 0.08 * size
    return int(np.ceil(tw + 2 * padx)), int(np.ceil(th + 2 * pady))


def render_caption(font: ImageFont.FreeTypeFont, text: str, badge: str,
                   text_rgb: tuple[int, int, int], badge_rgb: tuple[int, int, int]) -> np.ndarray:
    """H×W×4 uint8 caption: text on a badge ("none", "rounded", "pill", "circle") at the font's size.

    With no badge the text gets a thin outline in the badge colour so it reads on any background."""
    x0, y0, x1, y1 = font.getbbox(text)
    tw, th = x1 - x0, y1 - y0
    w, h = _badge_size(tw, th, font.size, badge)
    img = Image.new("RGBA", (w, h), tuple(badge_rgb) + (0,))
    d = ImageDraw.Draw(img)
    if badge == "rounded":
        d.rounded_rectangle((0, 0, w - 1, h - 1), radius=int(0.22 * h), fill=tuple(badge_rgb) + (255,))
    elif badge == "pill":
        d.rounded_rectangle((0, 0, w - 1, h - 1), radius=h // 2, fill=tuple(badge_rgb) + (255,))
    elif badge == "circle":
        d.ellipse((0, 0, w - 1, h - 1), fill=tuple(badge_rgb) + (255,))
    stroke = max(1, font.size // 14) if badge == "none" else 0
    d.text(((w - tw) / 2 - x0, (h - th) / 2 - y0), text, font=font, fill=tuple(text_rgb) + (255,),
           stroke_width=stroke, stroke_fill=tuple(badge_rgb) + (255,))
    return np.asarray(img)


def paint(image: np.ndarray, rgb: np.ndarray, alpha: np.ndarray,
          box: tuple[int, int, int, int]) -> np.ndarray:
    """A copy of `image` with an overlay (rgb h×w×3 uint8, alpha h×w float32) composited into `box`."""
    x0, y0, x1, y1 = box
    out = image.copy()
    out[y0:y1, x0:x1] = composite_over(rgb, alpha, image[y0:y1, x0:x1])
    return out


def paint_premultiplied(image: np.ndarray, cov: np.ndarray, rgb: np.ndarray, alpha: np.ndarray,
                        box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Overlay onto an RGBA picture (image + coverage `cov`), the Porter-Duff `over` with
    un-premultiplied storage: returns the new image and coverage."""
    x0, y0, x1, y1 = box
    out, cout = image.copy(), cov.copy()
    a_l = alpha.astype(np.float32)
    a_b = cov[y0:y1, x0:x1].astype(np.float32)
    a_o = a_l + a_b * (1.0 - a_l)
    num = rgb.astype(np.float32) * a_l[..., None] + \
        image[y0:y1, x0:x1].astype(np.float32) * (a_b * (1.0 - a_l))[..., None]
    col = num / np.maximum(a_o, 1e-6)[..., None]
    out[y0:y1, x0:x1] = np.where((a_o > 0)[..., None], np.clip(np.rint(col), 0, 255), image[y0:y1, x0:x1])
    cout[y0:y1, x0:x1] = a_o
    return out, cout


def load_font(data: bytes, size: int) -> ImageFont.FreeTypeFont:
    """A font at `size` from the bytes of a TTF/OTF file (read once at build time)."""
    return ImageFont.truetype(io.BytesIO(data), size=size)
