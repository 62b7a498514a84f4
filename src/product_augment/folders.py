"""Resources a pipeline reads: asset folders (textures, backdrops, logos) and given masks (a folder,
a COCO file). They are resolved (listed, parsed) when the pipeline is built and read on first use,
so steps never open files themselves."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .io import MAX_PIXELS, ImageReadError, read_image

ASSET_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class ImageFolder:
    """The images of an asset folder (textures, background photos, logos), decoded on first use.

    mode "rgb" gives H×W×3 uint8, "rgba" H×W×4 uint8 (opaque files get alpha 255). Images larger
    than `max_side` are downscaled (INTER_AREA). `cache` bounds how many decoded images are kept
    (oldest dropped first); None keeps all.
    """

    def __init__(self, folder: Path, suffixes: tuple[str, ...] = ASSET_SUFFIXES, max_side: int = 2048,
                 mode: str = "rgb", cache: int | None = None, what: str = "images"):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ValueError(f"{what} folder not found: {self.folder}")
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in suffixes)
        if not self.files:
            raise ValueError(f"no {what} ({', '.join(suffixes)}) in {self.folder}")
        self.names = [p.name for p in self.files]
        self.max_side, self.mode, self.cache = max_side, mode, cache
        self._decoded: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> np.ndarray:
        img = self._decoded.get(i)
        if img is None:
            img = self._read(self.files[i])
            if self.cache is not None and len(self._decoded) >= self.cache:
                self._decoded.pop(next(iter(self._decoded)))
            self._decoded[i] = img
        return img

    def _read(self, path: Path) -> np.ndarray:
        try:
            rgb, alpha = read_image(path, self.max_side if self.mode == "rgb" else None)
        except ImageReadError as e:  # reported for the image that drew it, not as a crash
            raise ImageReadError(f"asset {path}: {e}") from None
        if self.mode == "rgb":
            return rgb
        if alpha is None:
            alpha = np.ones(rgb.shape[:2], np.float32)
        h, w = rgb.shape[:2]
        if max(h, w) > self.max_side:  # premultiplied, so transparent pixels' colours never bleed in
            f = self.max_side / max(h, w)
            size = (max(1, round(w * f)), max(1, round(h * f)))
            pre = cv2.resize(rgb.astype(np.float32) * alpha[..., None], size, interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
            rgb = np.clip(np.rint(pre / np.maximum(alpha, 1e-6)[..., None]), 0, 255).astype(np.uint8)
        return np.dstack([rgb, np.rint(alpha * 255.0).astype(np.uint8)])


def check_images(folder: Path, suffixes: tuple[str, ...] = ASSET_SUFFIXES, max_pixels: int = MAX_PIXELS
                 ) -> list[str]:
    """Problems with an asset folder's images found from their headers (cheap; no decoding):
    not an image, unknown format, above the pixel limit. Empty when all are fine."""
    problems = []
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in suffixes)
    if not files:
        return [f"no images ({', '.join(suffixes)}) in {folder}"]
    for p in files:
        try:
            with Image.open(p) as im:
                w, h = im.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            problems.append(f"{p.name} is not a readable image")
            continue
        if w * h > max_pixels:
            problems.append(f"{p.name} is {w}×{h}, above the {max_pixels / 1e6:.0f} MP limit")
    return problems


def read_mask(path: Path) -> np.ndarray:
    """A mask file as one channel (uint8 or uint16): the alpha of RGBA, else the first channel."""
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if m is None:
        raise ImageReadError(f"cannot read mask {path}")
    if m.ndim == 3:
        m = m[..., 3] if m.shape[2] == 4 else m[..., 0]
    return m


class MaskFolder:
    """Mask files named like the inputs' relative paths (any suffix), indexed once."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.index = {str(p.relative_to(self.folder).with_suffix("")): p
                      for p in sorted(self.folder.rglob("*")) if p.is_file()}

    def path_for(self, relpath: str) -> Path | None:
        return self.index.get(str(Path(relpath).with_suffix("")))


class CocoMasks:
    """Instance masks of a COCO JSON file, parsed once, looked up by file name."""

    def __init__(self, path: Path):
        import json

        self.path = Path(path)
        data = json.loads(self.path.read_text())
        self.names = {c["id"]: c["name"] for c in data.get("categories", [])}
        images = {im["id"]: im for im in data.get("images", [])}
        self.by_file: dict[str, list[tuple[dict, dict]]] = {}
        for ann in data.get("annotations", []):
            im = images.get(ann["image_id"])
            if im is not None:
                self.by_file.setdefault(im["file_name"], []).append((im, ann))

    def entries(self, relpath: str) -> list[tuple[dict, dict]]:
        """(image record, annotation) pairs for an input, by relative path or else by file name."""
        return self.by_file.get(relpath) or self.by_file.get(Path(relpath).name) or []

    @staticmethod
    def decode(im: dict, ann: dict) -> np.ndarray:
        """The annotation's mask (uint8 0/1) at the image record's size."""
        from pycocotools import mask as mask_utils

        seg = ann["segmentation"]
        ih, iw = im["height"], im["width"]
        if isinstance(seg, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, ih, iw))
        elif isinstance(seg["counts"], list):
            rle = mask_utils.frPyObjects(seg, ih, iw)
        else:
            rle = seg
        return mask_utils.decode(rle).astype(np.uint8)
