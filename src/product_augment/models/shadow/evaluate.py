"""Held-out evaluation of the learned shadow against the geometric `drop` shadow, same light.

    augment eval shadow --weights weights/shadow_net.onnx --data data/shadow_pairs --split test

For every pair of the split (objects never seen in training) the ground truth is the physically
computed matte, combined from the cast shadow and the ambient occlusion like the step combines
them (`frame.combine`, the drop kind's default opacity 0.55 and contact 0.85); the prediction is
the network's two outputs combined the same way; the baseline is `ops.shadow.drop_shadow` on the
same canvas with the same light (azimuth, elevation, size, floor tilt) and the same opacity and
contact. Only the visible floor counts (each matte × (1 − alpha)), as in the picture.

Metrics (pixel sums over the whole split): RMSE over the canvas, RMSE inside the shadow region
(ground truth > 0.05), and the balanced error rate of the shadow / no-shadow mask at 0.1
(BER = ½(FN/P + FP/N), floor pixels only), plus the same per class. Numpy + ONNX Runtime (a
.safetensors checkpoint is run in torch instead).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from ...ops import shadow as ops
from . import frame

OPACITY, CONTACT = 0.55, 0.85
REGION, MASK = 0.05, 0.1


def drop_matte(alpha: np.ndarray, azimuth: float, elevation: float, size: float, floor_tilt: float,
               opacity: float = OPACITY, contact: float = CONTACT) -> np.ndarray:
    """The geometric drop shadow on a canvas (matte before masking by the product)."""
    fp = ops.find_footprint(alpha)
    if fp is None:
        return np.zeros_like(alpha)
    layer = ops.drop_shadow(alpha, fp, fp.base_y, azimuth=azimuth, elevation=max(5.0, elevation), size=size,
                            opacity=opacity, contact=contact, floor_tilt=min(max(floor_tilt, 0.05), 1.0))
    return layer.full(alpha.shape)


class _Acc:
    def __init__(self) -> None:
        self.sq = self.n = self.sq_r = self.n_r = 0.0
        self.tp = self.fn = self.fp = self.tn = 0

    def add(self, pred: np.ndarray, gt: np.ndarray, floor: np.ndarray, vis: np.ndarray) -> None:
        p, g = pred * vis, gt * vis
        d2 = (p - g) ** 2
        self.sq += float(d2.sum())
        self.n += d2.size
        r = g > REGION
        self.sq_r += float(d2[r].sum())
        self.n_r += int(r.sum())
        pm, gm = (p > MASK)[floor], (g > MASK)[floor]
        self.tp += int((pm & gm).sum())
        self.fn += int((~pm & gm).sum())
        self.fp += int((pm & ~gm).sum())
        self.tn += int((~pm & ~gm).sum())

    def result(self) -> dict:
        ber = 0.5 * (self.fn / max(self.tp + self.fn, 1) + self.fp / max(self.fp + self.tn, 1))
        return {"rmse": round(math.sqrt(self.sq / max(self.n, 1)), 5),
                "rmse_shadow": round(math.sqrt(self.sq_r / max(self.n_r, 1)), 5),
                "ber": round(100 * ber, 3)}


def _gain(ours: float, base: float) -> float:
    return round(100.0 * (base - ours) / base, 2) if base > 0 else 0.0


def evaluate(weights: str | Path, data: str | Path, split: str = "test", limit: int | None = None,
             batch: int = 16, log=None) -> dict:
    from .train import Pairs

    pairs = Pairs(data, split)
    records = [json.loads(line) for line in (Path(data) / "pairs.jsonl").read_text().splitlines() if line.strip()]
    classes = [r["class"] for r in records if r["split"] == split]
    n = len(pairs) if limit is None else min(limit, len(pairs))
    weights = Path(weights)
    if weights.suffix == ".onnx":
        from .onnx_predict import ShadowPredictor

        predictor = ShadowPredictor(weights)
        run = predictor.predict
    else:
        import torch

        from .checkpoint import load_model

        torch.set_num_threads(1)
        model, _, _ = load_model(weights)

        def run(x, li):
            with torch.no_grad():
                return model(torch.from_numpy(x), torch.from_numpy(li)).numpy()

    total = {"realistic": _Acc(), "drop": _Acc()}
    per_class: dict[str, dict[str, _Acc]] = {}
    t_net = 0.0
    for s in range(0, n, batch):
        idx = np.arange(s, min(n, s + batch))
        x, li, y = pairs.batch(idx)
        t = time.perf_counter()
        out = run(x, li)
        t_net += time.perf_counter() - t
        for k, i in enumerate(idx):
            alpha = x[k, 3]
            vis = 1.0 - alpha
            floor = alpha < 0.5
            gt = frame.combine(y[k, 0], y[k, 1], OPACITY, CONTACT)
            pred = frame.combine(out[k, 0], out[k, 1], OPACITY, CONTACT)
            az, el, size, tilt = (float(v) for v in pairs.light[i])
            base = drop_matte(alpha, az, el, size, tilt)
            cls = per_class.setdefault(classes[i], {"realistic": _Acc(), "drop": _Acc()})
            for name, m in (("realistic", pred), ("drop", base)):
                total[name].add(m, gt, floor, vis)
                cls[name].add(m, gt, floor, vis)
        if log and (s // batch) % 20 == 0:
            log(f"{min(n, s + batch)}/{n}")

    def table(accs: dict[str, _Acc]) -> dict:
        r, d = accs["realistic"].result(), accs["drop"].result()
        return {"realistic": r, "drop": d, "gain_percent": {k: _gain(r[k], d[k]) for k in r}}

    return {"split": split, "pairs": int(n), "objects": len(set(pairs.source[pairs.view[:n]].tolist())),
            "weights": weights.name, "opacity": OPACITY, "contact": CONTACT, "region_threshold": REGION,
            "mask_threshold": MASK, **table(total),
            "per_class": {c: {**table(a), "pairs": classes[:n].count(c)} for c, a in sorted(per_class.items())},
            "network_ms_per_image_batched": round(1000 * t_net / max(n, 1), 2)}
