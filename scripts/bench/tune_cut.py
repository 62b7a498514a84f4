"""Choose the cut's post-processing on the real-photo *validation* half: guided-filter window,
threshold, blend with YOLACT's matched mask, fragment size. Prints the grid, best first.

    python scripts/bench/tune_cut.py data/real/all --stems data/real/all/val.txt --cut-weights W [--top 10]

The networks run once per photo (the cut once per window); the grid replays `merge_with_detections`,
the function the segment step uses. Never run it on the test half.
"""
from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mask_metrics import scores


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--stems", "stems_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The validation photos (default: every mask in DATA_DIR).")
@click.option("--cut-weights", required=True)
@click.option("--weights", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True)
@click.option("--anchor-gap", type=float, default=None,
              help="With the anchor on, keep the cut's parts this near YOLACT's pick (× √ its area; "
                   "default: the cut sidecar's anchor_gap).")
@click.option("--top", default=10, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Every row of the grid.")
def main(data_dir: Path, stems_file: Path | None, cut_weights: str, weights: str, anchor_gap: float | None,
         top: int, json_out) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from product_augment.models.cut.runtime import CutPredictor, merge_with_detections
    from product_augment.models.yolact.runtime import load_predictor

    if "test" in (stems_file.name if stems_file else data_dir.name):
        raise click.ClickException("tune on the validation half, never on the test half")
    stems = stems_file.read_text().split() if stems_file else sorted(p.stem for p in (data_dir / "masks").glob("*.png"))
    yolact = load_predictor(weights, refine_radius=0.0)
    windows = (0.0, 0.005, 0.01, 0.02)
    cuts = {r: CutPredictor.from_weights(cut_weights, precision="auto", refine_radius=r) for r in windows}
    gap = cuts[windows[0]].anchor_gap if anchor_gap is None else anchor_gap
    cache = []
    images = {p.stem: p for p in (data_dir / "images").iterdir()}
    for stem in stems:
        image = cv2.cvtColor(cv2.imread(str(images[stem])), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(data_dir / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        found, soft = yolact.soft_masks(image, score_threshold=0.3)
        cache.append((gt, found, soft, {r: c.alpha(image) for r, c in cuts.items()}))
    rows = []
    grid = itertools.product(windows, (0.25, 0.3, 0.35, 0.4, 0.5), (0.0, 0.3, 0.5, 0.7), (0.01, 0.02, 0.05),
                             (False, True))
    for r, t, b, f, a in grid:
        ious = []
        for gt, found, soft, alphas in cache:
            kept = merge_with_detections(found, soft, alphas[r], 22, threshold=t, blend=b, min_fraction=f, anchor=a,
                                         anchor_gap=gap)
            pred = kept[0][0].mask if kept else np.zeros_like(gt)
            ious.append(scores(pred, gt)["iou"])
        ious = np.array(ious)
        rows.append((ious.mean(), np.median(ious), int((ious < 0.8).sum()), r, t, b, f, a))
    rows.sort(key=lambda x: -x[0])
    if json_out:
        import json
        keys = ("mean", "median", "below_0.8", "window", "threshold", "blend", "min_fragment", "anchor")
        json_out.write_text(json.dumps([{**dict(zip(keys, map(float, r))), "anchor_gap": gap} for r in rows], indent=0))
    print("mean\tmedian\t<0.8\twindow\tthreshold\tblend\tmin_fragment\tanchor")
    for row in rows[:top]:
        print("\t".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))


if __name__ == "__main__":
    sys.exit(main())
