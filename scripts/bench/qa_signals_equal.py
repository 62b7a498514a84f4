"""The quality gate's cut signals of this checkout against another one's: field by field on real
photos with several mattes each, then the time of each, alternated (one thread).

    python scripts/bench/qa_signals_equal.py --old ../main/src \\
        --cases data/real/all:data/real/all/val.txt:runs/s10/val_pred \\
        --cases data/real/all:data/real/all/test.txt:/tmp/gate_pred_test \\
        --cases data/real/pool::data/real/pool/cand_u2net --cases synthetic:1000 \\
        --time data/real/all:data/real/all/val.txt:runs/s10/val_pred

A case set is DATA[:STEMS[:PRED]]: the photos DATA/images/<stem>.* (all, or those named in STEMS),
each with its matte from PRED/<stem>.png (a cut's prediction) and DATA/masks/<stem>.png (the
checked mask) where they exist, and a Gaussian-blurred float copy of each (a soft matte: the area
shrink of a float alpha); or `synthetic[:N]`, made-up pictures and mattes for the edge cases. The
signals (rounded, as the gate keeps them) must be equal, every field, in order. `--time` times
`segment_signals` of both checkouts on the photos of one case set with their first matte (the
cut's prediction where given), alternating old and new `--rounds` times after one warm-up pass.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import click
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from product_augment.io import read_image
from product_augment.qa import signals as new
from product_augment.threads import limit_threads

SCORE = 0.9


def _load_old(src: Path):
    """The other checkout's signals module, as a sibling of this one's (its relative imports, the
    labelling helper, resolve to this checkout: check that they are the same file)."""
    path = src / "product_augment" / "qa" / "signals.py"
    spec = importlib.util.spec_from_file_location("product_augment.qa._signals_old", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _mask(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    if not path.exists():
        return None
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m.shape != shape:
        m = cv2.resize(m, shape[::-1], interpolation=cv2.INTER_NEAREST)
    return (m > 127).astype(np.float32)


def _soft(alpha: np.ndarray) -> np.ndarray:
    """A soft copy of a hard matte: its edge blurred over about 1 % of the side."""
    sigma = max(1.0, 0.005 * max(alpha.shape))
    return cv2.GaussianBlur(alpha, (0, 0), sigma)


def _synthetic(n: int, seed: int = 0):
    """Made-up cases for the edges: small and large pictures (some under the working size), mattes
    touching the frame, filling it, single pixels, speckle with many parts and holes, soft blobs."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = (int(np.exp(rng.uniform(np.log(8), np.log(700)))) for _ in range(2))  # many under 30 px
        rgb = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), np.uint8), (0, 0), float(rng.uniform(0.5, 6)))
        kind = i % 5
        if kind == 0:    # a blob, anywhere (often cut by the frame)
            cy, cx = rng.uniform(-0.2, 1.2) * h, rng.uniform(-0.2, 1.2) * w
            r = rng.uniform(0.05, 0.7) * max(h, w)
            yy, xx = np.mgrid[:h, :w]
            alpha = (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r).astype(np.float32)
        elif kind == 1:  # speckle: many parts and holes
            noise = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 2.0)
            alpha = (noise > 0.5).astype(np.float32)
        elif kind == 2:  # the whole picture, or all but a corner
            alpha = np.ones((h, w), np.float32)
            if rng.random() < 0.5:
                alpha[: h // 3, : w // 3] = 0
        elif kind == 3:  # a few pixels
            alpha = np.zeros((h, w), np.float32)
            alpha[rng.integers(0, h, 3), rng.integers(0, w, 3)] = 1
        else:            # a soft blob
            seeds = (rng.random((h, w), dtype=np.float32) < 0.002).astype(np.float32)
            alpha = cv2.GaussianBlur(seeds, (0, 0), 0.05 * max(h, w))
            alpha /= max(float(alpha.max()), 1e-6)
        yield f"synthetic{i}", rgb, [(f"kind{kind}", alpha)]


def _cases(spec: str):
    """(name, image, [(matte name, alpha)]) of a case set DATA[:STEMS[:PRED]], or `synthetic:N`."""
    if spec.startswith("synthetic"):
        yield from _synthetic(int(spec.partition(":")[2] or 200))
        return
    data, stems_file, pred = (spec.split(":") + [None, None])[:3]
    data = Path(data)
    images = {p.stem: p for p in sorted((data / "images").iterdir())}
    stems = Path(stems_file).read_text().split() if stems_file else sorted(images)
    for stem in stems:
        rgb, _ = read_image(images[stem])
        mattes = []
        for name, path in (("pred", Path(pred) / f"{stem}.png" if pred else None),
                           ("mask", data / "masks" / f"{stem}.png")):
            m = _mask(path, rgb.shape[:2]) if path else None
            if m is not None:
                mattes += [(name, m), (name + "-soft", _soft(m))]
        yield stem, rgb, mattes


@click.command()
@click.option("--old", "old_src", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The other checkout's src folder.")
@click.option("--cases", "case_specs", multiple=True, required=True, help="DATA[:STEMS[:PRED]], repeatable.")
@click.option("--time", "time_spec", help="DATA[:STEMS[:PRED]]: time both on these photos.")
@click.option("--rounds", default=3, show_default=True)
def main(old_src: Path, case_specs: tuple[str, ...], time_spec: str | None, rounds: int) -> None:
    limit_threads()
    old = _load_old(old_src)
    helper = "product_augment/ops/matte.py"
    same_helper = (old_src / helper).read_text() == (ROOT / "src" / helper).read_text()
    print(f"old: {old.__file__}\nnew: {new.__file__}\nops/matte.py identical: {same_helper}")
    total = differing = fields = 0
    for spec in case_specs:
        n = bad = 0
        for stem, rgb, mattes in _cases(spec):
            for name, alpha in mattes:
                a, b = old.segment_signals(rgb, alpha, SCORE), new.segment_signals(rgb, alpha, SCORE)
                n += 1
                fields += len(a)
                if list(a.items()) != list(b.items()):
                    bad += 1
                    diff = {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
                    print(f"  DIFFERENT {stem} {name}: {diff}" if diff else f"  ORDER {stem} {name}")
        print(f"{spec}: {n} cases, {bad} differ")
        total += n
        differing += bad
    print(f"all: {total} (photo, matte) cases, {fields} fields, {differing} cases differ")

    if time_spec:
        photos = [(rgb, mattes[0][1]) for _, rgb, mattes in _cases(time_spec) if mattes]
        print(f"time on {time_spec}: {len(photos)} photos, ms per photo")
        for rgb, alpha in photos:  # warm both up
            old.segment_signals(rgb, alpha, SCORE), new.segment_signals(rgb, alpha, SCORE)
        for r in range(rounds):
            row = []
            for label, mod in (("old", old), ("new", new)):
                t0 = time.perf_counter()
                for rgb, alpha in photos:
                    mod.segment_signals(rgb, alpha, SCORE)
                row.append(f"{label} {1000 * (time.perf_counter() - t0) / len(photos):.2f}")
            print(f"  round {r + 1}: " + "  ".join(row))
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
