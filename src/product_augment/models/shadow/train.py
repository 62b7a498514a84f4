"""Train ShadowNet on the physically computed pairs of `augment data shadow-pairs`.

    augment train shadow --config configs/train/shadow.yaml [--resume] [--device cpu|cuda|auto]

A sample is one pair: the product's canvas (premultiplied colour + matte), the light (azimuth,
elevation, size) and the camera's floor tilt; the target is the floor's cast shadow and ambient
occlusion. Augmentation: a horizontal flip (the light's azimuth changes sign). Loss (`loss_fn`):
L1 + 2·L2 on the cast shadow, 3·L2 on the occlusion, weighted down (×0.1) where the product
hides the floor. AdamW, warm-up then cosine decay
over the time budget (or the iteration count, whichever ends first); `last.safetensors`
(+ optimizer, step, elapsed time, loss curve) every few minutes and at the end, `best.safetensors`
by the validation RMSE of the combined matte. Resumable; one CPU thread by default.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import yaml
from pydantic import BaseModel, ConfigDict

from .checkpoint import load_model, load_optimizer_state, save_weights
from .frame import RES
from .model import ShadowNet, ShadowNetConfig, count_parameters

OPACITY, CONTACT = 0.55, 0.85   # the `drop` kind's defaults: how the metrics combine the two outputs


class ShadowTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: str = "data/shadow_pairs"
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_iters: int = 100
    iterations: int = 100000
    time_budget_min: float = 60
    eval_every_iters: int = 200
    val_limit: int = 300
    checkpoint_every_min: float = 5
    threads: int = 1
    seed: int = 0
    out_dir: str = "runs/shadow"
    device: Literal["cpu", "cuda", "auto"] = "auto"
    depth: int = 4
    dim: int = 128


def load_config(path: str | Path) -> ShadowTrainConfig:
    try:
        return ShadowTrainConfig.model_validate(yaml.safe_load(Path(path).read_text()))
    except Exception as e:
        raise ValueError(f"{path}: {e}") from e


class Pairs:
    """One split's pack (``<data>/<split>.npz``) in memory."""

    def __init__(self, data: str | Path, split: str) -> None:
        d = np.load(Path(data) / f"{split}.npz")
        self.rgba, self.ao, self.cast = d["rgba"], d["ao"], d["cast"]
        self.view, self.light, self.source = d["view"], d["light"], d["source"]

    def __len__(self) -> int:
        return len(self.cast)

    def batch(self, idx: np.ndarray, flip: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs B×4×R×R, light B×5, targets B×2×R×R) float32."""
        from .frame import light_vector, network_input

        xs, ls, ys = [], [], []
        for n, i in enumerate(idx):
            v = self.view[i]
            rgba, ao, cast = self.rgba[v], self.ao[v], self.cast[i]
            az, el, size, tilt = (float(t) for t in self.light[i])
            if flip is not None and flip[n]:
                rgba, ao, cast, az = rgba[:, ::-1], ao[:, ::-1], cast[:, ::-1], -az
            xs.append(network_input(rgba[..., :3], rgba[..., 3]))
            ls.append(light_vector(az, el, size, tilt))
            ys.append(np.stack([cast, ao]).astype(np.float32) / 255.0)
        return np.stack(xs), np.stack(ls), np.stack(ys)


def loss_fn(pred: torch.Tensor, target: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Cast shadow: L1 + 2·L2. Ambient occlusion: 3·L2 only, so the network learns the mean of
    its few-direction (streaky) estimate, i.e. the smooth occlusion, not the median (no halo)."""
    w = 1.0 - 0.9 * alpha
    d = pred - target
    cast = d[:, 0].abs() + 2.0 * d[:, 0] ** 2
    ao = 3.0 * d[:, 1] ** 2
    return (w * (cast + ao)).mean() / 2.0


