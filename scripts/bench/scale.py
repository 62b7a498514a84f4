"""Per-entry costs of a run as the inputs grow (issue 27, docs/SCALE.md).

Tiny inputs (64-px RGBA PNGs, each with its own pixels) and an engine-bound preset (`alpha`
segmentation, a solid 64-px canvas, PNG + COCO + YOLO), so the run's own costs dominate:

    python scripts/bench/scale.py make  --n 100000 --dir /tmp/scale/in100k
    python scripts/bench/scale.py run   --input /tmp/scale/in100k --output /tmp/scale/o100k [--workers 1] [--limit N]
    python scripts/bench/scale.py plan  --input /tmp/scale/in100k

`run` prints wall time, peak RSS (`/usr/bin/time -v`: the largest process of the tree), the time
to the first output file and the summary line; run it twice for "a rerun with nothing to do".
`plan` times listing, names and job ids alone (no output folder).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import numpy as np

PRESET = """version: 1
seed: 3
variants: 1
output: {format: png, annotations: [coco, yolo]}
qa: {action: keep}
steps:
  - segment: {backend: alpha, class_name: cup}
  - background: {kind: solid, color: white, canvas: {size: 64, aspect: 1.0}, scale: 0.7}
"""


@click.group()
def main() -> None:
    pass


@main.command()
@click.option("--n", type=int, required=True)
@click.option("--dir", "folder", type=click.Path(path_type=Path), required=True)
def make(n: int, folder: Path) -> None:
    """N distinct 64-px RGBA PNGs: a disc on transparency, its colour and one pixel row from the index."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:64, :64]
    disc = ((yy - 32) ** 2 + (xx - 32) ** 2 <= 22 ** 2).astype(np.uint8) * 255
    for i in range(n):
        p = folder / f"p{i:06d}.png"
        if p.exists():
            continue
        img = np.zeros((64, 64, 4), np.uint8)
        img[..., 0], img[..., 1], img[..., 2] = 40 + i % 200, 80 + (i // 200) % 150, 120 + (i // 30000) % 100
        img[..., 3] = disc
        img[32, 20:44, 0] = [(i >> k) & 1 and 255 for k in range(24)]  # the index's bits: no two alike
        cv2.imwrite(str(p), cv2.cvtColor(img, cv2.COLOR_RGBA2BGRA))
    click.echo(f"{n} inputs in {folder}")


def preset_file(folder: Path) -> Path:
    p = folder / "scale-preset.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    p.write_text(PRESET)
    return p


@main.command()
@click.option("--input", "inp", type=click.Path(path_type=Path), required=True)
@click.option("--output", "out", type=click.Path(path_type=Path), required=True)
@click.option("--workers", type=int, default=1)
@click.option("--limit", type=int, default=None)
@click.option("--extra", default="", help="More `augment run` options.")
@click.option("--watch", default=None, help="The output image to wait for (a folder of 100k files is "
              "too big to list every few ms without slowing the run down), e.g. p100000__v00.png.")
def run(inp: Path, out: Path, workers: int, limit: int | None, extra: str, watch: str | None) -> None:
    preset = preset_file(out.parent)
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "product_augment.cli.main", "run", "--config", str(preset),
           "--input", str(inp), "--output", str(out), "--workers", str(workers), "--no-progress", *extra.split()]
    if limit:
        cmd += ["--limit", str(limit)]
    first: list[float] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    images = out / "images"
    done = threading.Event()

    def poll() -> None:
        if watch:
            while not done.is_set():
                if (images / watch).exists():
                    first.append(time.perf_counter() - t0)
                    return
                time.sleep(0.01)
            return
        seen = set(os.listdir(images)) if images.is_dir() else set()
        while not done.is_set():
            if images.is_dir():
                with os.scandir(images) as it:
                    if any(e.name.endswith(".png") and e.name not in seen for e in it):
                        first.append(time.perf_counter() - t0)
                        return
            time.sleep(0.02)

    threading.Thread(target=poll, daemon=True).start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    click.echo(stdout.strip().splitlines()[0] if stdout.strip() else stderr[-2000:])
    click.echo(f"wall {wall:.2f} s, peak RSS {int(rss.group(1)) / 1024 if rss else float('nan'):.0f} MB, "
               f"first output {first[0] if first else float('nan'):.2f} s")


@main.command()
@click.option("--input", "inp", type=click.Path(path_type=Path), required=True)
def plan(inp: Path) -> None:
    """Listing, output names and job ids of N inputs (what every run, even one with nothing to do, pays)."""
    from product_augment import jobs as J
    from product_augment.io import list_inputs

    t = time.perf_counter()
    rels, _ = list_inputs(inp)
    t_list = time.perf_counter() - t
    t = time.perf_counter()
    bases = J.output_bases(rels)
    t_names = time.perf_counter() - t
    t = time.perf_counter()
    jobs = J.make_jobs(rels, 1, dict.fromkeys(rels, "0" * 64), "p" * 64)
    t_jobs = time.perf_counter() - t
    click.echo(f"{len(rels)} inputs: list {t_list:.2f} s, names {t_names:.2f} s, jobs {t_jobs:.2f} s "
               f"({len(bases)} names, {len(jobs)} jobs)")


if __name__ == "__main__":
    main()
