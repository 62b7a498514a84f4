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
from typing import Any

import numpy as np

from .annotations import (
    build_coco,
    coco_index,
    rle_to_mask,
    yolo_dataset_yaml,
    yolo_names,
    yolo_seg_lines,
    yolo_split,
)
from .jobs import parts as J
from .storage import Store, UnsafePath


class ExportError(Exception):
    """An export that cannot be made; the message names the file (and entry) and says why."""


@dataclass(frozen=True)
class _Inst:
    class_id: int
    mask: np.ndarray


def read_latest(run_dir: Store, error: type[Exception] | None = None) -> dict[str, dict]:
    """The latest entry of every output name of a run folder (its history: the compacted database
    and the parts; a folder of the one-file era: its manifest.jsonl)."""
    from .history import History

    if not J.part_names(run_dir) and not run_dir.exists(J.MANIFEST) and not run_dir.exists(J.HISTORY_DB):
        raise (error or ExportError)(f"{run_dir.url}: no manifest parts or manifest.jsonl (not a run folder?)")
    with History.open(run_dir, writable=False) as h:
        if not h.empty:
            return {i: e for i, e, _ in h.latest()}
    return J.latest_entries(J.parse_lines(run_dir.read_bytes(J.MANIFEST))) if run_dir.exists(J.MANIFEST) else {}


def dataset_entries(run_dir: Store) -> list[dict]:
    """The ok entries of a run folder (latest per output name), sorted by id."""
    latest = J.on_disk(run_dir, read_latest(run_dir), keep_unsafe=True)  # the runner's views' rule
    from .qa import in_dataset

    # ok and not rejected by the quality gate (rejected outputs are under rejected/)
    return [latest[k] for k in sorted(latest) if in_dataset(latest[k])]


def check_coco(coco: dict) -> None:
    """pycocotools reads the file and every annotation decodes to its area, inside its image."""
    from pycocotools import mask as mask_utils

    api = coco_index(json.loads(json.dumps(coco)))  # indexed without pycocotools' "creating index..."
    for ann in api.loadAnns(api.getAnnIds()):
        img = api.imgs[ann["image_id"]]
        rle = api.annToRLE(ann)
        if list(rle["size"]) != [img["height"], img["width"]]:
            raise ExportError(f"annotation {ann['id']}: mask size {rle['size']} is not its image's")
        if abs(float(mask_utils.area(rle)) - ann["area"]) > 0.5 or ann["area"] <= 0:
            raise ExportError(f"annotation {ann['id']}: area {ann['area']} does not match its mask")


def _image_of(run_dir: Store, e: dict) -> str:
    """An entry's `outputs.image`, checked: a plain relative path under the run's `images/` (a
    crafted entry never makes the export read or write outside the run and the export folder)."""
    image = (e.get("outputs") or {}).get("image")
    p = PurePosixPath(image) if isinstance(image, str) else None
    if p is None or p.is_absolute() or "\\" in image or ".." in p.parts or p.parts[:1] != ("images",) \
            or len(p.parts) < 2:
        raise ExportError(f"{run_dir.url}: entry {e.get('id')!r}: outputs.image {image!r} is not a file "
                          f"under the run's images/ folder")
    return image


def _guarded(fn: Any, *args: Any) -> dict:
    """`fn(*args)`, with a path outside a store and an I/O error as one ExportError line."""
    try:
        return fn(*args)
    except UnsafePath as e:
        raise ExportError(str(e)) from None
    except OSError as e:
        raise ExportError(f"{e.filename or args[-1]}: {e.strerror or e}") from None


def export_coco(run_dir: str, out: str) -> dict:
    """The run's dataset as one COCO file at `out` (checked with pycocotools)."""
    return _guarded(_export_coco, run_dir, out)


def export_yolo(run_dir: str, out: str) -> dict:
    """The run's dataset as a YOLO-seg folder at `out` (images, labels, dataset.yaml)."""
    return _guarded(_export_yolo, run_dir, out)


def _export_coco(run_dir: str, out: str) -> dict:
    src = Store(run_dir)
    entries = dataset_entries(src)
    for e in entries:
        _image_of(src, e)
    coco = build_coco(entries)
    coco["info"]["image_root"] = src.location
    check_coco(coco)
    target = Store(out)
    parent, name = _split(target)
    parent.write_bytes(name, json.dumps(coco).encode())
    return {"images": len(coco["images"]), "annotations": len(coco["annotations"]), "out": out}


def _export_yolo(run_dir: str, out: str) -> dict:
    src, dst = Store(run_dir), Store(out)
    entries = dataset_entries(src)
    if not entries:
        raise ExportError(f"{run_dir}: no finished images to export")
    for e in entries:  # every entry checked before anything is written
        _image_of(src, e)
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
