"""Image reading and writing: colour modes, EXIF orientation, size guards, atomic writes."""
from __future__ import annotations

import hashlib
import io as _io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SUPPORTED_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")
# Files that commonly sit beside images and are not inputs: ignored without a report.
SIDECAR_SUFFIXES = (".json", ".jsonl", ".txt", ".yaml", ".yml", ".md", ".csv", ".xml")
MAX_PIXELS = 80_000_000  # above this an image is refused before decoding (decompression-bomb guard)


class ImageReadError(Exception):
    """An input that cannot be used; the message says why in one line."""


def list_inputs(root: Path, recursive: bool = True, exclude: Path | None = None,
                hidden: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(supported, unsupported) relative POSIX paths under `root`, sorted; hidden files skipped.

    Files under `exclude` (the output folder, when it lies inside the input folder) are skipped,
    so a second run does not take the first run's outputs for inputs. The hidden names skipped
    (a name starting with "."; a hidden folder once, as "name/") are appended to `hidden`, sorted.
    """
    root = Path(root)
    if root.is_file():
        return ([root.name], []) if root.suffix.lower() in SUPPORTED_SUFFIXES else ([], [root.name])
    skip = "/".join(_relative_parts(exclude, root) or ()) if exclude is not None else ""
    ok, bad, seen = [], [], set()
    # os.scandir on plain strings (a Path per file costs more than the listing at 100k inputs);
    # as Path.rglob: symlinked folders are listed, not entered
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                rel = prefix + entry.name
                if skip and (rel == skip or rel.startswith(skip + "/")):
                    continue
                if entry.name.startswith("."):  # a hidden file, or a hidden folder once
                    seen.add(rel + ("/" if entry.is_dir() else ""))
                    continue
                if entry.is_file():
                    sort_input(rel, ok, bad)
                elif recursive and entry.is_dir(follow_symlinks=False):
                    stack.append((rel + "/", entry.path))
    if hidden is not None:
        hidden += sorted(seen)
    return sorted(ok), sorted(bad)


def hidden_name(parts: tuple[str, ...], is_dir: bool) -> str:
    """How a skipped hidden entry is reported: its path up to its first hidden part; a folder
    (or anything under one) as "folder/"."""
    i = next(i for i, part in enumerate(parts) if part.startswith("."))
    return "/".join(parts[:i + 1]) + ("/" if is_dir or i + 1 < len(parts) else "")


def path_suffix(rel: str) -> str:
    """`PurePosixPath(rel).suffix`, without building a path."""
    name = rel.rsplit("/", 1)[-1]
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def sort_input(rel: str, ok: list[str], bad: list[str]) -> None:
    """Put a listed file into `ok` (a supported image) or `bad` (unsupported, or a name with control
    characters); sidecar files (JSON, text, YAML, ...) beside the images go into neither."""
    suffix = path_suffix(rel).lower()
    if odd_name(rel):
        bad.append(rel)
    elif suffix in SUPPORTED_SUFFIXES:
        ok.append(rel)
    elif suffix not in SIDECAR_SUFFIXES:
        bad.append(rel)


def _relative_parts(inner: Path, root: Path) -> tuple[str, ...] | None:
    """`inner`'s path parts relative to `root` (both resolved), or None when it is not inside."""
    try:
        return Path(inner).resolve().relative_to(Path(root).resolve()).parts or None
    except ValueError:
        return None


def read_image(path: Path, max_side: int | None = None,
               max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 image and its alpha (float32 in [0, 1]) if it has a non-opaque one.

    EXIF orientation is applied; grayscale, palette, 16-bit, CMYK, LA and RGBA are converted.
    Of an animated or multi-page file (GIF, WebP, PNG, TIFF) the first frame is read.
    Raises ImageReadError with a one-line reason for empty, truncated, oversized or unknown files.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ImageReadError(f"cannot read file: {e.strerror}") from None
    if size == 0:
        raise ImageReadError("file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageReadError(f"image is {w}×{h} = {w * h / 1e6:.0f} MP, above the "
                                         f"{max_pixels / 1e6:.0f} MP limit (decompression-bomb guard)")
                if max_side and max(w, h) > max_side and img.format == "JPEG" and img.mode in ("RGB", "L"):
                    rgb, alpha = _read_large_jpeg(path, img, max_side), None
                    return shrunk(rgb, max_side), alpha
                img.load()  # an animated file opens on its first frame: that one is read
                ImageOps.exif_transpose(img, in_place=True)  # no copy of an upright photo
                rgb, alpha = _to_rgb_alpha(img)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError("not a readable image (unknown or unsupported format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError("image is too large (decompression-bomb guard)") from None
    except (OSError, SyntaxError, ValueError) as e:
        msg = str(e)
        if "truncated" in msg.lower():
            raise ImageReadError("image file is truncated") from None
        raise ImageReadError(f"cannot decode image: {msg}") from None
    if max_side:
        rgb = shrunk(rgb, max_side)
        alpha = None if alpha is None else shrunk(alpha, max_side)
    return rgb, alpha


def shrunk(image: np.ndarray, side: int) -> np.ndarray:
    """`image` itself when its longest side is at most `side`, else a copy that long (INTER_AREA)."""
    h, w = image.shape[:2]
    if max(h, w) <= side:
        return image
    s = side / max(h, w)
    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _to_rgb_alpha(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img).astype(np.float64)
        hi = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2), None
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA" or mode == "LA" or mode == "La" or mode == "RGBa":
        img = img.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    arr = _array(img)
    if img.mode == "RGBA":
        a = arr[..., 3]
        rgb = np.ascontiguousarray(arr[..., :3])
        return rgb, (a.astype(np.float32) / 255.0 if (a < 255).any() else None)
    return np.ascontiguousarray(arr), None


BAND_PIXELS = 1_000_000  # a large image is copied out of Pillow this many pixels at a time


def _array(img: Image.Image) -> np.ndarray:
    """`np.asarray(img)` (the same pixels) without its transient copies: Pillow's `tobytes` joins
    encoded chunks, so a whole-image conversion briefly holds the pixels three times; a large
    image is copied into one array band by band instead."""
    w, h = img.size
    if w * h <= BAND_PIXELS:
        return np.asarray(img)
    rows = max(1, BAND_PIXELS // w)
    first = np.asarray(img.crop((0, 0, w, min(h, rows))))
    out = np.empty((h, *first.shape[1:]), first.dtype)
    out[:first.shape[0]] = first
    for y in range(first.shape[0], h, rows):
        out[y:y + rows] = np.asarray(img.crop((0, y, w, min(h, y + rows))))
    return out


# EXIF orientation -> the numpy view Pillow's exif_transpose gives
_ORIENT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
           7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: a.transpose(1, 0, 2)[::-1]}


def _read_large_jpeg(path: Path, img: Image.Image, max_side: int) -> np.ndarray:
    """A JPEG above the working size, decoded by OpenCV straight into one RGB array (the same
    libjpeg-turbo pixels as Pillow's, without Pillow's 4-byte buffer and its copies), with
    libjpeg's DCT scaling (1/2, 1/4, 1/8) when the photo is at least twice the working size: a
    24 MP photo costs its RGB bytes once, a 79 MP one a quarter of them."""
    w, h = img.size
    orientation = img.getexif().get(0x0112, 1)
    factor = 1
    while factor < 8 and max(w, h) / (factor * 2) >= max_side:
        factor *= 2
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}[factor] | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(np.fromfile(path, np.uint8), flags)
    if bgr is None:
        raise ImageReadError("cannot decode image: OpenCV could not read the JPEG")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)  # in place
    turn = _ORIENT.get(orientation)
    return np.ascontiguousarray(turn(rgb)) if turn else rgb


