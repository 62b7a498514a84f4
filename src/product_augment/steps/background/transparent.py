"""Kind `transparent`: no plate, an RGBA output."""
from __future__ import annotations

from .base import _Background


class TransparentBackground(_Background):
    """No plate: an RGBA output whose alpha is the product's matte."""

    uses = frozenset()

    def render_plate(self, p, size):
        return None
