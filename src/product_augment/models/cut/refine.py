"""CutRefine: a small network that redraws the cut's edge on the product's box at a finer scale.

CutNet sees the whole photo at 320² and answers at 160², so a product that fills half the photo gets
its outline from ~100 logits across. The refiner takes the product's box (grown by a margin) from
the photo at ``size``² with CutNet's logits resampled onto it, and returns corrected logits there:
the coarse logits plus a residual it learned from real photos with teacher masks and composites
with exact alphas (issue 20: "full-resolution boundaries, a refinement stage"). `runtime.CutPredictor`
runs it (`runtime.Refiner`) when the cut's sidecar names it (``postprocess.refine``).

Train (resumable, CPU or GPU), then export:

    python -m product_augment.models.cut.refine cache --out runs/refine_cache --real data/real/pool \\
        --cut-weights weights/cut_effnetlite0.safetensors --composites 1500
    python -m product_augment.models.cut.refine train --cache runs/refine_cache --out runs/refine --minutes 60
    python -m product_augment.models.cut.refine publish runs/refine/last.safetensors --out weights/cut_refine.safetensors

(``publish`` writes the model tensors, their sidecar and ``cut_refine.onnx`` beside them; ``export``
writes the ONNX file alone, for trying a checkpoint.) ``cache --run-time-logits`` stores the logits
the refiner gets at run time (the zoomed pass averaged in) and ``train --init W`` fine-tunes from
kept weights (session 13's trial: docs/BENCHMARKS.md).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np

from .runtime import net_input, refine_box

FORMAT = "product_augment.cut_refine/1"
log = logging.getLogger("cut.refine")
LOGIT_SCALE = 8.0  # coarse logits enter the network divided by this, clipped to ±1.5


@dataclass(frozen=True)
class RefineConfig:
    size: int = 256
    channels: tuple[int, ...] = (8, 16, 32, 48)  # at strides 1, 2, 4, 8

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> RefineConfig:
        return RefineConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _net(cfg: RefineConfig):
    import torch
    from torch import nn

    def conv(cin: int, cout: int, stride: int = 1, dilation: int = 1, k: int = 3) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, dilation * (k // 2), dilation, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class RefineNet(nn.Module):
        """N×4×S×S (RGB in 0..255, CutNet's logit) → N×1×S×S refined logits (the logit + a residual)."""

        def __init__(self) -> None:
            super().__init__()
            c0, c1, c2, c3 = cfg.channels
            self.e1, self.e2 = conv(4, c0), conv(c0, c1, 2)
            self.e3, self.e4 = conv(c1, c2, 2), conv(c2, c3, 2)
            self.mid = nn.Sequential(conv(c3, c3, dilation=2), conv(c3, c3, dilation=4))
            self.d3 = nn.Sequential(conv(c3 + c2, c2, k=1), conv(c2, c2))
            self.d2 = nn.Sequential(conv(c2 + c1, c1, k=1), conv(c1, c1))
            self.d1 = nn.Sequential(conv(c1 + c0, c0, k=1), conv(c0, c0))
            self.head = nn.Conv2d(c0, 1, 3, 1, 1)
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            import torch.nn.functional as F
            logit = x[:, 3:4]
            z = torch.cat([x[:, :3] / 127.5 - 1.0, torch.clamp(logit / LOGIT_SCALE, -1.5, 1.5)], 1)
            f1 = self.e1(z)
            f2 = self.e2(f1)
            f3 = self.e3(f2)
            y = self.mid(self.e4(f3))
            y = self.d3(torch.cat([F.interpolate(y, size=f3.shape[-2:], mode="bilinear", align_corners=False), f3], 1))
            y = self.d2(torch.cat([F.interpolate(y, size=f2.shape[-2:], mode="bilinear", align_corners=False), f2], 1))
            y = self.d1(torch.cat([F.interpolate(y, size=f1.shape[-2:], mode="bilinear", align_corners=False), f1], 1))
            return logit + self.head(y)

    return RefineNet()


# ---------------------------------------------------------------- training data: a cache of
# (photo, truth, CutNet's logits) so that training never runs CutNet


def _load(weights: str | Path) -> tuple[RefineConfig, Any]:
    """A refiner's config and network from its weights (a kept itNNNNN: its run's last.json)."""
    from safetensors.torch import load_file

    from ..checkpoint import model_state
    from .soup import checkpoint_meta
    cfg = RefineConfig.from_dict(checkpoint_meta(weights)["config"])
    net = _net(cfg)
    net.load_state_dict(model_state(load_file(str(weights))))
    return cfg, net


def _put(out: Path, i: int, rgb: np.ndarray, truth: np.ndarray, logits: np.ndarray, source: str) -> None:
    np.savez(out / f"{i:05d}.npz", rgb=rgb, truth=truth, logits=logits.astype(np.float16), source=source)


@click.group()
def main() -> None:
    """Cache, train and export the cut's refiner."""


@main.command()
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--real", multiple=True, default=["data/real/pool"], show_default=True,
              help="Folders of real photos with teacher masks (DIR/images, DIR/masks).")
