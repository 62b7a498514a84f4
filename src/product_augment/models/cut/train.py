"""Train CutNet on composed pictures (`synth.compose`), resumable, on the CPU or a GPU.

    python -m product_augment.models.cut.train --out runs/cut [--minutes 60] [--resume] [--device cpu]

The encoder starts from the shipped YOLACT's backbone (EfficientNet-Lite0 fine-tuned on product
scenes) or ImageNet's; the decoder from scratch. Loss: BCE + soft IoU at stride 2, BCE at stride 8.
AdamW, cosine learning rate over the time budget. Checkpoints (`last.safetensors` + JSON, optimizer
included) every ``--save-every`` iterations; the picture stream is seeded by (seed, iteration), so a
resumed run sees the pictures it would have seen.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import click
import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import (
    keep_weights,
    model_state,
    model_tensors,
    resume_checkpoint,
    sidecar_path,
    write_checkpoint,
)
from .model import CutConfig, CutNet
from .synth import Bank, Photos, compose, real_picture

FORMAT = "product_augment.cut/1"
log = logging.getLogger("cut.train")


class Pictures(torch.utils.data.IterableDataset):
    def __init__(self, bank_dirs: tuple[list[str], list[str]], size: int, batch: int, seed: int, start: int,
                 real: tuple[list[str], float] = ([], 0.0), see_through: float = 0.0):
        self.bank_dirs, self.size, self.batch, self.seed, self.start = bank_dirs, size, batch, seed, start
        self.real, self.see_through = real, see_through

    def __iter__(self):
        bank = Bank.load([Path(p) for p in self.bank_dirs[0]], [Path(p) for p in self.bank_dirs[1]])
        photos = Photos.load([Path(p) for p in self.real[0]]) if self.real[0] else None
        share = self.real[1] if photos is not None else 0.0
        it = self.start
        while True:
            rng = np.random.default_rng([self.seed, it])
            ims, ms = zip(*(real_picture(rng, photos, self.size, self.see_through) if share and rng.random() < share
                            else compose(rng, bank, self.size) for _ in range(self.batch)))
            yield it, torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).float(), \
                torch.from_numpy(np.stack(ms))[:, None]
            it += 1


def edge_band(target: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """1 where a (2·radius+1)² window of the target holds both product and backdrop, else 0."""
    k = 2 * radius + 1
    hi = F.max_pool2d(target, k, 1, radius)
    lo = -F.max_pool2d(-target, k, 1, radius)
    return ((hi - lo) > 0.25).float()


def loss_fn(logits: torch.Tensor, aux: torch.Tensor, target: torch.Tensor, edge_weight: float = 0.0
            ) -> torch.Tensor:
    """BCE + soft IoU at stride 2, BCE at stride 8; with ``edge_weight`` w, the stride-2 BCE weighs
    pixels near the true edge (`edge_band`) 1 + w times: the boundary is where real photos lose."""
    t2 = F.interpolate(target, size=logits.shape[-2:], mode="area")
    t8 = F.interpolate(target, size=aux.shape[-2:], mode="area")
    p = torch.sigmoid(logits)
    inter = (p * t2).sum((1, 2, 3))
    union = (p + t2 - p * t2).sum((1, 2, 3))
    iou = 1 - (inter + 1) / (union + 1)
    if edge_weight > 0:
        wgt = 1 + edge_weight * edge_band(t2)
        bce = (F.binary_cross_entropy_with_logits(logits, t2, reduction="none") * wgt).sum() / wgt.sum()
    else:
        bce = F.binary_cross_entropy_with_logits(logits, t2)
    return bce + iou.mean() + 0.4 * F.binary_cross_entropy_with_logits(aux, t8)


def optimise(opt: torch.optim.Optimizer, loss: torch.Tensor, lr: float, frac: float, it: int) -> None:
    """One step at the learning rate of iteration `it` (0-based), `frac` of the time budget spent:
    a linear warm-up over 100 iterations, then a cosine from `lr` down to 2 % of it."""
    for g in opt.param_groups:
        g["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac))) * min(1.0, (it + 1) / 100)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def init_encoder(net: CutNet, source: str) -> str:
    from safetensors.torch import load_file
    if source.endswith(".safetensors"):
        state = load_file(source)
        pre = "model.backbone."
        bb = {k[len(pre):]: v for k, v in state.items() if k.startswith(pre)}
        net.backbone.load_state_dict(bb, strict=True)
        return f"backbone of {Path(source).name}"
    from ..yolact.backbone import convert_pretrained_lite0, load_pretrained
    load_pretrained(net.backbone, convert_pretrained_lite0(Path(source)))
    return "ImageNet EfficientNet-Lite0"


@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--cutouts", multiple=True, default=["data/photobank/cutouts"], show_default=True)
@click.option("--backdrops", multiple=True, required=True)
@click.option("--real", multiple=True, default=[],
              help="Folders of real photos with teacher masks (DIR/images, DIR/masks), mixed into each batch.")
@click.option("--real-share", type=float, default=0.5, show_default=True,
              help="Share of each batch drawn from --real photos.")
@click.option("--see-through", type=float, default=0.0, show_default=True,
              help="Probability that a --real photo gets a hole through its product showing its backdrop.")
@click.option("--edge-weight", type=float, default=0.0, show_default=True,
              help="Extra weight of the BCE near the true edge (0: the plain loss).")
@click.option("--encoder", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True,
              help="A YOLACT safetensors (its backbone) or a path for the converted ImageNet weights.")
@click.option("--minutes", type=float, default=60.0, show_default=True)
@click.option("--batch", type=int, default=12, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--size", type=int, default=320, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--save-every", type=int, default=50, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--init", "init_from", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from this checkpoint's model weights (a new run: fresh optimizer and schedule).")
@click.option("--frozen-blocks", type=int, default=None,
              help="Backbone blocks (after the stem) that get no gradient (default: the config's).")
@click.option("--keep-every", type=int, default=0,
              help="Also keep the model weights every this many iterations (itNNNNN.safetensors), "
                   "to choose one on the real-photo validation set.")
@click.option("--resume", is_flag=True)
def main(out: Path, cutouts, backdrops, real, real_share, see_through, edge_weight, encoder, minutes, batch, lr, size, seed, threads, save_every, device,
         init_from, frozen_blocks, keep_every, resume) -> None:
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(out / "train.log"), logging.StreamHandler()])
    torch.set_num_threads(threads)
    cfg = CutConfig(input_size=size) if frozen_blocks is None else \
        CutConfig(input_size=size, frozen_backbone_blocks=frozen_blocks)
    net = CutNet(cfg).to(device)
    last = out / "last.safetensors"
    decay, no_decay = [], []
    for n, p in net.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim == 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0}],
                            lr=lr)
    start, spent, init = 0, 0.0, None
    if resume and last.exists():
        meta = resume_checkpoint(last, net, opt)
        start, spent, init = meta["iteration"], meta["train_seconds"], meta["encoder_init"]
        log.info("resumed at iteration %d (%.1f min)", start, spent / 60)
    elif init_from:
        from safetensors.torch import load_file
        net.load_state_dict(model_state(load_file(init_from)))
        prev = json.loads(sidecar_path(init_from).read_text())
        init = f"{prev.get('encoder_init')}, then {Path(init_from).name} (iteration {prev.get('iteration')})"
    else:
        init = init_encoder(net, encoder)
    budget = minutes * 60
    data = torch.utils.data.DataLoader(Pictures((list(cutouts), list(backdrops)), size, batch, seed, start,
                                                (list(real), real_share), see_through),
                                       batch_size=None, num_workers=1, prefetch_factor=4)

    def save(it: int, loss_avg: float) -> None:
        sidecar = {"format": FORMAT, "config": cfg.to_dict(), "iteration": it, "train_seconds": spent,
                   "batch_size": batch, "lr": lr, "seed": seed, "encoder_init": init, "loss": loss_avg,
                   "cutouts": list(cutouts), "backdrops": list(backdrops),
                   "real": list(real), "real_share": real_share if real else 0.0,
                   "see_through": see_through, "edge_weight": edge_weight}
        write_checkpoint(last, model_tensors(net), sidecar, FORMAT, opt)

    net.train()
    t_last, ema = time.perf_counter(), None
    for it, x, y in data:
        if spent >= budget:
            break
        logits, aux = net(x.to(device))
        loss = loss_fn(logits, aux, y.to(device), edge_weight)
        optimise(opt, loss, lr, min(1.0, spent / budget), it)
        now = time.perf_counter()
        spent += now - t_last
        t_last = now
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if (it + 1) % 10 == 0:
            log.info("it %d loss %.4f (ema %.4f) lr %.2e %.1f min", it + 1, loss.item(), ema,
                     opt.param_groups[0]["lr"], spent / 60)
        if (it + 1) % save_every == 0:
            save(it + 1, ema)
        if keep_every and (it + 1) % keep_every == 0:
            keep_weights(net, out / f"it{it + 1:05d}.safetensors")
    save(it, ema if ema is not None else float("nan"))
    log.info("done: %d iterations, %.1f min", it, spent / 60)


if __name__ == "__main__":
    main()
