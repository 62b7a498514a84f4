"""The U-Net benchmark: does augmented data make a segmenter better on unseen photos?

Train the same small U-Net, same budget, once on the base (catalogue-style) set and once on the
base set plus its augmented copies; report foreground IoU on held-out test sets. Data sets are
COCO instance-segmentation folders (images + annotations.json); the foreground is the union of
instance masks.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class UNetBenchConfig:
    size: int = 128
    steps: int = 1500
    batch: int = 16
    lr: float = 2e-3
    seed: int = 0
    threads: int = 2


def load_coco_set(root: Path, size: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N×size×size×3 uint8) and foreground masks (N×size×size bool), letterboxed."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    root = Path(root)
    ann_path = root / "annotations.json"
    if not ann_path.exists():
        raise FileNotFoundError(f"{ann_path} not found (a COCO folder needs images + annotations.json)")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(ann_path))
    ids = sorted(coco.getImgIds())[:limit]
    xs, ys = [], []
    for i in ids:
        info = coco.loadImgs(i)[0]
        img = cv2.imread(str(root / info["file_name"]), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"{root / info['file_name']} listed in {ann_path} cannot be read")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        mask = np.zeros(img.shape[:2], np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=i)):
            if ann["category_id"] <= 22:  # products only, not logo/shadow layers
                mask |= coco.annToMask(ann)
        xs.append(_letterbox(img, size, cv2.INTER_AREA))
        ys.append(_letterbox(mask, size, cv2.INTER_NEAREST) > 0)
    return np.stack(xs), np.stack(ys)


def _letterbox(a: np.ndarray, size: int, interp: int) -> np.ndarray:
    h, w = a.shape[:2]
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    r = cv2.resize(a, (nw, nh), interpolation=interp)
    out = np.zeros((size, size) + a.shape[2:], a.dtype)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = r
    return out


def train_unet(x: np.ndarray, y: np.ndarray, cfg: UNetBenchConfig, log=None):
    import torch

    from ..models.unet.model import UNet

    torch.set_num_threads(cfg.threads)
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        model = UNet()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy(y.astype(np.float32))
    model.train()
    for step in range(cfg.steps):
        idx = torch.randint(0, len(xt), (cfg.batch,), generator=gen)
        xb = xt[idx].float() / 255.0
        yb = yt[idx]
        flip = torch.rand(cfg.batch, generator=gen) < 0.5
        xb[flip] = xb[flip].flip(-1)
        yb[flip] = yb[flip].flip(-1)
        # photometric jitter: brightness/contrast per image
        b = (torch.rand(cfg.batch, 1, 1, 1, generator=gen) - 0.5) * 0.2
        c = 1 + (torch.rand(cfg.batch, 1, 1, 1, generator=gen) - 0.5) * 0.3
        xb = ((xb - 0.5) * c + 0.5 + b).clamp(0, 1)
        logits = model((xb - 0.45) / 0.25)
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * yb).sum((1, 2)) + 1) / (p.sum((1, 2)) + yb.sum((1, 2)) + 1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yb) + dice.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log and (step % 100 == 0 or step == cfg.steps - 1):
            log(f"step {step + 1}/{cfg.steps} loss {loss.item():.4f}")
    return model


def evaluate_unet(model, x: np.ndarray, y: np.ndarray) -> dict:
    """Mean per-image foreground IoU and pixel accuracy."""
    import torch

    model.eval()
    ious, accs = [], []
    with torch.no_grad():
        for i in range(0, len(x), 32):
            xb = torch.from_numpy(x[i:i + 32]).permute(0, 3, 1, 2).float() / 255.0
            pred = (model((xb - 0.45) / 0.25) > 0).numpy()
            for p, t in zip(pred, y[i:i + 32]):
                union = (p | t).sum()
                ious.append((p & t).sum() / union if union else 1.0)
                accs.append((p == t).mean())
    return {"miou": float(np.mean(ious)), "pixel_acc": float(np.mean(accs)), "n": len(x)}


def run_unet_bench(base: Path, augmented: Path | None, tests: dict[str, Path], cfg: UNetBenchConfig,
                   limit: int | None = None, log=None) -> dict:
    """Train base-only and base+augmented U-Nets with the same budget; evaluate on each test set."""
    t0 = time.perf_counter()
    xb, yb = load_coco_set(base, cfg.size, limit)
    test_sets = {name: load_coco_set(p, cfg.size) for name, p in tests.items()}
    runs = {"base": (xb, yb)}
    if augmented is not None:
        xa, ya = load_coco_set(augmented, cfg.size, limit)
        runs["base+augmented"] = (np.concatenate([xb, xa]), np.concatenate([yb, ya]))
    results: dict = {"config": cfg.__dict__, "train_images": {}, "results": {}}
    for name, (x, y) in runs.items():
        if log:
            log(f"training U-Net on {name}: {len(x)} images, {cfg.steps} steps at {cfg.size}px")
        model = train_unet(x, y, cfg, log)
        results["train_images"][name] = len(x)
        results["results"][name] = {t: evaluate_unet(model, *xy) for t, xy in test_sets.items()}
    results["seconds"] = round(time.perf_counter() - t0, 1)
    return results


def format_table(results: dict) -> str:
    tests = sorted(next(iter(results["results"].values())))
    lines = ["| training data | images | " + " | ".join(f"mIoU {t}" for t in tests) + " |",
             "|---|---|" + "---|" * len(tests)]
    for name, per in results["results"].items():
        lines.append(f"| {name} | {results['train_images'][name]} | "
                     + " | ".join(f"{per[t]['miou']:.3f}" for t in tests) + " |")
    return "\n".join(lines)


def save(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
