"""Whole-process time of `augment run` against rembg-u2netp's background removal alone, same folder.

    python scripts/bench/vs_rembg.py --input FOLDER [--preset transparent] [--rembg-python /tmp/peer/bin/python]

Both run on one core (`taskset -c 0`, OMP_NUM_THREADS=1, one worker) as fresh processes, start-up included, and
are timed in alternation (`--rounds`). rembg runs in its own environment (see
`../shared/tools/peer_rembg.py` for its set-up): `new_session("u2netp")`, then `remove()` on each
image, writing nothing. Prints one Markdown row per round and the medians.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

REMBG = """
import sys, glob
from PIL import Image
from rembg import new_session, remove
sess = new_session("u2netp")
for f in sorted(glob.glob(sys.argv[1] + "/*")):
    remove(Image.open(f).convert("RGB"), session=sess)
"""


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    if shutil.which("taskset"):  # one core for real: ONNX Runtime's own pool ignores OMP_NUM_THREADS
        cmd = ["taskset", "-c", "0", *cmd]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


@click.command()
@click.option("--input", "input_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True)
@click.option("--preset", default="transparent", show_default=True, help="shipped preset name or YAML path")
@click.option("--rembg-python", default="/tmp/peer/bin/python", show_default=True)
@click.option("--rounds", default=3, show_default=True)
def main(input_dir: Path, preset: str, rembg_python: str, rounds: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    augment = str(Path(sys.executable).with_name("augment"))
    n = sum(1 for p in input_dir.iterdir() if p.is_file())
    ours, peer = [], []
    click.echo("| round | augment run (s) | rembg-u2netp remove only (s) | ratio |\n|---|---:|---:|---:|")
    for r in range(rounds):
        out = Path(tempfile.mkdtemp(prefix="vs_rembg_"))
        try:
            ours.append(_timed([augment, "run", "--config", preset, "--input", str(input_dir), "--output",
                                str(out / "o"), "--workers", "1"], env))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        peer.append(_timed([rembg_python, "-c", REMBG, str(input_dir)], env))
        click.echo(f"| {r + 1} | {ours[-1]:.2f} | {peer[-1]:.2f} | {peer[-1] / ours[-1]:.2f}× |")
    mo, mp = statistics.median(ours), statistics.median(peer)
    click.echo(f"\n{n} images; median augment {mo:.2f} s ({mo / n * 1000:.0f} ms/image incl. start-up), "
               f"rembg {mp:.2f} s ({mp / n * 1000:.0f} ms/image): augment is {mp / mo:.2f}× faster")


if __name__ == "__main__":
    main()
