"""The defect risk: one number from the segment signals together, a logistic model fitted on real
photographs whose cut was compared with a checked mask (`scripts/bench/qa_tune.py fit`).

Each threshold check sees one signal; a cut that is a little off on several of them (a part lost
*and* an unsure edge *and* a low score) passes them all. The risk weighs them together:
``defect_risk`` = σ(b + Σ wᵢ · (fᵢ(signalᵢ) − μᵢ) / σᵢ), where fᵢ is the feature's transform
(`TRANSFORMS`), and μ, σ, w, b come from the model file (`weights/qa_risk.json`: the features, the
fitted numbers, what it was fitted on and how it scored). A signal the model wants but the
entry lacks counts as its training mean. The file is read once per path (immutable afterwards).
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "product_augment.qa_risk/1"
DIGITS = 4  # the gate records `defect_risk` rounded to this many digits and compares that value
SHIPPED = "qa_risk.json"  # in the weights folder


def _sqrt(v: float) -> float:
    return math.sqrt(max(v, 0.0))


def _log1p(v: float) -> float:
    return math.log1p(max(v, 0.0))


TRANSFORMS = {"identity": float, "sqrt": _sqrt, "log1p": _log1p}

# the segment signals a model may use, and how each enters it (shares of the product: sqrt, so
# that small values are spread out; counts and widths: log1p)
FEATURES: dict[str, str] = {
    "confidence": "identity", "mask_quality": "identity", "uncertain_width": "log1p",
    "border_touch": "sqrt", "fragments": "log1p", "fragment_area": "sqrt", "hole_area": "sqrt",
    "hole_product_area": "sqrt", "shadow_area": "sqrt", "ragged": "sqrt", "lost_area": "sqrt",
    "backdrop_inside": "sqrt", "backdrop_spread": "log1p", "product_area": "sqrt", "agreement": "identity",
    "refine_change": "sqrt",
}


# which way a signal is bad (a reason names only signals on their bad side): low scores, high
# shares; the product's size and the backdrop's texture are context, never named as a reason
BAD_SIDE = {**{name: 1 for name in FEATURES}, "confidence": -1, "mask_quality": -1, "agreement": -1,
            "product_area": 0, "backdrop_spread": 0}


def feature_row(signals: Mapping[str, Any], names: Sequence[str], fill: Sequence[float] | None = None) -> np.ndarray:
    """The transformed features of one entry (NaN where a signal is missing, or `fill`'s value)."""
    out = np.empty(len(names), np.float64)
    for i, name in enumerate(names):
        v = signals.get(name)
        if v is None or isinstance(v, (str, dict, list)):
            out[i] = np.nan if fill is None else fill[i]
        else:
            out[i] = TRANSFORMS[FEATURES[name]](float(v))
    return out


@dataclass(frozen=True)
class RiskModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    meta: Mapping[str, Any]

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ValueError("risk model: features, mean, scale and coef must have the same length")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"risk model: unknown feature(s) {', '.join(unknown)}")

    def _standardised(self, signals: Mapping[str, Any]) -> np.ndarray:
        """The entry's features, transformed and standardised (a missing one at its training mean: 0)."""
        x = feature_row(signals, self.features, self.mean)
        return (x - np.asarray(self.mean)) / np.asarray(self.scale)

    def risk(self, signals: Mapping[str, Any]) -> float | None:
        """The entry's defect risk in [0, 1]; None where the cut gave no product."""
        if not signals.get("product_area"):
            return None
        z = self.intercept + float(np.dot(self._standardised(signals), self.coef))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def reasons(self, signals: Mapping[str, Any], top: int = 2) -> list[str]:
        """The signals that raise this entry's risk most: positive terms of the sum, largest first,
        of signals on their bad side (`BAD_SIDE`: below the mean for a score, above it for a share)."""
        z = self._standardised(signals)
        terms = z * np.asarray(self.coef)
        side = np.array([BAD_SIDE[f] for f in self.features])
        terms[(np.sign(z) != side) | (side == 0)] = 0.0
        order = np.argsort(-terms, kind="stable")
        return [self.features[i] for i in order[:top] if terms[i] > 0]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "features": {f: FEATURES[f] for f in self.features},
                "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef),
                "intercept": self.intercept, **dict(self.meta)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], where: str = "risk model") -> RiskModel:
        if raw.get("format") != FORMAT:
            raise ValueError(f"{where}: format {raw.get('format')!r}, expected {FORMAT!r}")
        feats = raw["features"]
        for name, how in feats.items():
            if FEATURES.get(name) != how:
                raise ValueError(f"{where}: feature {name!r} with transform {how!r} is not one this version knows")
        meta = {k: v for k, v in raw.items()
                if k not in ("format", "features", "mean", "scale", "coef", "intercept")}
        return cls(tuple(feats), tuple(map(float, raw["mean"])), tuple(map(float, raw["scale"])),
                   tuple(map(float, raw["coef"])), float(raw["intercept"]), meta)


