"""Checks of an ONNX export against torch (`augment export onnx --check / --bench`): the segmenter's
parity on fixtures, its latency, and the cut model's logits (needs `.[train]`)."""
from __future__ import annotations

import json
from pathlib import Path


def cut_parity(weights: str | Path, photos: str | Path) -> list[str]:
    """The cut model's ONNX file against torch: the largest logit difference on 4 photos."""
    import cv2
    import numpy as np
    import torch

    from ..cut.export import load_cut
    from ..cut.runtime import CutPredictor

    net, _ = load_cut(weights)
    onx = CutPredictor.from_weights(weights, refiner=False)  # the network alone
    lines = []
    for p in sorted(Path(photos).glob("*.jpg"))[:4]:
        image = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        frame = onx.frame(image)
        with torch.no_grad():
            ref = net(torch.from_numpy(frame).permute(2, 0, 1)[None].float())[0, 0].numpy()
        lines.append(f"{p.name}: max |Δlogit| torch vs onnx {float(np.abs(ref - onx.logits(image)).max()):.1e}")
    return lines


def latency(weights: str | Path, onnx_file: str | Path, photos: str | Path, rounds: int) -> str:
    """Median seconds per image of `soft()` (network + post-processing), torch and ONNX interleaved."""
    import time

    import cv2
    import numpy as np
    import torch

    from .checkpoint import read_sidecar
    from .onnx_predict import OnnxPredictor
    from .predict import Predictor

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    ref = Predictor.from_weights(weights, refiner=False)
    onx = OnnxPredictor(onnx_file, read_sidecar(weights))
    images = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(Path(photos).glob("*.jpg"))]
    times: dict[str, list[float]] = {"torch": [], "onnx": []}
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        for image in images:
            for name, pred in (("torch", ref), ("onnx", onx)):
                t0 = time.perf_counter()
                pred.soft(image)
                times[name].append(time.perf_counter() - t0)
    t, o = (float(np.median(times[k][len(images):])) for k in ("torch", "onnx"))
    return (f"{len(images)} images × {rounds} rounds, median s/image: torch {t:.3f}, onnx {o:.3f} "
            f"({t / o:.2f}× faster)")


def parity(weights: str | Path, onnx_file: str | Path, fixtures: str | Path) -> list[str]:
    """ONNX Runtime against torch on the segmenter fixtures (`fixtures.json` and its images): the
    same top pick, top-mask IoU, score gap, largest soft-mask difference."""
    import cv2
    import numpy as np
    import torch

    from .checkpoint import read_sidecar
    from .onnx_predict import OnnxPredictor
    from .predict import Predictor

    torch.set_num_threads(1)
    fixtures = Path(fixtures)
    ref = Predictor.from_weights(weights, refiner=False)
    onx = OnnxPredictor(onnx_file, read_sidecar(weights))
    lines = []
    for item in json.loads((fixtures / "fixtures.json").read_text()):
        image = cv2.cvtColor(cv2.imread(str(fixtures / item["image"])), cv2.COLOR_BGR2RGB)
        a, b = ref.soft(image), onx.soft(image)
        if not len(a.scores) or not len(b.scores):
            lines.append(f"{item['image']}: torch {len(a.scores)} / onnx {len(b.scores)} detections")
            continue
        ma, mb = a.masks[0] >= 0.5, b.masks[0] >= 0.5
        iou = (ma & mb).sum() / max((ma | mb).sum(), 1)
        lines.append(f"{item['image']}: top class {a.classes[0]}/{b.classes[0]}, top-mask IoU {iou:.5f}, "
                     f"score gap {abs(float(a.scores[0]) - float(b.scores[0])):.1e}, "
                     f"max |Δmask| {float(np.abs(a.masks[0] - b.masks[0]).max()):.1e}")
    return lines
