"""Compositing on a `Sample`: the three things steps do to a picture, each written once.

A picture is in one of three states (`state(sample)`):

* ``"plate"``: a background step put the product on a known plate, so
  ``image == alpha·F + (1 − alpha)·plate`` holds and can be re-composited exactly;
* ``"transparent"``: the output is RGBA; ``output_alpha`` is its coverage;
* ``"photo"``: the original photograph; nothing is known behind the product.

The operations keep every aligned target in sync by construction:

* `place` puts the product on a new canvas: one affine matrix warps the image, the matte, every
  instance mask and every layer (albumentations' "targets" idea), refines the edge and composites
  over the plate (or prepares the transparent output);
* `paint_under` puts a layer (shadow, reflection) behind the product, in whichever state;
* `paint_over` paints an overlay (logo, caption) on top, where it does not cover the product.

A new step that adds something to the picture calls one of these and stays a few lines. All are
deterministic (no random numbers); the steps draw parameters and call them from `apply`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import cv2
import numpy as np

from .ops import shadow_composite as sc
from .ops.composite import composite_over
from .ops.matte import decontaminate, refine_matte
from .ops.overlay import paint, paint_premultiplied
from .ops.placement import roi_of, warp_full, warp_instance, warp_roi
from .ops.shadow import Layer
from .pipeline import SampleError
from .sample import Sample, mask_box

State = Literal["plate", "transparent", "photo"]
NEUTRAL_GREY = (128, 128, 128)


def state(sample: Sample) -> State:
    """Which of the three states the picture is in (see the module docstring)."""
    if sample.output_alpha is not None:
        return "transparent"
    if sample.plate is not None:
        return "plate"
    return "photo"


def solid(size: tuple[int, int], rgb) -> np.ndarray:
    """A one-colour plate of size (w, h) (np.tile of a row: ~3x faster than np.full with a colour)."""
    row = np.empty((1, size[0], 3), np.uint8)
    row[:] = rgb
    return np.tile(row, (size[1], 1, 1))


def blank(sample: Sample) -> np.ndarray:
    """An empty H×W layer matte."""
    return np.zeros(sample.image.shape[:2], dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# place: a new canvas, every target through one matrix


def place(sample: Sample, matrix: np.ndarray, size: tuple[int, int], plate: np.ndarray | None,
          refine: Mapping[str, Any]) -> Sample:
    """The product moved by `matrix` (2×3, source → canvas) onto a canvas of `size` = (w, h).

    `plate` is the new background (H×W×3 uint8), or None for a transparent output. The matte is
    warped, then refined (`refine`: erode, feather, decontaminate); the product's colours are
    resampled (straight colours, weighted by alpha, when the matte came with the file) and, with
    `decontaminate`, freed of the old background. Instance masks and layers go through the same
    matrix; an instance left without a pixel is dropped. Returns the sample on the new canvas in
    state "plate" (`Sample.plate` set) or "transparent" (output_alpha = the refined matte).
    """
    if sample.alpha is None:
        raise SampleError("placing the product needs its matte")
    w, h = size
    m = np.asarray(matrix, dtype=np.float64)
    transparent = plate is None
    alpha = np.zeros((h, w), np.float32)
    if transparent:  # a neutral plate, replaced under the product below
        plate = solid((w, h), NEUTRAL_GREY)
    image = plate.copy()
    box = _matte_box(sample.alpha, threshold=0.0)
    pad = int(np.ceil(2 * refine["feather"])) + 2
    roi = roi_of(m, box, (w, h), pad=pad) if box is not None else None
    if roi is not None:
        x0, y0, x1, y1 = roi
        src_alpha = np.ascontiguousarray(sample.alpha, np.float32)
        a0 = warp_roi(src_alpha, m, roi, cv2.BORDER_CONSTANT)
        straight = sample.meta.get("edge_colors") == "straight"
        if straight:  # RGBA cut-out: colours are F already; resample them weighted by alpha
            fg = _warp_straight(sample.image, src_alpha, box, m, roi, a0)
        else:
            fg = warp_roi(sample.image, m, roi, cv2.BORDER_REPLICATE)
        a = refine_matte(a0, refine["erode"], refine["feather"])
        if refine["decontaminate"]:
            # F is estimated with the matte that describes how the image was mixed (a0), then
            # composited with the refined matte
            fg = decontaminate(fg, a0, straight=straight, cover=a > 0)
        alpha[y0:y1, x0:x1] = a
        if transparent:
            # Under the product the plate is the product's own (decontaminated) colour, so the
            # RGB of every partially transparent pixel is F and the RGBA output has no halo.
            plate[y0:y1, x0:x1] = np.where((a > 0)[..., None], fg, plate[y0:y1, x0:x1])
        image[y0:y1, x0:x1] = composite_over(fg, a, plate[y0:y1, x0:x1])

    # an instance shrunk below a pixel (a speck, or a one-row-thin product on a small canvas)
    # has no mask left: drop it rather than annotate an empty mask with a 0×0 box
    warped = (warp_instance(inst, m, (w, h)) for inst in sample.instances)
    instances = tuple(inst for inst in warped if inst.mask.any())
    if sample.instances and not instances:
        raise SampleError(f"no instance mask keeps a pixel when the product is placed on the "
                          f"{w}×{h} canvas (scale {m[0, 0]:.3g}): it is too small or too thin")
    layers = {k: warp_full(np.ascontiguousarray(v, np.float32), m, (w, h)) for k, v in sample.layers.items()}
    return sample.replace(image=image, alpha=alpha, instances=instances, layers=layers, plate=plate,
                          output_alpha=alpha if transparent else None, floor_y=None)


def product_box(alpha: np.ndarray, threshold: float = 0.02) -> tuple[float, float, float, float] | None:
    """xyxy box (x1, y1 exclusive) of the matte above `threshold`; None when nothing is above."""
    return _matte_box(alpha, threshold)


def _matte_box(alpha: np.ndarray, threshold: float) -> tuple[float, float, float, float] | None:
    box = mask_box(alpha > threshold)
    return None if box[2] <= box[0] else box


def _warp_straight(image: np.ndarray, alpha: np.ndarray, box, m: np.ndarray, roi, a0: np.ndarray
                   ) -> np.ndarray:
    """Warp straight (unassociated) colours: premultiply by alpha, warp, divide by the warped alpha,
    so the undefined colours of transparent pixels never bleed into the product's edge."""
    h, w = alpha.shape
    sx0, sy0 = max(int(np.floor(box[0])) - 2, 0), max(int(np.floor(box[1])) - 2, 0)
    sx1, sy1 = min(int(np.ceil(box[2])) + 2, w), min(int(np.ceil(box[3])) + 2, h)
    crop_a = alpha[sy0:sy1, sx0:sx1]
    pre = image[sy0:sy1, sx0:sx1].astype(np.float32) * crop_a[..., None]
    mc = m.copy()
    mc[:, 2] += m[:, :2] @ np.array([sx0, sy0], np.float64)
    pre = warp_roi(pre, mc, roi, cv2.BORDER_CONSTANT)
    plain = warp_roi(image, m, roi, cv2.BORDER_REPLICATE)
    has = a0 > 1e-4
    out = plain.copy()
    out[has] = np.rint(pre[has] / a0[has, None]).clip(0, 255).astype(np.uint8)
    return out


