"""Run-output annotations: COCO instance segmentation and YOLO-seg, built from the manifest."""
from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from .classes import GENERIC_PRODUCT, coco_categories

LAYER_CATEGORIES = {"logo": 101, "shadow": 102}


def coco_index(dataset: dict):
    """A pycocotools `COCO` over an in-memory dataset, indexed without pycocotools' "creating
    index..." lines on stdout (library code prints nothing)."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    api = COCO()
    api.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        api.createIndex()
    return api


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a bool mask, JSON-ready ({"size": [h, w], "counts": str})."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def rle_to_mask(rle: dict) -> np.ndarray:
    """The H×W uint8 (0/1) mask of a JSON-ready RLE (`mask_to_rle`'s form: counts as str)."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})


def rle_area(rle: dict) -> float:
    from pycocotools import mask as mask_utils

    return float(mask_utils.area({"size": rle["size"], "counts": rle["counts"].encode("ascii")}))


def build_coco(entries: list[dict]) -> dict:
    """annotations.json: the products of manifest entries (sorted by id), one annotation per
    instance (RLE, box, score); the generic `product` category only when used."""
    def products(e: dict) -> list[tuple]:
        return [(inst["class_id"], inst["rle"], inst["box"], inst.get("score", 1.0)) for inst in e["instances"]]

    coco = _coco(entries, products)
    used = {a["category_id"] for a in coco["annotations"]}
    coco["categories"] = coco_categories()
    if GENERIC_PRODUCT.id in used:
        coco["categories"].append({"id": GENERIC_PRODUCT.id, "name": GENERIC_PRODUCT.name,
                                   "supercategory": "product"})
    return coco


def build_layer_coco(entries: list[dict], layer_names: list[str]) -> dict:
    """layers.json: the named layers (shadow, logo) of the same images as their own categories,
    kept out of the products' file."""
    def layers(e: dict) -> list[tuple]:
        return [(LAYER_CATEGORIES[name], e["layer_rles"][name], e["layer_boxes"][name], 1.0)
                for name in layer_names if name in e.get("layer_rles", {})]

    coco = _coco(entries, layers)
    coco["categories"] = [{"id": cid, "name": name, "supercategory": "layer"}
                          for name, cid in LAYER_CATEGORIES.items() if name in layer_names]
    return coco


def _coco(entries: list[dict], objects) -> dict:
    images, anns = [], []
    for img_id, e in enumerate(sorted(entries, key=lambda e: e["id"]), start=1):
        w, h = e["size"]
        image = {"id": img_id, "file_name": e["outputs"]["image"], "width": w, "height": h}
        qa = e.get("qa") or {}
        if qa.get("verdict") == "flag":  # the quality gate's mark: kept, with the reasons
            image["qa_flagged"] = [f["reason"] for f in qa.get("failed", []) if f["action"] == "flag"]
        images.append(image)
        for cid, rle, box, score in objects(e):
            x0, y0, x1, y1 = box
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": cid,
                         "segmentation": rle, "area": rle_area(rle),
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 0, "score": score})
    return {"info": {"description": "product-augment output"}, "images": images, "annotations": anns,
            "categories": []}


def yolo_class_index(class_id: int) -> int:
    """YOLO class index (0-based) of a product class id (1..21, 22 = generic product)."""
    return class_id - 1


def yolo_seg_lines(instances, width: int, height: int) -> list[str]:
    """One `cls x1 y1 x2 y2 ...` line (normalised polygon) per instance part."""
    import cv2

    lines = []
    for inst in instances:
        contours, _ = cv2.findContours(inst.mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            if len(c) < 3 or cv2.contourArea(c) < 4:
                continue
            pts = c.reshape(-1, 2).astype(np.float64)
            coords = np.column_stack([pts[:, 0] / width, pts[:, 1] / height]).ravel()
            lines.append(f"{yolo_class_index(inst.class_id)} " + " ".join(f"{v:.6f}" for v in coords))
    return lines


# ---------------------------------------------------------------------------- YOLO dataset

YOLO_VAL_SHARE = 10  # percent of source images (with all their variants) in the YOLO val split


def yolo_is_val(source: str, val_share: int = YOLO_VAL_SHARE) -> bool:
    """Whether a source's variants go to val: a stable hash of its path, so no variant of a
    validation photo is trained on (the one rule of `yolo_split` and the run's streamed lists)."""
    from .pipeline import stable_hash

    return stable_hash(source) % 100 < val_share


def yolo_small_run_val(train_sources: Iterable[str]) -> str | None:
    """A run whose hash rule put no source in val: the source whose variants go to val instead
    (the last by name), when it has at least two; else None."""
    sources = sorted(set(train_sources))
    return sources[-1] if len(sources) > 1 else None


def yolo_split(entries: list[dict], val_share: int = YOLO_VAL_SHARE) -> dict[str, list[dict]]:
    """A real train/val split of manifest entries by *source* (`yolo_is_val`); entries sorted by id.
    A small run with no val source moves every variant of one source to val (`yolo_small_run_val`)."""
    split: dict[str, list[dict]] = {"train": [], "val": []}
    for e in sorted(entries, key=lambda e: e["id"]):
        split["val" if yolo_is_val(e["source"], val_share) else "train"].append(e)
    last = None if split["val"] else yolo_small_run_val(e["source"] for e in split["train"])
    if last is not None:  # small runs: still something to validate on
        split["val"] = [e for e in split["train"] if e["source"] == last]
        split["train"] = [e for e in split["train"] if e["source"] != last]
    return split


def yolo_class_names(generic: bool) -> list[str]:
    """The 21 class names, plus `product` (index 21) when an instance has the generic class."""
    from .classes import CLASS_NAMES

    assert not generic or yolo_class_index(GENERIC_PRODUCT.id) == len(CLASS_NAMES)
    return list(CLASS_NAMES) + ([GENERIC_PRODUCT.name] if generic else [])


def yolo_names(entries: list[dict]) -> list[str]:
    """The YOLO class names of these entries (`yolo_class_names`)."""
    return yolo_class_names(any(i["class_id"] == GENERIC_PRODUCT.id for e in entries for i in e["instances"]))


def yolo_dataset_yaml(names: list[str], root: str, train: str = "train.txt", val: str = "val.txt") -> bytes:
    """Ultralytics' dataset.yaml. `path` is the dataset folder's absolute path (or URL): a relative
    one is resolved by the loader against its own datasets folder or the working directory, not
    against the YAML file, so training would fail unless started inside the dataset."""
    body = "\n".join(f"  {i}: {n}" for i, n in enumerate(names))
    return f"path: {json.dumps(root)}\ntrain: {train}\nval: {val}\nnames:\n{body}\n".encode()
