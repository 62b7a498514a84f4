"""Benchmark data: image sets with foreground masks, read once and put into one square frame.

Two layouts are read: a COCO folder (``images/`` + ``annotations.json``; the foreground is the union
of the product instances, category id ≤ 22, not logo/shadow layers) and an image+mask folder
(``images/<stem>.*`` + ``masks/<stem>.png``, foreground = mask > 127; the layout of the shop sets and
of ``shared/tools/peer_rembg.py``). A set may be narrowed to the stems listed in a text file
(``stems``: one file stem a line, e.g. ``data/real/all/test.txt``). For test sets with COCO
annotations the product instances are kept too (``instances``), for the instance mAP.

The resize policy, shared by training and testing: scale the longer side to ``size`` (INTER_AREA for
the image, nearest for the mask) and fill the rest of the square by repeating the edge pixels
(cv2.BORDER_REPLICATE; ``pad: constant`` gives the old black bars). The padded pixels are marked
invalid: training gives them no loss weight and every metric is computed on the valid region only.
"""
from __future__ import annotations

import contextlib
import io as _io
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..io import SUPPORTED_SUFFIXES, ImageReadError, read_image

PAD_MODES = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}
PRODUCT_MAX_CATEGORY = 22  # COCO category ids above this are layers (logo, shadow), not products
# aspect ratio (width / height) buckets for per-shape reporting: [lo, hi)
ASPECT_BUCKETS = (("portrait (w/h < 0.95)", 0.0, 0.95), ("square (0.95–1.05)", 0.95, 1.05),
                  ("landscape (w/h ≥ 1.05)", 1.05, float("inf")))


@dataclass
class ArraySet:
    """Images in the bench frame: x (N×S×S×3 uint8), y (N×S×S bool foreground), valid (N×S×S bool,
    False on padding), aspect (N, width/height of the original), names (N file names) and, for sets
    read with their COCO instances, `instances` (per image, a list of S×S bool masks)."""

    x: np.ndarray
    y: np.ndarray
    valid: np.ndarray
    aspect: np.ndarray
    names: list[str]
    instances: list[list[np.ndarray]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.x)

    @staticmethod
    def concat(*sets: ArraySet) -> ArraySet:
        return ArraySet(np.concatenate([s.x for s in sets]), np.concatenate([s.y for s in sets]),
                        np.concatenate([s.valid for s in sets]), np.concatenate([s.aspect for s in sets]),
                        [n for s in sets for n in s.names])

    def subset(self, idx) -> ArraySet:
        idx = np.asarray(idx, int)
        return ArraySet(self.x[idx], self.y[idx], self.valid[idx], self.aspect[idx],
                        [self.names[i] for i in idx],
                        None if self.instances is None else [self.instances[i] for i in idx])


def aspect_bucket(aspect: float) -> str:
    for name, lo, hi in ASPECT_BUCKETS:
        if lo <= aspect < hi:
            return name
    return ASPECT_BUCKETS[-1][0]


def fit_square(img: np.ndarray, mask: np.ndarray, size: int, pad: str = "replicate"
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, mask, valid) in a size×size frame: longer side scaled to `size`, centred, the rest
    filled by `pad` (image) and 0 (mask); `valid` is False on the fill."""
    h, w = img.shape[:2]
    s = size / max(h, w)
    nh, nw = max(1, min(size, round(h * s))), max(1, min(size, round(w * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    r = cv2.resize(img, (nw, nh), interpolation=interp)
    top, left = (size - nh) // 2, (size - nw) // 2
    bottom, right = size - nh - top, size - nw - left
    border = PAD_MODES[pad]
    out = cv2.copyMakeBorder(r, top, bottom, left, right, border, value=(0, 0, 0))
    m_out = _fit_mask(mask, size)
    valid = np.zeros((size, size), bool)
    valid[top:top + nh, left:left + nw] = True
    return out, m_out, valid


def valid_box(valid: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the valid (unpadded) rectangle."""
    rows, cols = np.flatnonzero(valid.any(1)), np.flatnonzero(valid.any(0))
    if not len(rows):
        return 0, 0, 0, 0
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def detect_format(root: Path) -> str:
    root = Path(root)
    if (root / "annotations.json").is_file():
        return "coco"
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return "masks"
    raise FileNotFoundError(f"{root}: neither a COCO folder (annotations.json) nor an image+mask folder "
                            f"(images/ and masks/)")


def read_stems(path: Path) -> set[str]:
    """The file stems listed in a text file, one a line (blank lines and # comments skipped)."""
    return {s for line in Path(path).read_text(encoding="utf-8").splitlines()
            if (s := line.split("#", 1)[0].strip())}