@torch.no_grad()
def validate(model: ShadowNet, pairs: Pairs, limit: int, device: torch.device, batch: int = 32) -> dict:
    """Loss and RMSE of the combined matte over the visible floor (drop defaults), first `limit` pairs."""
    model.eval()
    n = min(limit, len(pairs))
    tot_loss, sq, count = 0.0, 0.0, 0
    for s in range(0, n, batch):
        idx = np.arange(s, min(n, s + batch))
        x, li, y = (torch.from_numpy(a).to(device) for a in pairs.batch(idx))
        p = model(x, li)
        alpha = x[:, 3]
        tot_loss += float(loss_fn(p, y, alpha)) * len(idx)
        comb = lambda t: 1 - (1 - OPACITY * t[:, 0]) * (1 - CONTACT * t[:, 1])
        vis = 1 - alpha
        sq += float((((comb(p) - comb(y)) * vis) ** 2).sum())
        count += int(vis.numel())
    model.train()
    return {"loss": tot_loss / max(n, 1), "rmse": math.sqrt(sq / max(count, 1))}


def train(cfg: ShadowTrainConfig, resume: bool = False, device: str | None = None, out_dir: str | None = None,
          log=print) -> Path:
    torch.set_num_threads(cfg.threads)
    dev_name = device or cfg.device
    if dev_name == "auto":
        dev_name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(dev_name)
    out = Path(out_dir or cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train_set, val_set = Pairs(cfg.data, "train"), Pairs(cfg.data, "val")
    model = ShadowNet(ShadowNetConfig(res=RES, depth=cfg.depth, dim=cfg.dim)).to(dev)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "pos" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "pos" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=cfg.lr)
    step, elapsed, history, best = 0, 0.0, [], math.inf
    last = out / "last.safetensors"
    if resume and last.exists():
        loaded, meta, tensors = load_model(last, dev)
        model.load_state_dict(loaded.state_dict())
        load_optimizer_state(opt, tensors, meta)
        step, elapsed = meta["train"]["step"], meta["train"]["elapsed_s"]
        history, best = meta["train"]["history"], meta["train"].get("best_rmse", math.inf)
        rng = np.random.default_rng([cfg.seed, step])
        torch.manual_seed(cfg.seed + step)
        log(f"resumed at step {step} ({elapsed / 60:.1f} min)")
    model.train()
    budget = cfg.time_budget_min * 60
    info = {"pairs_train": len(train_set), "pairs_val": len(val_set), "views_train": len(train_set.rgba),
            "objects_train": len(set(train_set.source.tolist())), "data": cfg.data,
            "parameters": count_parameters(model)}

    def meta(extra: dict | None = None) -> dict:
        return {"train": {"step": step, "elapsed_s": elapsed, "history": history, "best_rmse": best,
                          "config": cfg.model_dump(), "device": dev_name, **info}, **(extra or {})}

    def lr_at(i: int, frac: float) -> float:
        warm = min(1.0, (i + 1) / cfg.warmup_iters)
        return cfg.lr * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))

    t_ckpt = time.time()
    t0 = time.time() - elapsed
    run_loss, run_n = 0.0, 0
    while step < cfg.iterations and elapsed < budget:
        frac = max(elapsed / budget, step / cfg.iterations)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, frac)
        idx = rng.integers(0, len(train_set), cfg.batch_size)
        flip = rng.random(cfg.batch_size) < 0.5
        x, li, y = (torch.from_numpy(a).to(dev) for a in train_set.batch(idx, flip))
        loss = loss_fn(model(x, li), y, x[:, 3])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        elapsed = time.time() - t0
        run_loss, run_n = run_loss + float(loss.detach()), run_n + 1
        if step % cfg.eval_every_iters == 0 or step >= cfg.iterations or elapsed >= budget:
            val = validate(model, val_set, cfg.val_limit, dev)
            history.append({"step": step, "min": round(elapsed / 60, 2), "train_loss": round(run_loss / run_n, 5),
                            "val_loss": round(val["loss"], 5), "val_rmse": round(val["rmse"], 5),
                            "lr": round(opt.param_groups[0]["lr"], 6)})
            run_loss, run_n = 0.0, 0
            log(json.dumps(history[-1]))
            if val["rmse"] < best:
                best = val["rmse"]
                save_weights(model, out / "best.safetensors", meta())
        if time.time() - t_ckpt > cfg.checkpoint_every_min * 60:
            save_weights(model, last, meta(), optimizer=opt)
            t_ckpt = time.time()
    save_weights(model, last, meta(), optimizer=opt)
    log(f"done: step {step}, {elapsed / 60:.1f} min, best val RMSE {best:.4f}")
    return last