@functools.lru_cache(maxsize=8)
def load(path: str | Path | None = None) -> RiskModel:
    """A model file (default: the shipped `weights/qa_risk.json`), read once per path."""
    if path is None:
        from ..resources import asset_dir
        path = asset_dir("weights") / SHIPPED
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{p}: cannot read the quality gate's risk model: {e}") from e
    return RiskModel.from_json(raw, str(p))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, weights: np.ndarray | None = None,
                 iterations: int = 50, signs: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised features `x` (N×D)
    and labels `y` in {0, 1}; the intercept is not penalised. Returns (coef, intercept).

    ``signs`` (D values of +1, −1 or 0) constrains each coefficient to that side of zero (0: free):
    a signal may raise the risk only on its bad side (`BAD_SIDE`), so a model fitted on a few dozen
    defective photos cannot learn that a *lower* confidence is safer. The constrained problem is
    solved by cyclic coordinate descent on a quadratic upper bound of the loss (each step
    projected onto its side; monotone, and convex, so it reaches the optimum), from the
    unconstrained answer projected."""
    n, d = x.shape
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    a = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    pen = np.full(d + 1, l2)
    pen[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -50, 50)))
        grad = a.T @ (w * (p - y)) + pen * beta
        hess = (a * (w * p * (1 - p))[:, None]).T @ a + np.diag(pen) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    if signs is None or not np.any(signs):
        return beta[:-1], float(beta[-1])
    if np.shape(signs) != (d,):
        raise ValueError(f"signs: one per feature ({d}), got shape {np.shape(signs)}")
    lo = np.where(np.asarray(signs) > 0, 0.0, -np.inf)
    hi = np.where(np.asarray(signs) < 0, 0.0, np.inf)
    lo, hi = np.append(lo, -np.inf), np.append(hi, np.inf)  # the intercept is free
    beta = np.clip(beta, lo, hi)
    bound = 0.25 * (w[:, None] * a * a).sum(0) + pen + 1e-12  # the loss's curvature never exceeds this
    z = a @ beta
    for _ in range(20000):
        moved = 0.0
        for j in range(d + 1):
            p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
            g = a[:, j] @ (w * (p - y)) + pen[j] * beta[j]
            new = min(max(beta[j] - g / bound[j], lo[j]), hi[j])
            if new != beta[j]:
                z += (new - beta[j]) * a[:, j]
                moved = max(moved, abs(new - beta[j]))
                beta[j] = new
        if moved < 1e-9:
            break
    else:
        raise RuntimeError("fit_logistic: the sign-constrained fit did not converge in 20,000 sweeps")
    return beta[:-1], float(beta[-1])


def operating_point(risk: np.ndarray, others: np.ndarray, bad: np.ndarray,
                    budget: int) -> tuple[float, np.ndarray] | None:
    """The `max_defect_risk` that rejects the most `bad` photos while the gate rejects at most
    `budget` good ones, with (``others``) the photos the other checks already reject; and the
    rejected photos. None when the other checks alone exceed the budget.

    It is chosen on the values the gate compares (the risk rounded to `DIGITS`), one step below the
    lowest rejected value, so that every photo it was chosen on gets the verdict it was chosen with."""
    r = np.round(np.asarray(risk, np.float64), DIGITS)
    step = 10.0 ** -DIGITS
    choice = None
    for t in sorted(set(r.tolist()) | {1.0}, reverse=True):
        rej = others | (r > t - step / 2)
        if int((rej & ~bad).sum()) > budget:
            break
        choice = (round(t - step, DIGITS), rej)
    return choice