def list_items(root: Path, fmt: str = "auto", limit: int | None = None,
               stems: Path | None = None) -> tuple[str, list[str]]:
    """(format, relative image paths sorted) of a set, only those whose stem `stems` lists when
    given; the first `limit` of them."""
    root = Path(root)
    fmt = detect_format(root) if fmt == "auto" else fmt
    keep = read_stems(stems) if stems is not None else None
    if fmt == "coco":
        data = json.loads((root / "annotations.json").read_text())
        names = sorted(im["file_name"] for im in data.get("images", []))
    elif fmt == "masks":
        masks = {p.stem for p in (root / "masks").iterdir() if p.is_file()}
        names = sorted(f"images/{p.name}" for p in (root / "images").iterdir()
                       if p.suffix.lower() in SUPPORTED_SUFFIXES and p.stem in masks)
    else:
        raise ValueError(f"unknown set format {fmt!r} (coco, masks or auto)")
    if keep is not None:
        names = [n for n in names if Path(n).stem in keep]
    return fmt, names[:limit] if limit is not None else names


def _read(root: Path, rel: str, where: Path) -> np.ndarray:
    try:
        return read_image(root / rel)[0]
    except ImageReadError as e:
        raise FileNotFoundError(f"{root / rel} listed in {where} cannot be read: {e}") from None


def read_items(root: Path, fmt: str = "auto", limit: int | None = None, stems: Path | None = None,
               instances: bool = False):
    """Yield (relative name, RGB image, bool foreground mask) at the files' own resolution; with
    `instances` (COCO sets only), (name, image, mask, list of instance masks)."""
    root = Path(root)
    fmt, names = list_items(root, fmt, limit, stems)
    if fmt == "coco":
        from pycocotools.coco import COCO

        ann_path = root / "annotations.json"
        with contextlib.redirect_stdout(_io.StringIO()):
            coco = COCO(str(ann_path))
        by_name = {im["file_name"]: im for im in coco.dataset.get("images", [])}
        for rel in names:
            info = by_name[rel]
            img = _read(root, rel, ann_path)
            mask = np.zeros(img.shape[:2], np.uint8)
            inst = []
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=info["id"])):
                if ann["category_id"] <= PRODUCT_MAX_CATEGORY:
                    m = coco.annToMask(ann)
                    if m.shape != mask.shape:
                        m = cv2.resize(m, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_NEAREST)
                    mask |= m
                    inst.append(m > 0)
            yield (rel, img, mask > 0, inst) if instances else (rel, img, mask > 0)
    else:
        masks = {p.stem: p for p in (root / "masks").iterdir() if p.is_file()}
        for rel in names:
            img = _read(root, rel, root / "images")
            m = cv2.imread(str(masks[Path(rel).stem]), cv2.IMREAD_UNCHANGED)
            if m is None:
                raise FileNotFoundError(f"cannot read mask {masks[Path(rel).stem]}")
            if m.ndim == 3:
                m = m[..., 3] if m.shape[2] == 4 else m[..., 0]
            m = m > (32767 if m.dtype == np.uint16 else 127)
            if m.shape != img.shape[:2]:
                m = cv2.resize(m.astype(np.uint8), (img.shape[1], img.shape[0]),
                               interpolation=cv2.INTER_NEAREST) > 0
            yield rel, img, m


def has_instances(root: Path, fmt: str = "auto") -> bool:
    """Whether a set's instances are annotated (a COCO folder; an image+mask folder has one mask
    per image, the union)."""
    return (detect_format(root) if fmt == "auto" else fmt) == "coco"


def load_set(root: Path, size: int, fmt: str = "auto", limit: int | None = None,
             pad: str = "replicate", stems: Path | None = None, instances: bool = False) -> ArraySet:
    """A set in the bench frame (see the module doc for the resize policy); `instances`: keep the
    COCO instance masks too (in the same frame, each resized like the foreground mask)."""
    xs, ys, vs, aspects, names, insts = [], [], [], [], [], []
    for item in read_items(root, fmt, limit, stems, instances):
        rel, img, mask = item[:3]
        x, y, v = fit_square(img, mask, size, pad)
        if instances:
            insts.append([_fit_mask(m, size) for m in item[3]])
        xs.append(x)
        ys.append(y)
        vs.append(v)
        aspects.append(img.shape[1] / img.shape[0])
        names.append(rel)
    if not xs:
        raise FileNotFoundError(f"{root}: no images" + (f" listed in {stems}" if stems is not None else ""))
    return ArraySet(np.stack(xs), np.stack(ys), np.stack(vs), np.asarray(aspects, np.float32), names,
                    insts if instances else None)


def _fit_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A mask in the bench frame (as `fit_square` places the image): area-averaged then thresholded
    at 0.5 (nearest drops thin parts when shrinking a lot), 0 on the fill."""
    h, w = mask.shape
    s = size / max(h, w)
    nh, nw = max(1, min(size, round(h * s))), max(1, min(size, round(w * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    m = cv2.resize(mask.astype(np.float32), (nw, nh), interpolation=interp) >= 0.5
    top, left = (size - nh) // 2, (size - nw) // 2
    out = np.zeros((size, size), bool)
    out[top:top + nh, left:left + nw] = m
    return out