# ---------------------------------------------------------------------------------------------
# paint_under: a shadow or reflection behind the product


def paint_under(sample: Sample, layer: Layer, name: str, *, shadow: bool,
                color: tuple[int, int, int] | None = None) -> Sample:
    """Put `layer` under the product and record its visible strength as `layers[name]`.

    shadow=True: the layer darkens what is behind (multiplied by `color`/255, or with
    color None by a darker, richer version of the background's own colour). shadow=False: the
    layer is a premultiplied colour (a reflection) laid over what is behind.
    The product's own pixels (alpha 1) keep their bytes in every state.
    """
    if sample.alpha is None:
        raise SampleError(f"the {name} layer goes under the product: it needs the product's matte")
    if layer.matte.size == 0:
        return sample.with_layer(name, blank(sample))
    alpha = sample.alpha.astype(np.float32, copy=False)
    sl = layer.slices
    a = alpha[sl]
    visible = layer.matte * (1.0 - a)            # never over the product itself
    full = blank(sample)
    full[sl] = visible
    image = sample.image
    new_image = image.copy()
    where = state(sample)

    if where == "transparent":
        # The layer goes behind the product into the output alpha; the product covers it by its
        # own coverage, so the layer goes in unmasked.
        if shadow:
            scale, rgb = sc.transparent_shadow_color(_multiplier(None, None, color))
            matte, col = layer.matte * scale, rgb
        else:
            matte, col = layer.matte, layer.color
        new_image[sl], cov_roi = sc.over_transparent(image[sl], sample.output_alpha[sl], matte, col)
        cov = sample.output_alpha.astype(np.float32, copy=True)
        cov[sl] = cov_roi
        return sample.replace(image=new_image, output_alpha=cov).with_layer(name, full)

    if where == "plate":
        # Shade the plate (behind the product too), then swap it in under the product exactly.
        plate = sample.plate[sl]
        if shadow:
            new_plate = sc.shade(plate, layer.matte, _multiplier(plate, visible, color))
        else:
            new_plate = sc.reflect_onto(plate, layer.matte, layer.color)
        new_bg = sample.plate.copy()
        new_bg[sl] = new_plate
        new_image[sl] = sc.recomposite(image[sl], a, plate, new_plate)
        return sample.replace(image=new_image, plate=new_bg).with_layer(name, full)

    # Original photo: only the pixels around the product are darkened (or reflected onto).
    if shadow:
        new_image[sl] = sc.darken_around(image[sl], visible, _multiplier(image[sl], visible, color))
    else:
        new_image[sl] = sc.reflect_around(image[sl], a, layer.matte, layer.color)
    return sample.replace(image=new_image).with_layer(name, full)


