"""Class of the top product on labelled real photos: YOLACT's class head against the product classifier.

    python scripts/bench/real_classes.py DATA_DIR [--stems val.txt] [--json OUT]

DATA_DIR holds ``images/`` and ``classes.json`` ({stem: class}). The product's mask is the segment
step's own (the shipped `yolact` backend, `class_from: yolact`), so the classifier sees what it sees
in a run. Prints the accuracy of YOLACT's class, of the classifier, and of the classifier with a
fallback to YOLACT's class below a few ``min_mass`` values (how the shipped threshold was chosen),
and the classifier's confusions.
"""
from __future__ import annotations

import collections
import json
import os
import sys
from pathlib import Path

import click
import numpy as np


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--stems", "stems_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--classifier", default="weights/classify_effnetlite0.safetensors", show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
def main(data_dir: Path, stems_file: Path | None, classifier: str, json_out: Path | None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from product_augment.classes import CLASS_ID, CLASS_NAMES
    from product_augment.models.classify.runtime import ProductClassifier
    from product_augment.sample import Sample
    from product_augment.steps import segment

    cv2.setNumThreads(1)
    cfg = segment.YolactConfig.model_validate(
        {"backend": "yolact", "weights": "weights/yolact_ws_effnetlite0.safetensors", "class_from": "yolact"},
        context={"base_dir": "."})
    step = segment.build(cfg)
    clf = ProductClassifier.from_weights(classifier)
    classes = json.loads((data_dir / "classes.json").read_text())
    stems = [s for s in (stems_file.read_text().split() if stems_file else sorted(classes)) if s in classes]
    images = {p.stem: p for p in (data_dir / "images").iterdir()}
    rows = []
    for stem in stems:
        image = cv2.cvtColor(cv2.imread(str(images[stem])), cv2.COLOR_BGR2RGB)
        try:
            inst = step.apply(Sample(image=image), {}).instances[0]
        except Exception as e:  # noqa: BLE001 - no product: counted wrong for both
            print(f"{stem}: {e}", file=sys.stderr)
            rows.append({"stem": stem, "true": CLASS_ID[classes[stem]], "yolact": 0, "p": [0.0] * len(CLASS_NAMES)})
            continue
        rows.append({"stem": stem, "true": CLASS_ID[classes[stem]], "yolact": inst.class_id,
                     "p": clf.probabilities(image, inst.mask).tolist()})
    t = np.array([r["true"] for r in rows])
    y = np.array([r["yolact"] for r in rows])
    P = np.array([r["p"] for r in rows])
    c, mass = P.argmax(1) + 1, P.sum(1)
    out = {"n": len(rows), "yolact": float((y == t).mean()), "classifier": float((c == t).mean()),
           "fallback": {str(m): float((np.where(mass >= m, c, y) == t).mean()) for m in (0.05, 0.1, 0.2, 0.3, 0.5)}}
    conf = collections.Counter((CLASS_NAMES[a - 1], CLASS_NAMES[b - 1]) for a, b in zip(t, c) if a != b)
    out["confusions"] = [f"{a} → {b}: {n}" for (a, b), n in conf.most_common()]
    print(json.dumps({k: v for k, v in out.items() if k != "confusions"}, indent=1))
    print("classifier confusions (true → predicted):", "; ".join(out["confusions"][:15]))
    if json_out:
        json_out.write_text(json.dumps({**out, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
