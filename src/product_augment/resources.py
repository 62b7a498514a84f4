"""Where the shipped assets are: textures, logos, background photos, weights, presets, fonts.

They ship as package data under ``product_augment/assets/<name>``. In the repository those entries
(except fonts) are symlinks to the top-level folders, which setuptools follows when it builds a
wheel; so an installed wheel finds its own copies, and an editable install the repository's
folders. The presets' relative paths (``../weights/...``, ``../textures``) hold in both layouts.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parents[1]
NAMES = ("textures", "logos", "backgrounds", "weights", "configs", "fonts")


def checkout_root() -> Path | None:
    """The repository when the package runs from a checkout (its `src/` layout beside
    `pyproject.toml`), else None (an installed wheel): where the data builds keep their folders."""
    return _REPO if (_REPO / "pyproject.toml").is_file() and (_REPO / "src" / "product_augment").is_dir() else None


def asset_dir(name: str) -> Path:
    """The folder of a shipped asset kind: the package's copy when installed, else the repository's."""
    if name not in NAMES:
        raise ValueError(f"unknown asset folder {name!r}; one of {', '.join(NAMES)}")
    packaged = _PACKAGE / "assets" / name
    if packaged.is_dir():
        return packaged.resolve()  # a symlink in the repository resolves to its top-level folder
    return _REPO / name  # a checkout whose symlinks were not made (core.symlinks=false)
