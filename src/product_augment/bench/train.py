"""Train and evaluate the benchmark U-Net: every arm uses this one loop.

Loss: BCE + soft Dice over the valid pixels; AdamW with a one-cycle schedule over the run's total
steps; each epoch is one pass over the arm's training set in a fresh random order (the last batch
may be smaller). Nothing but the arm's own augmentation (`classical`) alters the inputs.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .data import ArraySet
from .metrics import segmentation_metrics

MEAN, STD = 0.45, 0.25


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 10
    steps: int | None = None       # a fixed number of steps instead of `epochs` (the legacy command)
    batch: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    widths: tuple[int, ...] = (8, 16, 32, 64)
    classical: bool = False
    classical_spec: dict | None = None   # the config's `classical` (albumentations recipe); None: its defaults
    eval_batch: int = 64


@dataclass
class TrainResult:
    model: object
    curve: list[dict] = field(default_factory=list)   # per epoch: epoch, step, loss, val_iou
    steps: int = 0
    epochs: float = 0.0
    train_seconds: float = 0.0
    val_seconds: float = 0.0


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch sees no CUDA device")
    return device


def _to_input(x_uint8, device):
    import torch

    xt = torch.from_numpy(np.ascontiguousarray(x_uint8)).to(device).permute(0, 3, 1, 2).float() / 255.0
    return (xt - MEAN) / STD


def predict(model, x: np.ndarray, device: str = "cpu", batch: int = 64) -> np.ndarray:
    """Foreground probabilities (N×S×S float32)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(torch.sigmoid(model(_to_input(x[i:i + batch], device))).float().cpu().numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros((0,) + x.shape[1:3], np.float32)


def evaluate(model, data: ArraySet, device: str = "cpu", with_ap: bool = True) -> dict:
    probs = predict(model, data.x, device)
    return segmentation_metrics(probs, data.y, data.valid, data.aspect, with_ap=with_ap,
                                instances=data.instances if with_ap else None)


def train(data: ArraySet, spec: TrainSpec, seed: int, val: ArraySet | None = None, device: str = "cpu",
          progress: Callable[[dict], None] | None = None, desc: str = "") -> TrainResult:
    """Train a fresh U-Net (initialised from `seed`, batches ordered from `seed`). After every epoch
    the validation set's image-mean IoU goes into the curve; `progress(state)` is called each step."""
    import torch

    from ..models.unet.model import UNet, UNetConfig
    from .augment import Classical

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = UNet(UNetConfig(widths=tuple(spec.widths))).to(device)
    rng = np.random.default_rng([seed, 1])
    n = len(data)
    per_epoch = math.ceil(n / spec.batch)
    total = spec.steps if spec.steps else spec.epochs * per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec.lr, total_steps=total, pct_start=0.1)
    res = TrainResult(model)
    if spec.classical:
        from .profiles import ClassicalSpec

        classical = Classical(spec.classical_spec or ClassicalSpec(), data.x.shape[1])
    step, epoch, loss_sum, loss_n = 0, 0, 0.0, 0
    model.train()
    while step < total:
        order = rng.permutation(n)
        t_epoch = time.perf_counter()
        for b in range(per_epoch):
            if step >= total:
                break
            idx = np.sort(order[b * spec.batch:(b + 1) * spec.batch])
            xb, yb, vb = data.x[idx], data.y[idx], data.valid[idx]
            if spec.classical:
                aug = [classical(xb[k], yb[k], vb[k], rng) for k in range(len(idx))]
                xb = np.stack([a[0] for a in aug])
                yb = np.stack([a[1] for a in aug])
                vb = np.stack([a[2] for a in aug])
            xt = _to_input(xb, device)
            yt = torch.from_numpy(np.ascontiguousarray(yb)).to(device).float()
            wt = torch.from_numpy(np.ascontiguousarray(vb)).to(device).float()
            logits = model(xt)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, weight=wt, reduction="sum")
            bce = bce / wt.sum().clamp_min(1.0)
            p = torch.sigmoid(logits) * wt
            dice = 1 - (2 * (p * yt).sum((1, 2)) + 1) / (p.sum((1, 2)) + (yt * wt).sum((1, 2)) + 1)
            loss = bce + dice.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            loss_sum += float(loss.item())
            loss_n += 1
            if progress:
                progress({"step": step, "total": total, "loss": loss_sum / loss_n, "epoch": epoch + 1})
        if device == "cuda":
            torch.cuda.synchronize()
        res.train_seconds += time.perf_counter() - t_epoch
        epoch += 1
        point = {"epoch": epoch, "step": step, "loss": round(loss_sum / max(loss_n, 1), 5)}
        loss_sum, loss_n = 0.0, 0
        if val is not None:
            t_val = time.perf_counter()
            point["val_iou"] = evaluate(model, val, device, with_ap=False)["iou_image"]
            res.val_seconds += time.perf_counter() - t_val
        res.curve.append(point)
        if progress:
            progress({"step": step, "total": total, "epoch": epoch, "val_iou": point.get("val_iou"),
                      "loss": point["loss"], "epoch_end": True})
    res.steps, res.epochs = step, step / per_epoch
    res.train_seconds = round(res.train_seconds, 2)
    res.val_seconds = round(res.val_seconds, 2)
    return res