def encode_image(rgb: np.ndarray, alpha: np.ndarray | None, fmt: str, quality: int = 92) -> bytes:
    """Encode to jpg/png/webp bytes; alpha (float [0,1]) makes an RGBA PNG/WebP."""
    if alpha is not None:
        a = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(np.dstack([rgb, a]), "RGBA")
    else:
        img = Image.fromarray(rgb, "RGB")
    buf = _io.BytesIO()
    if fmt == "jpg":
        img.save(buf, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "png":
        img.save(buf, "PNG", compress_level=3)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=quality, lossless=alpha is not None and quality == 100)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return buf.getvalue()


def encode_mask(mask: np.ndarray) -> bytes:
    """A bool mask or float matte as an 8-bit grayscale PNG (bool → 0/255)."""
    m = mask.astype(np.uint8) * 255 if mask.dtype == bool else np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", m)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def _umask() -> int:
    """The process umask, read without changing it where /proc says it (Linux), else toggled once
    at import (before any worker thread exists)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file (umask read once, at import)


TEMP_PREFIX = ".augment-tmp."  # write_atomic's temp files: `.augment-tmp.<name>.<random>.tmp`


def _breaks_lines(c: str) -> bool:
    """A control character (C0, DEL, C1) or one that Python's `str.splitlines` (which dataset
    loaders use on train.txt) takes for a line end (U+2028, U+2029)."""
    o = ord(c)
    return o < 32 or 127 <= o < 160 or o in (0x2028, 0x2029)


def odd_name(rel: str) -> str | None:
    """Why an input's name cannot be an output name (a control character such as a newline would
    split its line in train.txt / val.txt), or None when it is fine."""
    if rel.isprintable():  # every line-breaking character is unprintable: the common case, fast
        return None
    bad = sorted({repr(c) for c in rel if _breaks_lines(c)})
    return f"file name has control characters ({', '.join(bad)}): rename the file" if bad else None


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write a file so that it either exists complete or not at all (temp file + fsync + rename).
    `durable=False` skips the fsync (still complete or absent while the system runs; a cache that
    can be made again, such as the report's thumbnails, needs no more)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        f = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        try:  # mkstemp makes 0600; a written file gets the usual mode (where the filesystem allows)
            os.fchmod(f.fileno(), _FILE_MODE)
        except (AttributeError, OSError):
            pass
        with f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def syncfs(folder: Path) -> None:
    """Flush every written file and rename of the filesystem that holds `folder` to the disk: one
    `syncfs(2)` (Linux) in place of an fsync per file; `os.sync()` where there is none."""
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if fn(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(folder))
    finally:
        os.close(fd)


def check_writable(folder: Path) -> None:
    """Raise the OSError a write in `folder` would meet (read-only, forbidden, full): a temp file of
    the project's own pattern is made and removed."""
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}probe.", suffix=".tmp", dir=folder)
    os.close(fd)
    os.unlink(tmp)


def remove_stale_temps(root: Path) -> int:
    """Delete the temp files an interrupted run left (this project's own pattern only: a user's
    `.notes.tmp` is not ours); returns how many."""
    n = 0
    for p in Path(root).rglob(f"{TEMP_PREFIX}*.tmp"):
        if p.is_dir() and not p.is_symlink():  # the views' scratch folder (views.py)
            import shutil

            shutil.rmtree(p, ignore_errors=True)
            n += 1
        elif p.is_file():
            p.unlink()
            n += 1
    return n


def jsonable(x: Any) -> Any:
    """`x` with numpy scalars and arrays, tuples and paths as JSON's own types (dict keys as text)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    return x
