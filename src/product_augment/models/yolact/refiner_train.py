"""Train the mask refiner on COCO sets: ground-truth masks degraded the way YOLACT's masks are wrong.

    augment train refiner --config configs/train/refiner.yaml [--resume]

A sample is one instance (the ``main`` product of a shop photo, else a random instance covering at
least 1 % of the image): its box grown by a random margin is cropped, resized to ``size`` (longer
side) and padded; the coarse input is the ground truth degraded by ``degrade``: resolution lost
(down by 3–10×, bilinear up: the prototype grid), edges moved (erode/dilate up to 4 px, a small
affine warp), pieces missing or added (ellipses cut out of the mask or stuck to its edge: partial
and overgrown masks), then blurred and re-scaled in confidence. Loss: BCE weighted ×4 within 5 px of
the true edge + soft IoU, over the unpadded area. Time-budgeted cosine schedule, resumable
checkpoints, one CPU thread by default.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict

from ...io import read_image
from .data import category_mapping, resolve_image_path
from .refiner import MaskRefiner, RefinerConfig, network_input, save_refiner

log = logging.getLogger("product_augment.refiner")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RefinerTrainConfig(_Strict):
    size: int = 192
    width: int = 24
    margin: float = 0.15
    train: list[str]
    val: str | None = None
    val_limit: int = 120
    batch_size: int = 12
    lr: float = 2e-3
    weight_decay: float = 1e-4
    iterations: int = 100000
    time_budget_min: float = 30
    eval_every_iters: int = 500
    checkpoint_every_min: float = 5
    threads: int = 1
    seed: int = 0
    out_dir: str = "runs/refiner"
    device: Literal["cpu", "cuda", "auto"] = "auto"


def load_config(path: str | Path) -> RefinerTrainConfig:
    try:
        return RefinerTrainConfig.model_validate(yaml.safe_load(Path(path).read_text()))
    except Exception as e:
        raise ValueError(f"{path}: {e}") from e


class InstanceCrops:
    """(image path, RLE) of usable instances of one or more COCO set folders."""

    def __init__(self, roots: list[str], min_frac: float = 0.01) -> None:
        self.items: list[tuple[Path, dict, int, int]] = []
        for root in roots:
            root = Path(root)
            data = json.loads((root / "annotations.json").read_text())
            cats = category_mapping(data.get("categories", []))
            images = {im["id"]: im for im in data["images"]}
            by_img: dict[int, list[dict]] = {}
            for a in data["annotations"]:
                if a.get("iscrowd", 0) or a["category_id"] not in cats:
                    continue
                by_img.setdefault(a["image_id"], []).append(a)
            for iid, anns in sorted(by_img.items()):
                im = images[iid]
                mains = [a for a in anns if a.get("main")]
                for a in mains or anns:
                    if a["area"] >= min_frac * im["height"] * im["width"]:
                        self.items.append((resolve_image_path(root, im["file_name"]), a["segmentation"],
                                           im["height"], im["width"]))

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        from pycocotools import mask as mask_utils

        path, seg, h, w = self.items[i]
        rgb = read_image(path)[0]
        rle = mask_utils.frPyObjects(seg, h, w) if isinstance(seg.get("counts"), list) else seg
        return rgb, mask_utils.decode(rle).astype(np.float32)


def _ellipse(shape, rng, cx, cy, rx, ry) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.ellipse(m, (int(cx), int(cy)), (max(1, int(rx)), max(1, int(ry))), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return m.astype(bool)


def degrade(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible coarse soft mask from a binary one (H×W float32 in [0, 1])."""
    h, w = gt.shape
    m = gt.astype(np.float32)
    k = int(rng.integers(0, 5))
    if k:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        m = (cv2.erode if rng.uniform() < 0.5 else cv2.dilate)(m, kernel)
    if rng.uniform() < 0.6:
        a = np.float32([[1 + rng.uniform(-0.03, 0.03), rng.uniform(-0.02, 0.02), rng.uniform(-3, 3)],
                        [rng.uniform(-0.02, 0.02), 1 + rng.uniform(-0.03, 0.03), rng.uniform(-3, 3)]])
        m = cv2.warpAffine(m, a, (w, h), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(gt > 0.5)
    if ys.size:
        if rng.uniform() < 0.3:  # a missing piece (partial mask)
            j = int(rng.integers(ys.size))
            r = rng.uniform(0.1, 0.35) * max(h, w)
            m[_ellipse((h, w), rng, xs[j], ys[j], r, r * rng.uniform(0.4, 1.0))] = 0
        if rng.uniform() < 0.25:  # an extra piece stuck to the edge (shadow, backdrop)
            j = int(rng.integers(ys.size))
            r = rng.uniform(0.05, 0.25) * max(h, w)
            m[_ellipse((h, w), rng, xs[j] + rng.uniform(-r, r), ys[j] + rng.uniform(-r, r), r,
                       r * rng.uniform(0.3, 1.0))] = 1
    f = float(rng.uniform(3, 10))
    small = cv2.resize(m, (max(2, round(w / f)), max(2, round(h / f))), interpolation=cv2.INTER_AREA)
    m = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    m = cv2.GaussianBlur(m, (0, 0), float(rng.uniform(0.5, 2.5)))
    t = float(rng.uniform(0.5, 1.5))  # confidence: sharpen or soften around 0.5
    logit = np.log(np.clip(m, 1e-3, 1 - 1e-3) / np.clip(1 - m, 1e-3, 1))
    return (1 / (1 + np.exp(-logit * t))).astype(np.float32)


def make_sample(rgb: np.ndarray, gt: np.ndarray, size: int, rng: np.random.Generator, augment: bool = True):
    """(rgb S×S×3 uint8, coarse S×S, gt S×S, valid S×S) for one instance, padded to size × size."""
    from .refiner import crop_box

    box = crop_box(gt, float(rng.uniform(0.05, 0.3)) if augment else 0.15)
    x0, y0, x1, y1 = box
    if augment:  # jitter the crop like an imperfect coarse box
        dx, dy = (x1 - x0) * 0.05, (y1 - y0) * 0.05
        x0 = int(np.clip(x0 + rng.uniform(-dx, dx), 0, gt.shape[1] - 2))
        y0 = int(np.clip(y0 + rng.uniform(-dy, dy), 0, gt.shape[0] - 2))
        x1 = int(np.clip(x1 + rng.uniform(-dx, dx), x0 + 2, gt.shape[1]))
        y1 = int(np.clip(y1 + rng.uniform(-dy, dy), y0 + 2, gt.shape[0]))
    crop_rgb, crop_gt = rgb[y0:y1, x0:x1], gt[y0:y1, x0:x1]
    if augment and rng.uniform() < 0.5:
        crop_rgb, crop_gt = crop_rgb[:, ::-1], crop_gt[:, ::-1]
    r, g, (nh, nw) = network_input(np.ascontiguousarray(crop_rgb), np.ascontiguousarray(crop_gt), size)
    g = (g >= 0.5).astype(np.float32)
    coarse = degrade(g, rng)
    if augment:
        r = np.clip((r.astype(np.float32) - 127) * rng.uniform(0.8, 1.2) + 127 + rng.uniform(-20, 20), 0, 255)
    out_r = np.zeros((size, size, 3), np.float32)
    out_c, out_g, valid = (np.zeros((size, size), np.float32) for _ in range(3))
    hh, ww = r.shape[:2]
    out_r[:hh, :ww], out_c[:hh, :ww], out_g[:hh, :ww] = r, coarse, g
    valid[:nh, :nw] = 1
    return out_r, out_c, out_g, valid


def refiner_loss(logits, gt, valid):
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        edge = F.max_pool2d(gt, 11, 1, 5) - (-F.max_pool2d(-gt, 11, 1, 5))  # 1 within 5 px of the edge
        weight = valid * (1 + 3 * edge)
    bce = (F.binary_cross_entropy_with_logits(logits, gt, reduction="none") * weight).sum() / weight.sum()
    p = logits.sigmoid() * valid
    inter = (p * gt).sum((1, 2, 3))
    union = (p + gt * valid - p * gt).sum((1, 2, 3)).clamp(min=1)
    return bce + (1 - inter / union).mean()


def evaluate(model, data: InstanceCrops, size: int, limit: int, device) -> dict:
    """Mean IoU of coarse vs refined masks on fixed degradations (seeded by index)."""
    import torch

    model.eval()
    before, after = [], []
    with torch.no_grad():
        for i in range(min(limit, len(data))):
            rng = np.random.default_rng(np.random.SeedSequence([12345, i]))
            rgb, gt = data.load(i)
            r, c, g, v = make_sample(rgb, gt, size, rng, augment=False)
            logits = model(torch.from_numpy(r).permute(2, 0, 1)[None].to(device),
                           torch.from_numpy(c)[None, None].to(device))
            p = logits.sigmoid()[0, 0].cpu().numpy() >= 0.5
            gb, vb = g >= 0.5, v > 0
            for pred, acc in ((c >= 0.5, before), (p, after)):
                u = ((pred | gb) & vb).sum()
                acc.append(float(((pred & gb) & vb).sum() / u) if u else 1.0)
    model.train()
    return {"coarse_miou": float(np.mean(before)), "refined_miou": float(np.mean(after)), "n": len(before)}


def train(cfg: RefinerTrainConfig, resume: bool = False) -> Path:
    """Train (denormals flushed to zero while it runs: they slow CPU kernels many-fold)."""
    import torch

    torch.set_flush_denormal(True)
    try:
        return _train(cfg, resume)
    finally:
        torch.set_flush_denormal(False)


def _train(cfg: RefinerTrainConfig, resume: bool = False) -> Path:
    import torch
    from safetensors.torch import load_file

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(out / "train.log"), logging.StreamHandler()])
    torch.set_num_threads(cfg.threads)
    cv2.setNumThreads(1)
    device = torch.device("cuda" if cfg.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    model = MaskRefiner(RefinerConfig(size=cfg.size, width=cfg.width, margin=cfg.margin)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = {"iteration": 0, "elapsed_s": 0.0, "best": -1.0, "history": []}
    last = out / "last.safetensors"
    if resume and last.exists():
        model.load_state_dict({k[6:]: v for k, v in load_file(str(last)).items()})
        state = json.loads(last.with_suffix(".json").read_text())["train_state"]
        log.info("resumed at iteration %d", state["iteration"])
    data = InstanceCrops(cfg.train)
    val = InstanceCrops([cfg.val]) if cfg.val else None
    log.info("refiner: %d training instances from %s; val %s", len(data), cfg.train, len(val) if val else 0)
    budget = cfg.time_budget_min * 60
    start = time.monotonic() - state["elapsed_s"]
    last_ckpt = time.monotonic()
    running = None

    def save(path: Path, metrics: dict | None = None) -> None:
        save_refiner(model, path, {"train_state": state, "train_config": cfg.model_dump(),
                                   "training_data": cfg.train, "metrics": metrics or {}})

    while state["iteration"] < cfg.iterations:
        elapsed = time.monotonic() - start
        if elapsed >= budget:
            break
        it = state["iteration"]
        lr = cfg.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * min(1.0, elapsed / budget))))
        lr = lr * min(1.0, (it + 1) / 100)
        for g in opt.param_groups:
            g["lr"] = lr
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, it]))
        idx = rng.integers(len(data), size=cfg.batch_size)
        batch = [make_sample(*data.load(int(i)), cfg.size, rng) for i in idx]
        r = torch.from_numpy(np.stack([b[0] for b in batch])).permute(0, 3, 1, 2).to(device)
        c, g, v = (torch.from_numpy(np.stack([b[k] for b in batch]))[:, None].to(device) for k in (1, 2, 3))
        loss = refiner_loss(model(r, c), g, v)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["iteration"] = it + 1
        state["elapsed_s"] = time.monotonic() - start
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (it + 1) % 20 == 0:
            log.info("it %d lr %.2e loss %.4f (%.1f min)", it + 1, lr, running, state["elapsed_s"] / 60)
        if val is not None and (it + 1) % cfg.eval_every_iters == 0:
            m = evaluate(model, val, cfg.size, cfg.val_limit, device)
            state["history"].append({"iteration": it + 1, **m})
            log.info("eval %s", json.dumps(state["history"][-1]))
            if m["refined_miou"] > state["best"]:
                state["best"] = m["refined_miou"]
                save(out / "best.safetensors", m)
            save(last)
            last_ckpt = time.monotonic()
        elif time.monotonic() - last_ckpt > cfg.checkpoint_every_min * 60:
            save(last)
            last_ckpt = time.monotonic()
    m = evaluate(model, val, cfg.size, cfg.val_limit, device) if val is not None else {}
    if m:
        state["history"].append({"iteration": state["iteration"], **m})
        log.info("final eval %s", json.dumps(m))
        if m["refined_miou"] > state["best"]:
            state["best"] = m["refined_miou"]
            save(out / "best.safetensors", m)
    save(last, m)
    log.info("done at iteration %d, %.1f min", state["iteration"], state["elapsed_s"] / 60)
    return last