@click.option("--cut-weights", default="weights/cut_effnetlite0.safetensors", show_default=True)
@click.option("--composites", type=int, default=1500, show_default=True)
@click.option("--cutouts", multiple=True, default=["data/cut_objects_pool"], show_default=True)
@click.option("--backdrops", multiple=True, default=["textures", "backgrounds"], show_default=True)
@click.option("--max-side", type=int, default=768, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--run-time-logits", is_flag=True,
              help="The logits the refiner sees at run time (the zoomed pass averaged in, at the segment "
                   "step's default precision), not CutNet's single pass.")
def cache(out: Path, real, cut_weights, composites, cutouts, backdrops, max_side, seed, run_time_logits) -> None:
    """Real photos and composites with CutNet's photo-sized logits (no zoomed pass, unless
    --run-time-logits), as .npz files."""
    from .runtime import CutPredictor
    from .synth import Bank, Photos, compose
    out.mkdir(parents=True, exist_ok=True)
    precision = "auto" if run_time_logits else "float32"
    cut = CutPredictor.from_weights(cut_weights, precision=precision, refiner=False)  # never the refiner's own

    def logits(rgb: np.ndarray) -> np.ndarray:  # photo-sized
        if run_time_logits:
            return cut.full_logits(rgb)
        return cv2.resize(cut.logits(rgb), rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    photos = Photos.load([Path(d) for d in real], max_side=max_side)
    i = 0
    for rgb, m in zip(photos.images, photos.masks):
        lg = logits(rgb)
        _put(out, i, rgb, (m * 255).astype(np.uint8), lg, "real")
        i += 1
    bank = Bank.load([Path(p) for p in cutouts], [Path(p) for p in backdrops])
    for k in range(composites):
        rng = np.random.default_rng([seed, k])
        rgb, a = compose(rng, bank, size=512)
        aspect = rng.uniform(0.75, 1.34)  # back to a photo's aspect, as the photo would be
        h, w = (512, round(512 * aspect)) if aspect > 1 else (round(512 / aspect), 512)
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        a = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
        lg = logits(rgb)
        _put(out, i, rgb, (a * 255).astype(np.uint8), lg, "composite")
        i += 1
    (out / "cache.json").write_text(json.dumps({"real": list(real), "cut_weights": str(cut_weights),
                                                 "composites": composites, "photos": len(photos.images),
                                                 "max_side": max_side, "seed": seed,
                                                 "run_time_logits": run_time_logits}, indent=1))
    click.echo(f"{i} items → {out}")


def sample(rng: np.random.Generator, item: dict[str, np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """One training pair: the net's input (4×S×S) and the truth (1×S×S in [0, 1]) on a jittered box."""
    lg = item["logits"].astype(np.float32)
    truth = item["truth"].astype(np.float32) / 255
    m = lg > 0
    if not m.any():
        m = truth > 0.5
    box = refine_box(m, float(rng.uniform(0.05, 0.3)))
    h, w = truth.shape
    if box is None:
        box = (0, 0, w, h)
    x0, y0, x1, y1 = box
    dx, dy = int(rng.integers(-1, 2) * 0.04 * (x1 - x0)), int(rng.integers(-1, 2) * 0.04 * (y1 - y0))
    box = (max(0, x0 + dx), max(0, y0 + dy), min(w, x1 + dx), min(h, y1 + dy))
    if box[2] - box[0] < 8 or box[3] - box[1] < 8:
        box = (0, 0, w, h)
    rgb = item["rgb"].astype(np.float32)
    rgb = np.clip(rgb * rng.uniform(0.85, 1.15) * rng.uniform(0.95, 1.05, 3) + rng.uniform(-10, 10), 0, 255)
    x = net_input(rgb.astype(np.uint8), lg + rng.normal(0, 0.5), box, size)[0]
    bx0, by0, bx1, by1 = box
    t = cv2.resize(np.ascontiguousarray(truth[by0:by1, bx0:bx1]), (size, size),
                   interpolation=cv2.INTER_AREA if max(by1 - by0, bx1 - bx0) > size else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        x, t = x[:, :, ::-1], t[:, ::-1]
    return np.ascontiguousarray(x), np.ascontiguousarray(t)[None]


def _crop(rng: np.random.Generator, x: np.ndarray, t: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """A c×c window of a training pair, centred on a pixel of the true edge 70 % of the time."""
    s = t.shape[-1]
    if c >= s:
        return x, t
    cy, cx = int(rng.integers(s)), int(rng.integers(s))
    if rng.random() < 0.7:
        ys, xs = np.nonzero((t[0] > 0.1) & (t[0] < 0.9))
        if len(ys):
            j = int(rng.integers(len(ys)))
            cy, cx = int(ys[j]), int(xs[j])
    y0, x0 = min(max(cy - c // 2, 0), s - c), min(max(cx - c // 2, 0), s - c)
    return np.ascontiguousarray(x[:, y0:y0 + c, x0:x0 + c]), np.ascontiguousarray(t[:, y0:y0 + c, x0:x0 + c])


def _loss(out, t):
    import torch.nn.functional as F

    from .train import edge_band
    p = out.sigmoid()
    inter = (p * t).sum((1, 2, 3))
    union = (p + t - p * t).sum((1, 2, 3))
    wgt = 1 + 4 * edge_band(t, 3)
    bce = (F.binary_cross_entropy_with_logits(out, t, reduction="none") * wgt).sum() / wgt.sum()
    return bce + (1 - (inter + 1) / (union + 1)).mean()


@main.command()
@click.option("--cache", "cache_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--minutes", type=float, default=60.0, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--size", type=int, default=256, show_default=True)
@click.option("--crop", type=int, default=160, show_default=True,
              help="Train on crops this big of the size² input (mostly on the edge): the net is convolutional.")
@click.option("--real-share", type=float, default=0.6, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--save-every", type=int, default=100, show_default=True)
@click.option("--keep-every", type=int, default=0)
@click.option("--device", default="cpu", show_default=True)
@click.option("--resume", is_flag=True)
@click.option("--init", "init_from", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Start from these refiner weights (a fine-tune: fresh optimizer and schedule; its size is kept).")
def train(cache_dir: Path, out: Path, minutes, batch, lr, size, crop, real_share, seed, threads, save_every, keep_every,
          device, resume, init_from) -> None:
    """Train the refiner on the cache (BCE weighted 5× near the true edge + soft IoU), resumable."""
    import torch

    from ..checkpoint import keep_weights, model_tensors, resume_checkpoint, write_checkpoint
    from .train import optimise
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(out / "train.log"), logging.StreamHandler()])
    torch.set_num_threads(threads)
    if init_from is not None:
        cfg, net = _load(init_from)
    else:
        cfg = RefineConfig(size=size)
        net = _net(cfg)
    net = net.to(device)
    items = [dict(np.load(p)) for p in sorted(cache_dir.glob("*.npz"))]
    real = [k for k, it in enumerate(items) if str(it["source"]) == "real"]
    comp = [k for k, it in enumerate(items) if str(it["source"]) != "real"]
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    last = out / "last.safetensors"
    start, spent = 0, 0.0
    if resume and last.exists():
        meta = resume_checkpoint(last, net, opt)
        start, spent = meta["iteration"], meta["train_seconds"]
        log.info("resumed at iteration %d (%.1f min)", start, spent / 60)

    def save(it: int, ema: float) -> None:
        side = {"format": FORMAT, "config": cfg.to_dict(), "iteration": it, "train_seconds": spent,
                "batch_size": batch, "crop": crop, "lr": lr, "seed": seed, "loss": ema, "cache": str(cache_dir),
                "cache_meta": json.loads((cache_dir / "cache.json").read_text()), "real_share": real_share,
                "items": {"real": len(real), "composite": len(comp)},
                "init": str(init_from) if init_from is not None else None}
        write_checkpoint(last, model_tensors(net), side, FORMAT, opt)

    net.train()
    budget, t_last, ema, it = minutes * 60, time.perf_counter(), None, start
    while spent < budget:
        rng = np.random.default_rng([seed, it])
        pairs = []
        for _ in range(batch):
            pool = real if (comp == [] or rng.random() < real_share) else comp
            pairs.append(_crop(rng, *sample(rng, items[pool[int(rng.integers(len(pool)))]], cfg.size), crop))
        x = torch.from_numpy(np.stack([p[0] for p in pairs])).to(device)
        t = torch.from_numpy(np.stack([p[1] for p in pairs])).to(device)
        loss = _loss(net(x), t)
        optimise(opt, loss, lr, min(1.0, spent / budget), it)
        now = time.perf_counter()
        spent += now - t_last
        t_last = now
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        it += 1
        if it % 10 == 0:
            log.info("it %d loss %.4f (ema %.4f) lr %.2e %.1f min", it, loss.item(), ema, opt.param_groups[0]["lr"],
                     spent / 60)
        if it % save_every == 0:
            save(it, ema)
        if keep_every and it % keep_every == 0:
            keep_weights(net, out / f"it{it:05d}.safetensors")
    save(it, ema if ema is not None else float("nan"))
    log.info("done: %d iterations, %.1f min", it, spent / 60)


def export_refiner(checkpoint: str | Path, out: str | Path) -> dict[str, Any]:
    """The checkpoint as ONNX (batch 1, BatchNorm folded by the exporter), put in place only after a
    check against torch; its record (what the shipped sidecar keeps under ``onnx``)."""
    import warnings

    import torch

    from ...io import file_sha256
    from ..ort import onnxruntime
    from ..yolact.onnx_export import write_onnx
    checkpoint, out = Path(checkpoint), Path(out)
    cfg, net = _load(checkpoint)
    net.eval()
    x = torch.cat([torch.rand(1, 3, cfg.size, cfg.size) * 255, torch.randn(1, 1, cfg.size, cfg.size) * 6], 1)
    with torch.no_grad():
        want = net(x).numpy()
    err = 0.0

    def export(tmp: Path) -> None:
        nonlocal err
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(net, (x,), str(tmp), input_names=["x"], output_names=["logits"], opset_version=17,
                              dynamo=False)
        sess = onnxruntime().InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        err = float(np.abs(sess.run(None, {"x": x.numpy()})[0] - want).max())
        if err > 1e-3:
            raise click.ClickException(f"{out}: the export differs from torch by {err:.2e}")

    written = write_onnx(out, export)
    return {**written, "input": {"name": "x", "shape": [1, 4, cfg.size, cfg.size],
                                 "layout": "NCHW: the box's RGB (0-255) and the cut's logits"},
            "opset": 17, "source": checkpoint.name, "source_sha256": file_sha256(checkpoint),
            "max_abs_error": err, "torch": torch.__version__}


@main.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(checkpoint: Path, out: Path) -> None:
    """The checkpoint as ONNX, checked against torch."""
    info = export_refiner(checkpoint, out)
    click.echo(f"{out}: max |onnx − torch| {info['max_abs_error']:.2e}")


@main.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="weights/cut_refine.safetensors",
              show_default=True)
@click.option("--extra", "extra_json", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON object merged into the sidecar (training data, metrics).")
def publish(checkpoint: Path, out: Path, extra_json: Path | None) -> None:
    """Ship a checkpoint: its model tensors and sidecar at --out, the ONNX file beside them (the cut's
    sidecar names that file under ``postprocess.refine``)."""
    from ..checkpoint import publish_weights, read_extra
    from .soup import checkpoint_meta, kept_iteration
    try:
        extra = read_extra(extra_json) if extra_json else {}
    except (ValueError, TypeError) as e:
        raise click.ClickException(f"--extra {e}") from e
    meta = checkpoint_meta(checkpoint)
    meta = {**meta, "format": FORMAT, "iteration": kept_iteration(checkpoint, meta)}  # a kept itNNNNN: its own
    out = publish_weights(checkpoint, out, meta, extra)
    meta = json.loads(out.with_suffix(".json").read_text())
    meta["onnx"] = export_refiner(out, out.with_suffix(".onnx"))
    from ...io import write_atomic
    write_atomic(out.with_suffix(".json"), json.dumps(meta, indent=2).encode())
    click.echo(f"wrote {out}, {out.with_suffix('.json')}, {out.with_suffix('.onnx')}")


if __name__ == "__main__":
    main()
