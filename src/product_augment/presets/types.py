"""Field types shared by step configs."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from .errors import did_you_mean


def _base_dir(info: ValidationInfo) -> Path:
    ctx = info.context or {}
    return Path(ctx.get("base_dir", "."))


def _resolve_existing(value: Any, info: ValidationInfo) -> Path:
    p = Path(value).expanduser()
    if not p.is_absolute():
        p = _base_dir(info) / p
    if not p.exists():
        raise ValueError(f"file or folder not found: {p}")
    return p.resolve()


def _parse_color(value: Any) -> tuple[int, int, int]:
    """'#rrggbb', '#rgb', 'white'-style names, or [r, g, b] → an RGB tuple."""
    if isinstance(value, str):
        s = value.strip().lower()
        if s in NAMED_COLORS:
            return NAMED_COLORS[s]
        if s.startswith("#"):
            h = s[1:]
            if len(h) == 3:
                h = "".join(c * 2 for c in h)
            if len(h) == 6:
                try:
                    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
                except ValueError:
                    pass
        raise ValueError(f"{value!r} is not a colour: use '#rrggbb', [r, g, b] or one of "
                         f"{', '.join(sorted(NAMED_COLORS))}{did_you_mean(s, NAMED_COLORS)}")
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
            isinstance(v, int) and 0 <= v <= 255 for v in value):
        return tuple(value)  # type: ignore[return-value]
    raise ValueError(f"{value!r} is not a colour: use '#rrggbb' or [r, g, b] with 0..255 integers")


NAMED_COLORS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255), "black": (0, 0, 0), "catalog": (255, 255, 255),
    "light-grey": (235, 235, 235), "grey": (128, 128, 128), "red": (220, 40, 40),
    "green": (40, 160, 70), "blue": (40, 90, 200), "yellow": (245, 210, 40),
}

# A path in a preset, relative to the preset file, that must exist at load time.
PresetPath = Annotated[Path, AfterValidator(_resolve_existing)]
# An sRGB colour.
Color = Annotated[tuple[int, int, int], BeforeValidator(_parse_color)]
