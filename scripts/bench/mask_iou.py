"""A learned mask-IoU scorer for the quality gate (issue 22; a research prototype, not shipped).

A small CNN looks at the photo's crop around a candidate product mask (the mask's box grown by 25 %,
at 112², the mask as a fourth channel) and predicts the mask's IoU with the true one. It is trained
on the training pool only: each teacher mask perturbed (a part lost, a backdrop blob or a flat
shadow attached, holes filled or punched, eroded, dilated), YOLACT's product mask, and the cuts of
older CutNet weights that never saw the pool (real errors). It scores the shipped pipeline's masks
on photos it never saw (the real val half, the gate fold) for `docs/BENCHMARKS.md`.

    python scripts/bench/mask_iou.py pairs data/real/pool --out runs/miou/pool.npz
    python scripts/bench/mask_iou.py pairs data/real/pool --older W2.onnx --older W3.onnx --out runs/miou/real.npz
    python scripts/bench/mask_iou.py train runs/miou/pool.npz runs/miou/real.npz --minutes 25 --out runs/miou/net.safetensors
    python scripts/bench/qa_tune.py measure data/real/gate --stems runs/qa14/gate.txt --json G.json --masks M/
    python scripts/bench/mask_iou.py score runs/miou/net.safetensors data/real/gate G.json M/ --out runs/miou/gate.json

Older weights: `git show 9956057:weights/cut_effnetlite0.onnx` (stage 3) and `89ff66d:` (stage 2),
each with its `.json` sidecar beside it. Never pass the gate fold to `pairs`.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
SIDE, WORK = 112, 512  # the scorer's input; photos are worked on at most this long side


def crop(img: np.ndarray, mask: np.ndarray, grow: float = 0.25) -> np.ndarray | None:
    """SIDE×SIDE×4 uint8: the photo around the mask's box (grown by `grow`) and the mask."""
    from product_augment.models.cut.runtime import refine_box
    box = refine_box(mask, grow)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    rgb = cv2.resize(img[y0:y1, x0:x1], (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    m = cv2.resize(mask[y0:y1, x0:x1].astype(np.uint8) * 255, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    return np.concatenate([rgb, m[..., None]], 2)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _ellipse(shape, cx, cy, rx, ry, angle) -> np.ndarray:
    z = np.zeros(shape, np.uint8)
    cv2.ellipse(z, (int(cx), int(cy)), (max(1, int(rx)), max(1, int(ry))), angle, 0, 360, 1, -1)
    return z > 0


def perturb(t: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The true mask `t` with one kind of defect."""
    h, w = t.shape
    r0 = float(np.sqrt(t.sum()))
    ys, xs = np.nonzero(t)
    i = rng.integers(len(xs))
    if kind == "lose":
        r = rng.uniform(0.15, 0.5) * r0
        return t & ~_ellipse(t.shape, xs[i], ys[i], r, r * rng.uniform(0.4, 1), rng.uniform(0, 180))
    if kind == "cut":  # a half-plane chunk off
        a = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[:h, :w]
        return t & ~((xx - xs[i]) * np.cos(a) + (yy - ys[i]) * np.sin(a) > rng.uniform(0.1, 0.4) * r0)
    if kind in ("take", "shadow"):
        edge = t & ~cv2.erode(t.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        ey, ex = np.nonzero(edge)
        if kind == "shadow":  # a flat blob under the product
            low = ey >= ys.max() - 0.1 * (ys.max() - ys.min() + 1)
            ey, ex = ey[low], ex[low]
        j = rng.integers(len(ex))
        r = rng.uniform(0.1, 0.6) * r0
        ry = r * (rng.uniform(0.15, 0.35) if kind == "shadow" else rng.uniform(0.4, 1))
        return t | _ellipse(t.shape, ex[j], ey[j], r, ry, 0 if kind == "shadow" else rng.uniform(0, 180))
    if kind == "fill":
        ff = t.astype(np.uint8).copy()
        cv2.floodFill(ff, np.zeros((h + 2, w + 2), np.uint8), (0, 0), 2)
        return t | (ff == 0)
    if kind == "punch":
        r = rng.uniform(0.08, 0.3) * r0
        return t & ~_ellipse(t.shape, xs[i], ys[i], r, r * rng.uniform(0.5, 1), rng.uniform(0, 180))
    if kind in ("erode", "dilate"):
        k = max(1, int(rng.uniform(0.01, 0.05) * r0))
        op = cv2.erode if kind == "erode" else cv2.dilate
        return op(t.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)).astype(bool)
    if kind == "both":
        return perturb(perturb(t, "lose", rng), "take", rng)
    return t


KINDS = ("lose", "cut", "take", "shadow", "fill", "punch", "erode", "dilate", "same", "lose", "take", "both")


def _at_work(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The RGB photo at most WORK px long and its mask (above 127) at the same size (the mask first
    brought to the photo's size, then both shrunk by one factor)."""
    img = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
    m = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 127
    if m.shape != img.shape[:2]:
        m = cv2.resize(m.astype(np.uint8), img.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    s = min(1.0, WORK / max(m.shape))
    if s < 1:
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        m = cv2.resize(m.astype(np.uint8), img.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    return img, m


def _photos(data: Path):
    """(stem, RGB, true mask) at most WORK px long, for every photo with a mask."""
    for mp in sorted((data / "masks").glob("*.png")):
        img, t = _at_work(next((data / "images").glob(mp.stem + ".*")), mp)
        if t.sum() >= 100:
            yield mp.stem, img, t


@click.group()
def main() -> None:
    """Make training pairs, train the scorer, score a measured set."""


@main.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--older", "older", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Older CutNet ONNX files (trained before DATA_DIR's photos): their cuts instead of perturbations.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def pairs(data_dir: Path, older, seed: int, out: Path) -> None:
    """(crop, IoU with the true mask) pairs of DATA_DIR's photos."""
    from product_augment.models.cut.runtime import CutPredictor, drop_fragments
    from product_augment.models.cut.synth import refuse_held_out
    from product_augment.models.yolact.runtime import load_predictor
    refuse_held_out(data_dir)
    rng = np.random.default_rng(seed)
    cuts = [CutPredictor(p, refiner=False) for p in older]
    yolact = None if cuts else load_predictor(str(ROOT / "weights/yolact_ws_effnetlite0.safetensors"), refine_radius=0.0)
    xs, ys = [], []
    for _, img, t in _photos(data_dir):
        if cuts:  # real errors: older cuts at three thresholds
            cands = [drop_fragments(c.alpha(img) > thr, 0.02) for c in cuts for thr in (0.3, 0.5, 0.7)]
        else:
            cands = [perturb(t, k, rng) for k in KINDS]
            _, soft = yolact.soft_masks(img, score_threshold=0.3)
            if len(soft):
                cands.append(cv2.resize((soft[0] > 0.5).astype(np.uint8), t.shape[::-1],
                                        interpolation=cv2.INTER_NEAREST) > 0)
        for c in cands:
            x = crop(img, c)
            if x is not None:
                xs.append(x)
                ys.append(iou(c, t))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, x=np.stack(xs), y=np.array(ys, np.float32))
    print(f"{len(ys)} pairs, {np.mean(np.array(ys) < 0.85):.2f} below IoU 0.85 -> {out}")


def _net():
    import torch
    from torch import nn

    def block(i, o, s):
        return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class Scorer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.f = nn.Sequential(block(4, 16, 2), block(16, 32, 2), block(32, 32, 1), block(32, 64, 2),
                                   block(64, 64, 1), block(64, 96, 2), block(96, 96, 1))
            self.h = nn.Sequential(nn.Linear(192, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))

        def forward(self, x):
            f = self.f(x / 255.0)
            return self.h(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1))[:, 0]  # the IoU's logit
    return Scorer()


@main.command()
@click.argument("pair_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--minutes", default=25.0, show_default=True)
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def train(pair_files, minutes: float, threads: int, out: Path) -> None:
    """BCE on the IoU (a soft target), AdamW with a cosine schedule, for --minutes."""
    import torch
    from safetensors.torch import save_file
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    loaded = [np.load(f) for f in pair_files]
    x_all = torch.from_numpy(np.concatenate([d["x"] for d in loaded])).permute(0, 3, 1, 2).contiguous()
    y_all = torch.from_numpy(np.concatenate([d["y"] for d in loaded]))
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t0, it = time.time(), 0
    while (frac := (time.time() - t0) / (minutes * 60)) < 1:
        idx = torch.randint(0, len(y_all), (64,))
        x, y = x_all[idx].float(), y_all[idx]
        if torch.rand(1) < 0.5:
            x = x.flip(3)
        gain, shift = torch.empty(64, 1, 1, 1).uniform_(0.8, 1.2), torch.empty(64, 3, 1, 1).uniform_(-20, 20)
        x[:, :3] = (x[:, :3] * gain + shift).clamp(0, 255)
        for g in opt.param_groups:
            g["lr"] = 2e-3 * 0.5 * (1 + np.cos(np.pi * frac))
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        it += 1
        if it % 500 == 0:
            print(it, f"{loss.item():.4f}", f"{time.time() - t0:.0f}s", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out))
    print(f"{it} iterations -> {out}")


@main.command()
@click.argument("weights", type=click.Path(exists=True, dir_okay=False))
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("measure_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("mask_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def score(weights, data_dir: Path, measure_json: Path, mask_dir: Path, out: Path) -> None:
    """The predicted IoU of each measured photo's mask (`qa_tune.py measure --masks`), the mean of
    the crop's and its mirror's; with the AUC against the measured IoU (< 0.85: defective)."""
    import torch
    from safetensors.torch import load_file
    net = _net()
    net.load_state_dict(load_file(weights))
    net.eval()
    rows = json.loads(measure_json.read_text())["images"]
    images = {p.stem: p for p in (data_dir / "images").iterdir()}
    res = {}
    with torch.no_grad():
        for stem in rows:
            mp = mask_dir / f"{stem}.png"
            if not mp.exists():
                continue
            x = crop(*_at_work(images[stem], mp))
            if x is None:
                continue
            t = torch.from_numpy(x).permute(2, 0, 1)[None].float()
            res[stem] = float((torch.sigmoid(net(t)) + torch.sigmoid(net(t.flip(3)))).item() / 2)
    from qa_tune import _auc  # the gate's own ranking measure
    bad = np.array([rows[k]["iou"] < 0.85 for k in res])
    auc = _auc(-np.array(list(res.values())), bad)  # a lower predicted IoU ranks a cut as worse
    auc = None if np.isnan(auc) else auc
    out.write_text(json.dumps({"auc_defective": auc, "pred_iou": res}, indent=0))
    print(f"{len(res)} photos, AUC (a lower predicted IoU for the defective) {auc}")


if __name__ == "__main__":
    main()
