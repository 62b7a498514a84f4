"""Putting a shadow or reflection layer into a picture, in each of the three ways a sample can be.

* background plate known: shade the plate (`shade`, `reflect_onto`), then `recomposite` the
  picture with it, which leaves product pixels (alpha 1) byte for byte;
* transparent picture: put the layer behind it with `over_transparent` (coverage goes up);
* original photo: `darken_around` / `reflect_around` the product, weighted by 1 - alpha.

Shadows multiply the background by a colour taken from the background itself
(`shadow_multiplier`), as a shadow on coloured paper is a darker, richer version of the paper.
Pure numpy/OpenCV, no randomness.
"""
from __future__ import annotations

import cv2
import numpy as np


def shadow_multiplier(region: np.ndarray, weight: np.ndarray, color: tuple[int, int, int] | None,
                      depth: float = 0.2) -> np.ndarray:
    """Per-channel factor a fully dense shadow multiplies the background by.

    color None ("auto"): a darker, more saturated version of the background's own colour (weighted
    mean of `region` under `weight`), as on coloured paper where the shadow keeps the paper's hue.
    Otherwise color / 255.
    """
    if color is not None:
        return np.asarray(color, dtype=np.float32) / 255.0
    # every 4th pixel each way is plenty for a mean colour
    weight, region = weight[::4, ::4], region[::4, ::4].astype(np.float32)
    wsum = float(weight.sum())
    if wsum <= 1e-6:
        mean = region.reshape(-1, 3).mean(axis=0) if region.size else np.full(3, 255.0)
    else:
        mean = np.tensordot(weight, region, axes=([0, 1], [0, 1])) / wsum
    mean = np.maximum(np.asarray(mean, dtype=np.float32), 1.0)
    hue = mean / mean.max()
    return (depth * hue ** 1.5).astype(np.float32)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    x += 0.5
    np.clip(x, 0.0, 255.0, out=x)
    return x.astype(np.uint8)


def shade(plate: np.ndarray, matte: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
    """A uint8 plate darkened by a shadow: B·(1 - S·(1 - m)), rounded.

    Done in 8-bit fixed point (S and the factor to 1/255), within one level of the float result
    and about 3× faster; S = 0 leaves the plate byte for byte.
    """
    s8 = cv2.convertScaleAbs(matte, alpha=255.0)
    # factor_c = 255·(1 + S·(m_c - 1)) as one 1→3 channel affine transform of 255·S
    k = np.column_stack([np.asarray(multiplier, np.float32) - 1.0, np.full(3, 255.0, np.float32)])
    return cv2.multiply(plate, cv2.transform(s8[..., None], k), scale=1 / 255)


def reflect_onto(plate: np.ndarray, matte: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Premultiplied reflection `color` with coverage `matte` over a uint8 plate, rounded."""
    out = plate * (1.0 - matte)[..., None]
    return cv2.add(out, color, dtype=cv2.CV_8U)


def recomposite(image: np.ndarray, alpha: np.ndarray, plate: np.ndarray, new_plate: np.ndarray) -> np.ndarray:
    """The picture with its background plate replaced: image + (1-α)(B' - B), rounded to uint8.

    Where α = 1 the product's bytes are untouched and where α = 0 the change is exactly B' - B.
    8-bit fixed point ((1-α) to 1/255), within one level of the float result.
    """
    w = cv2.convertScaleAbs(alpha, alpha=-255.0, beta=255.0)     # round(255·(1-α))
    w3 = cv2.merge([w, w, w])
    lighter = cv2.multiply(cv2.subtract(new_plate, plate), w3, scale=1 / 255)
    darker = cv2.multiply(cv2.subtract(plate, new_plate), w3, scale=1 / 255)
    return cv2.subtract(cv2.add(image, lighter), darker)


def darken_around(image: np.ndarray, visible: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
    """An original photo (no plate) darkened by a shadow that is already masked by 1-α."""
    return shade(image, visible, multiplier)


def reflect_around(image: np.ndarray, alpha: np.ndarray, matte: np.ndarray, color: np.ndarray) -> np.ndarray:
    """An original photo with a reflection put over the pixels around the product (weight 1-α)."""
    img = image.astype(np.float32)
    free = (1.0 - alpha)[..., None]
    change = color - matte[..., None] * img
    change *= free
    img += change
    return _to_uint8(img)


def over_transparent(rgb: np.ndarray, coverage: np.ndarray, matte: np.ndarray,
                     color: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put a layer behind an RGBA picture: the picture (straight rgb uint8, coverage A) goes over
    the layer (premultiplied float `color`, coverage `matte`). Returns (rgb uint8, coverage).

    `color` may also be one RGB triple, meaning `matte` × that colour. Where A = 1 the bytes and
    coverage stay exactly as they were; where both coverages are ~0 the rgb is meaningless.
    """
    a = coverage.astype(np.float32, copy=False)
    behind = (1.0 - a) * matte
    if np.ndim(color) == 1:
        straight = np.empty_like(rgb)
        straight[:] = np.clip(np.rint(np.asarray(color, np.float32)), 0, 255).astype(np.uint8)
    else:
        straight = cv2.convertScaleAbs(color / np.maximum(matte, 1e-6)[..., None])
    # (A·rgb + (1-A)·M·layer) / (A + (1-A)·M): the "over" operator in straight colour
    return cv2.blendLinear(rgb, straight, a, behind), a + behind


def transparent_shadow_color(multiplier: np.ndarray) -> tuple[float, np.ndarray]:
    """(coverage scale, rgb) that makes a shadow over white look like multiplying by `multiplier`.

    Coverage is set by the darkest channel, so every channel's colour stays in 0..255 and a
    shadow of strength S over white gives exactly 255·(1 - S·(1 - m)).
    """
    scale = 1.0 - float(np.min(multiplier))
    if scale <= 1e-6:
        return 0.0, np.zeros(3, dtype=np.float32)
    rgb = 255.0 * (1.0 - (1.0 - multiplier) / scale)
    return scale, np.clip(rgb, 0.0, 255.0).astype(np.float32)
