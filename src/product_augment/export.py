"""`augment export coco|yolo OUT --run DIR`: one dataset from a run folder's manifest parts.

The export reads the merged history of the run folder (every part, the latest entry of each output
name, `ok` ones only, less those the quality gate rejected), so a folder filled by several incremental nights exports as one dataset.

* COCO: one JSON file (products; `file_name` relative to the run folder, whose location is in
  `info.image_root`), checked with pycocotools: the index builds, every segmentation decodes to the
  recorded area and lies inside its image.
* YOLO-seg: `OUT/images/{train,val}/`, `OUT/labels/{train,val}/` (polygons made from the recorded
  masks) and `OUT/dataset.yaml`; the split is the runner's (`annotations.yolo_split`, by source
  photo, so no variant of a validation photo is trained on).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from . import jobs as J
from .annotations import build_coco, rle_to_mask, yolo_dataset_yaml, yolo_names, yolo_seg_lines, yolo_split
from .storage import Store


class ExportError(Exception):
    pass


@dataclass(frozen=True)
class _Inst:
    class_id: int
    mask: np.ndarray


def dataset_entries(run_dir: Store) -> list[dict]:
    """The ok entries of a run folder (latest per output name), sorted by id."""
    if not J.part_names(run_dir) and not run_dir.exists(J.MANIFEST):
        raise ExportError(f"{run_dir.url}: no manifest parts or manifest.jsonl (not a run folder?)")
    history, _ = J.read_history(run_dir)
    if not history and run_dir.exists(J.MANIFEST):  # a run folder of the one-file era, read as is
        history = J.parse_lines(run_dir.read_bytes(J.MANIFEST))
    latest = J.latest_entries(history)
    from .qa import in_dataset

    # ok and not rejected by the quality gate (rejected outputs are under rejected/)
    return [latest[k] for k in sorted(latest) if in_dataset(latest[k])]


def check_coco(coco: dict) -> None:
    """pycocotools reads the file and every annotation decodes to its area, inside its image."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    api = COCO()
    api.dataset = json.loads(json.dumps(coco))
    api.createIndex()
    for ann in api.loadAnns(api.getAnnIds()):
        img = api.imgs[ann["image_id"]]
        rle = api.annToRLE(ann)
        if list(rle["size"]) != [img["height"], img["width"]]:
            raise ExportError(f"annotation {ann['id']}: mask size {rle['size']} is not its image's")
        if abs(float(mask_utils.area(rle)) - ann["area"]) > 0.5 or ann["area"] <= 0:
            raise ExportError(f"annotation {ann['id']}: area {ann['area']} does not match its mask")


def export_coco(run_dir: str, out: str) -> dict:
    src = Store(run_dir)
    entries = dataset_entries(src)
    coco = build_coco(entries)
    coco["info"]["image_root"] = src.location
    check_coco(coco)
    target = Store(out)
    parent, name = _split(target)
    parent.write_bytes(name, json.dumps(coco).encode())
    return {"images": len(coco["images"]), "annotations": len(coco["annotations"]), "out": out}


def export_yolo(run_dir: str, out: str) -> dict:
    src, dst = Store(run_dir), Store(out)
    entries = dataset_entries(src)
    if not entries:
        raise ExportError(f"{run_dir}: no finished images to export")
    counts = {}
    for split, items in yolo_split(entries).items():
        lines_written = []
        for e in items:
            image = e["outputs"]["image"]
            rel = str(PurePosixPath(image).relative_to("images"))
            w, h = e["size"]
            insts = [_Inst(i["class_id"], rle_to_mask(i["rle"])) for i in e["instances"]]
            dst.write_bytes(f"images/{split}/{rel}", src.read_bytes(image))
            label = str(PurePosixPath(rel).with_suffix(".txt"))
            dst.write_bytes(f"labels/{split}/{label}", "\n".join(yolo_seg_lines(insts, w, h)).encode() + b"\n")
            lines_written.append(f"./images/{split}/{rel}")
        counts[split] = len(lines_written)
    dst.write_bytes("dataset.yaml", yolo_dataset_yaml(yolo_names(entries), dst.location, "images/train", "images/val"))
    return {**counts, "out": out}


def _split(target: Store) -> tuple[Store, str]:
    """(folder store, file name) of a file location."""
    if target.local:
        return Store(target.root.parent), target.root.name
    url = target.url.rstrip("/")
    return Store(url.rsplit("/", 1)[0]), url.rsplit("/", 1)[1]