def _multiplier(region: np.ndarray | None, weight: np.ndarray | None, color: tuple | None) -> np.ndarray:
    """Shadow colour factor: from `color`, else from the colour under the shadow (white if unknown)."""
    if region is None:
        return sc.shadow_multiplier(np.full((1, 1, 3), 255.0, np.float32), np.ones((1, 1), np.float32), color)
    return sc.shadow_multiplier(region, weight, color)


# ---------------------------------------------------------------------------------------------
# paint_over: an overlay on top


def paint_over(sample: Sample, rgb: np.ndarray, a: np.ndarray, box: tuple[int, int, int, int],
               name: str) -> Sample:
    """Paint an overlay (rgb h×w×3 uint8, coverage `a` h×w float32) into `box` (x0, y0, x1, y1)
    and record its matte as `layers[name]`. The caller places it off the product; on a plate the
    overlay is painted into the plate too, so ``image == alpha·F + (1 − alpha)·plate`` still
    holds for later re-compositing."""
    x0, y0, x1, y1 = box
    matte = blank(sample)
    matte[y0:y1, x0:x1] = a
    changes: dict[str, Any] = {}
    if state(sample) == "transparent":
        changes["image"], changes["output_alpha"] = paint_premultiplied(
            sample.image, sample.output_alpha, rgb, a, tuple(box))
    else:
        changes["image"] = paint(sample.image, rgb, a, tuple(box))
    if sample.plate is not None:
        changes["plate"] = paint(sample.plate, rgb, a, tuple(box))
    return sample.replace(**changes).with_layer(name, matte)
