"""Dominant colours of the product: k-means in CIELAB over a fixed-size sample of product pixels.

Preset:
    - palette: {k: 4, max_pixels: 3000}

Why k = 4 by default: a product photo is typically one body colour, one or two accents (label,
sole, strap) and its shading/highlight. Four clusters separate those without splitting the main
colour into many near-duplicates; clusters under ~10 % share are then ignored by the background's
contrast rule (`min_share`), so a too-large k costs little while a too-small one merges an accent
into the body. Pixels are subsampled to `max_pixels` (3000 by default: the centroids' error is
~1/sqrt(n) of the cluster spread, well under 1 ΔE) so the step costs ~2 ms at any image size.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..ops.color import lab_to_srgb, srgb_to_lab
from ..pipeline import ParamStep
from ..presets.fields import ConfigModel
from ..presets.sampling import Draws
from ..sample import PaletteColor, Sample


class PaletteConfig(ConfigModel):
    kind: Literal["kmeans"] = "kmeans"
    k: int = Field(4, ge=1, le=12, description="number of k-means clusters")
    max_pixels: int = Field(3000, ge=100, le=100_000, description="product pixels sampled for k-means")
    alpha_threshold: float = Field(0.5, gt=0, lt=1, description="alpha above this is a product pixel")


Config = PaletteConfig


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, max_iter: int = 100, tol: float = 1e-4
           ) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with greedy k-means++ seeding: centres (k×d) and labels (N) of the rows of `x`.

    The algorithm scikit-learn's `KMeans(n_init=1)` runs (greedy seeding with 2 + ln k candidates
    per centre; an emptied cluster is moved to the point farthest from its centre), in plain numpy
    on a few thousand points (~2 ms): no thread pool, so the same bytes on any machine and core
    count, and no scikit-learn import (~2 s) before the first image. It draws from `rng`, not
    scikit-learn's generator, so centres match scikit-learn's in quality, not in their bits. Stops
    when the centres move less than `tol` × the data's total variance (squared, summed).
    """
    x = np.asarray(x, np.float64)
    n = len(x)
    centers = np.empty((k, x.shape[1]))
    centers[0] = x[rng.integers(n)]
    d2 = ((x - centers[0]) ** 2).sum(axis=1)
    trials = 2 + int(np.log(k))
    for j in range(1, k):
        # candidates with probability ∝ squared distance; keep the one that lowers the cost most
        cum = np.cumsum(d2)
        if cum[-1] > 0:
            cand = np.minimum(np.searchsorted(cum, rng.uniform(0.0, cum[-1], trials), side="right"), n - 1)
        else:
            cand = rng.integers(n, size=trials)
        cand_d2 = np.minimum(d2[None, :], ((x[None, :, :] - x[cand][:, None, :]) ** 2).sum(axis=2))
        best = int(np.argmin(cand_d2.sum(axis=1)))
        centers[j] = x[cand[best]]
        d2 = cand_d2[best]
    limit = tol * float(x.var(axis=0).sum())
    labels = _nearest(x, centers)
    for _ in range(max_iter):
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, weights=x[:, d], minlength=k) for d in range(x.shape[1])], axis=1)
        moved = sums / np.maximum(counts, 1)[:, None]
        empty = np.flatnonzero(counts == 0)
        if empty.size:  # relocate emptied clusters to the points farthest from their centres
            far = np.argsort(-((x - centers[labels]) ** 2).sum(axis=1), kind="stable")[: empty.size]
            moved[empty] = x[far]
        shift = float(((moved - centers) ** 2).sum())
        centers = moved
        labels = _nearest(x, centers)
        if shift <= limit:
            break
    return centers, labels


def _nearest(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre of each row (squared distances summed per column, elementwise:
    no BLAS, so no machine-dependent last bits)."""
    cols = x.T
    d = np.empty((len(centers), len(x)))
    for j, c in enumerate(centers):
        dj = d[j]
        np.subtract(cols[0], c[0], out=dj)
        dj *= dj
        for a in range(1, len(c)):
            t = cols[a] - c[a]
            t *= t
            dj += t
    return d.argmin(axis=0)


def kmeans_palette(lab: np.ndarray, k: int, seed: int, distinct: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (k'×3 Lab) and shares (k') of `lab` (N×3), sorted by share, largest first.

    k' <= k: with fewer `distinct` colours than k, k-means would return duplicate centres, so k is
    capped at the number of distinct samples.
    """
    if distinct is None:
        distinct = np.unique(np.round(lab, 3), axis=0).shape[0]
    k = max(1, min(k, distinct))
    centers, labels = kmeans(lab, k, np.random.default_rng(seed))
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    keep = counts > 0
    centers, counts = centers[keep], counts[keep]
    order = np.argsort(-counts, kind="stable")
    return centers[order], counts[order] / counts.sum()


class PaletteStep(ParamStep):
    name = "palette"
    requires = frozenset({"alpha"})
    provides = frozenset({"palette"})

    def __init__(self, config: PaletteConfig):
        self.config = config

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        cfg = self.config
        idx = np.flatnonzero(sample.alpha.ravel() > cfg.alpha_threshold)
        if idx.size == 0:
            return {"k": cfg.k, "pixels": 0, "colors": []}
        draws = Draws(rng)
        if idx.size > cfg.max_pixels:
            idx = idx[draws.rng("pixels").integers(0, idx.size, size=cfg.max_pixels)]
        seed = int(draws.rng("kmeans").integers(0, 2**31 - 1))
        rgb = sample.image.reshape(-1, 3)[idx]
        packed = (rgb[:, 0].astype(np.int32) << 16) | (rgb[:, 1].astype(np.int32) << 8) | rgb[:, 2]
        centers, shares = kmeans_palette(srgb_to_lab(rgb), cfg.k, seed, distinct=np.unique(packed).size)
        colors = [{"rgb": [int(v) for v in c_rgb], "lab": [round(float(v), 4) for v in c_lab],
                   "share": round(float(s), 6)}
                  for c_rgb, c_lab, s in zip(lab_to_srgb(centers), centers, shares)]
        return {"k": cfg.k, "pixels": int(idx.size), "seed": seed, "colors": colors}

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        palette = tuple(PaletteColor(tuple(c["rgb"]), tuple(c["lab"]), float(c["share"]))
                        for c in params["colors"])
        return sample.replace(palette=palette or None)


def build(config: PaletteConfig, ctx: Any = None) -> PaletteStep:
    return PaletteStep(config)


def step_class(config: PaletteConfig) -> type[PaletteStep]:
    return PaletteStep
