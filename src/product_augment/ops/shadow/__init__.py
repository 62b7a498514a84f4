"""Shadow and reflection kernels: contact line, mirror reflection, cast drop shadow.

Pure numpy/OpenCV, no randomness. Mattes are float32 in [0, 1]. A "line" y is the boundary
between image rows y-1 and y: the product's contact line is the row just below its lowest opaque
pixel, so a reflection about line y maps row y-1-i to row y+i.

Both blur with distance from the contact line (`ops.variable_blur`); putting the result into the
picture is `ops.shadow_composite`.
"""
from __future__ import annotations

from .drop import contact_matte, drop_shadow, footprint_width, light_shear, reach_back
from .footprint import (
    MAX_FLOOR_SLOPE,
    OPAQUE,
    VISIBLE,
    Footprint,
    Layer,
    contact_line,
    find_footprint,
    premultiplied,
)
from .mirror import (
    contact_outline,
    fade_weights,
    mirror_reflection,
    mirror_reflection_outline,
    reflect_matte,
    reflect_rows,
)
from .products import merge_layers, split_products

__all__ = [
    "MAX_FLOOR_SLOPE", "OPAQUE", "VISIBLE", "Footprint", "Layer", "contact_line", "contact_matte", "contact_outline",
    "drop_shadow", "fade_weights", "find_footprint", "footprint_width", "light_shear", "merge_layers",
    "mirror_reflection", "mirror_reflection_outline", "premultiplied", "reach_back", "reflect_matte", "reflect_rows",
    "split_products",
]
