"""Contact sheets of COCO scenes with their instance masks overlaid, for eyeballing data quality."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..annotations import coco_index
from ..classes import class_name
from ..io import read_image
from .bank import read_rgba


def _colour(k: int) -> np.ndarray:
    hue = (k * 47) % 180
    hsv = np.uint8([[[hue, 220, 255]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def overlay(image: np.ndarray, masks: list[np.ndarray], labels: list[str], opacity: float = 0.45) -> np.ndarray:
    """Tint each mask, outline it, and write its label at its box corner."""
    out = image.astype(np.float32)
    for k, m in enumerate(masks):
        col = _colour(k)
        out[m] = out[m] * (1 - opacity) + col * opacity
    out = np.clip(out, 0, 255).astype(np.uint8)
    for k, (m, label) in enumerate(zip(masks, labels)):
        col = tuple(int(v) for v in _colour(k))
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, col, 1)
        ys, xs = np.nonzero(m)
        if ys.size:
            org = (int(xs.min()), max(12, int(ys.min()) - 2))
            cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def contact_sheet(split_dir: Path, out_path: Path, count: int = 16, cols: int = 4, tile: int = 256,
                  start: int = 0) -> Path:
    """Grid of ``count`` images of a COCO split folder, each shown with its masks overlaid."""
    split_dir = Path(split_dir)
    coco = coco_index(json.loads((split_dir / "annotations.json").read_text()))
    ids = sorted(coco.getImgIds())[start:start + count]
    rows = (len(ids) + cols - 1) // cols
    sheet = np.full((rows * tile, cols * tile, 3), 255, np.uint8)
    for n, image_id in enumerate(ids):
        info = coco.loadImgs(image_id)[0]
        img = read_image(split_dir / info["file_name"])[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        masks = [coco.annToMask(a).astype(bool) for a in anns]
        labels = [class_name(a["category_id"]) for a in anns]
        vis = cv2.resize(overlay(img, masks, labels), (tile, tile), interpolation=cv2.INTER_AREA)
        r, c = divmod(n, cols)
        sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = vis
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out_path, optimize=True)
    return out_path


def cutout_sheet(bank_dir: Path, records: list, out_path: Path, cols: int = 8, tile: int = 128) -> Path:
    """Grid of bank cutouts on a checkerboard (to check uprightness and alpha)."""
    rows = max(1, (len(records) + cols - 1) // cols)
    sheet = np.zeros((rows * tile, cols * tile, 3), np.float32)
    yy, xx = np.mgrid[0:tile, 0:tile]
    checker = np.where(((yy // 8 + xx // 8) % 2)[..., None] == 0, 200.0, 235.0) * np.ones(3)
    for n, rec in enumerate(records):
        rgba = read_rgba(Path(bank_dir) / rec.file).astype(np.float32)
        f = (tile - 8) / max(rgba.shape[:2])
        rgba = cv2.resize(rgba, (max(1, int(rgba.shape[1] * f)), max(1, int(rgba.shape[0] * f))),
                          interpolation=cv2.INTER_AREA)
        cell = checker.copy()
        h, w = rgba.shape[:2]
        y0, x0 = (tile - h) // 2, (tile - w) // 2
        a = rgba[..., 3:4] / 255.0
        cell[y0:y0 + h, x0:x0 + w] = rgba[..., :3] * a + cell[y0:y0 + h, x0:x0 + w] * (1 - a)
        r, c = divmod(n, cols)
        sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = cell
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(sheet, 0, 255).astype(np.uint8)).save(out_path, optimize=True)
    return out_path


def save_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=1, sort_keys=True))
