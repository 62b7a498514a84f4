"""The cutout bank: RGBA product cutouts cropped to their alpha box, one JSON line each.

Layout of a bank folder::

    bank.jsonl                  one record per cutout (see ``Cutout``), sorted by file
    cutouts/<class>/<key>.png   RGBA, straight alpha, cropped to the alpha bounding box
    depth/<class>/<key>.png     16-bit depth in millimetres (0 = empty), same crop (3D renders only)
    objects/<key>.json          per-source-object records; bank.jsonl is assembled from these

Building is resumable: a cutout file that exists is not rendered again, and views are numbered
per object, so asking for more views later only renders the new ones. Every file is written to a
temporary name and renamed (``io.write_atomic``).
"""
from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..classes import CLASS_ID, CLASS_NAMES, class_name
from ..io import read_image, write_atomic
from ..sample import mask_box
from . import mapping
from .sources import CatalogEntry

SPLITS = ("train", "val", "test")


@dataclass(frozen=True, slots=True)
class Cutout:
    file: str  # relative to the bank folder
    class_id: int
    source_id: str  # object id; all views of one object share it
    split_key: str  # what the split hash is computed from (same design in two sources -> same key)
    package: str
    licence: str
    attribution: str
    height_cm: float  # physical height the cutout's pixel height stands for
    width: int
    height: int
    view: dict | None = None
    depth_file: str | None = None

    @property
    def class_name(self) -> str:
        return class_name(self.class_id)


def split_of(split_key: str, fractions: tuple[float, float] = (0.8, 0.1)) -> str:
    """Deterministic split of a source object from a hash of its key: train / val / test."""
    h = int.from_bytes(hashlib.sha1(split_key.encode()).digest()[:8], "big") / 2**64
    if h < fractions[0]:
        return "train"
    return "val" if h < fractions[0] + fractions[1] else "test"


def _key_hash(split_key: str) -> int:
    return int.from_bytes(hashlib.sha1(split_key.encode()).digest()[:8], "big")


def assign_splits(cutouts: Iterable[Cutout], fraction: float = 0.1) -> dict[str, str]:
    """Split of every split key, stratified per class so that val/test see as many classes as possible.

    Within a class the keys are ordered by a hash of the key; the first ``max(1, round(fraction*k))``
    go to val (when the class has k >= 3 keys), the next as many to test (k >= 4), the rest to
    train, except that each class keeps at least one 3D model in train (its richest source). Classes
    with fewer keys fall back to the plain hash split ``split_of``. The result
    depends only on the set of keys, never on file order; one key never lands in two splits.
    """
    by_class: dict[int, set[str]] = {}
    for c in cutouts:
        by_class.setdefault(c.class_id, set()).add(c.split_key)
    out: dict[str, str] = {}
    for keys in by_class.values():
        ordered = sorted(keys, key=lambda k: (_key_hash(k), k))
        k = len(ordered)
        if k < 3:
            for key in ordered:
                out.setdefault(key, split_of(key))
            continue
        n = max(1, round(fraction * k))
        n_test = n if k >= 4 else 0
        # Keep at least one multi-view 3D model of the class in train: when the hash order would send
        # all of them to val/test, the last of them goes to train instead (its slot stays empty, so no
        # other key changes split).
        models = [key for key in ordered if key.startswith("sh3d:")]
        if models and all(ordered.index(m) < n + n_test for m in models):
            out.setdefault(models[-1], "train")
        for i, key in enumerate(ordered):
            out.setdefault(key, "val" if i < n else "test" if i < n + n_test else "train")
    return out


def bank_splits(bank: Path, cutouts: list[Cutout]) -> dict[str, str]:
    """The bank's split of every split key, frozen in ``<bank>/splits.json``.

    Keys already in the file keep their split, so sets built earlier stay disjoint when objects are
    added to the bank later (a re-ranking could otherwise move an object between splits). New keys
    get the split ``assign_splits`` gives them and are added to the file.
    """
    path = Path(bank) / "splits.json"
    frozen = json.loads(path.read_text()) if path.exists() else {}
    fresh = assign_splits(cutouts)
    merged = {k: frozen.get(k, v) for k, v in fresh.items()}
    if any(k not in frozen for k in merged):
        write_atomic(path, json.dumps({**frozen, **merged}, sort_keys=True, indent=0).encode())
    return merged


def safe_key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def read_rgba(path: Path) -> np.ndarray:
    """H×W×4 uint8 RGBA of an image file through ``io.read_image`` (opaque files get alpha 255)."""
    rgb, alpha = read_image(path)
    a = np.full(rgb.shape[:2], 255, np.uint8) if alpha is None else np.rint(alpha * 255.0).astype(np.uint8)
    return np.dstack([rgb, a])


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def crop_to_alpha(rgba: np.ndarray, *others: np.ndarray):
    """Crop an RGBA image (and same-size companions) to the alpha bounding box; None when empty."""
    x0, y0, x1, y1 = (int(v) for v in mask_box(rgba[..., 3] > 0))
    if x1 == 0:
        return None
    return (rgba[y0:y1, x0:x1],) + tuple(o[y0:y1, x0:x1] for o in others)


# --------------------------------------------------------------------------- 3D renders


def view_rng(source_id: str, view_index: int, seed: int) -> np.random.Generator:
    digest = int.from_bytes(hashlib.sha1(source_id.encode()).digest()[:8], "big")
    return np.random.default_rng(np.random.SeedSequence([seed, digest, view_index]))


def is_flat(entry: CatalogEntry, ratio: float = 0.15) -> bool:
    """Models lying flat (phones, folded clothes, watches…) are shot from above, like flat-lay photos."""
    w, h, d = entry.size_cm
    return max(w, d) > 0 and h / max(w, d) < ratio


def render_object_views(entry: CatalogEntry, bank: Path, renderer, views: int, seed: int = 0,
                        min_pixels: int = 400) -> list[Cutout]:
    """Render ``views`` viewpoints of one catalogue model into the bank (skipping existing files)."""
    from . import render as R

    class_id = mapping.sh3d_class(entry.name, entry.category, entry.id)
    if class_id is None:
        raise ValueError(f"{entry.source_id} is not mapped to a class")
    cls = class_name(class_id)
    key = safe_key(f"sh3d_{entry.library}_{entry.id}")
    elevation = (85.0, 45.0) if is_flat(entry) else (40.0, 0.0)  # (max, min) degrees
    model = None
    cutouts = []
    record_path = bank / "objects" / f"{key}.json"
    previous = {}
    if record_path.exists():
        previous = {c["file"]: c for c in json.loads(record_path.read_text())["cutouts"]}
    for i in range(views):
        rel = f"cutouts/{cls}/{key}_v{i:03d}.png"
        if rel in previous and (bank / rel).exists():
            cutouts.append(Cutout(**previous[rel]))
            continue
        if model is None:
            model = R.prepare_model(entry.model_path, entry.rotation, entry.size_cm)
        view = R.sample_view(view_rng(entry.source_id, i, seed), *elevation)
        res = renderer.render(model, view)
        cropped = crop_to_alpha(res.rgba, res.depth)
        if cropped is None or int((cropped[0][..., 3] > 127).sum()) < min_pixels:
            continue
        rgba, depth = cropped
        depth_mm = np.clip(np.round(depth * 10.0), 0, 65535).astype(np.uint16)  # model units are cm
        drel = f"depth/{cls}/{key}_v{i:03d}.png"
        write_atomic(bank / drel, png_bytes(depth_mm))
        write_atomic(bank / rel, png_bytes(rgba))
        cm_per_px = 2 * res.distance * np.tan(np.radians(view.yfov_deg) / 2) / renderer.size
        cutouts.append(Cutout(
            file=rel, class_id=class_id, source_id=entry.source_id, split_key=entry.source_id,
            package="debian:sweethome3d-furniture", licence=entry.licence, attribution=entry.attribution,
            height_cm=round(float(rgba.shape[0] * cm_per_px), 2), width=int(rgba.shape[1]),
            height=int(rgba.shape[0]), view=view.to_dict(), depth_file=drel,
        ))
    record = {"source_id": entry.source_id, "name": entry.name, "category": entry.category,
              "class": cls, "cutouts": [asdict(c) for c in cutouts]}
    write_atomic(record_path, json.dumps(record, sort_keys=True, indent=1).encode())
    return cutouts


# --------------------------------------------------------------------------- emoji


def _emoji_cutout(rgba: np.ndarray, bank: Path, class_id: int, source_id: str, split_key: str, package: str,
                  licence: str, attribution: str, min_side: int) -> Cutout | None:
    cropped = crop_to_alpha(rgba)
    if cropped is None:
        return None
    img = Image.fromarray(cropped[0])
    if max(img.size) < min_side:  # small bitmaps: upscale once so they are not all tiny in scenes
        f = min_side / max(img.size)
        img = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))), Image.LANCZOS)
    cls = class_name(class_id)
    rel = f"cutouts/{cls}/{safe_key(source_id)}.png"
    if not (bank / rel).exists():
        write_atomic(bank / rel, png_bytes(np.asarray(img)))
    aspect_h = img.height / max(img.width, img.height)
    return Cutout(file=rel, class_id=class_id, source_id=source_id, split_key=split_key, package=package,
                  licence=licence, attribution=attribution,
                  height_cm=round(mapping.TYPICAL_HEIGHT_CM[cls] * max(aspect_h, 0.4), 2),
                  width=img.width, height=img.height)


def add_fluent_emoji(assets: Path, bank: Path) -> list[Cutout]:
    """Fluent 3D emoji (256 px RGBA webp) of the mapped code points."""
    out = []
    for path in sorted(Path(assets).glob("*.webp")):
        class_id = mapping.emoji_class(path.stem)
        if class_id is None:
            continue
        cp = "-".join(c for c in path.stem.split("-") if c != "fe0f")
        rgba = read_rgba(path)
        c = _emoji_cutout(rgba, bank, class_id, f"fluent3d:{cp}", f"emoji:{cp}", "npm:@lobehub/fluent-emoji-3d",
                          "MIT", "Microsoft Fluent Emoji (3D), packaged by LobeHub, MIT licence", 256)
        if c:
            out.append(c)
    _write_object_record(bank, "emoji_fluent3d", out)
    return out


def add_noto_emoji(font_path: Path, bank: Path, size: int = 109) -> list[Cutout]:
    """Noto Color Emoji glyphs (CBDT bitmaps: only size 109 is valid) of the mapped code points."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size, layout_engine=ImageFont.Layout.BASIC)
    out = []
    for cls, cps in mapping.EMOJI_TABLE.items():
        for cp in cps:
            text = "".join(chr(int(c, 16)) for c in cp.split("-"))
            canvas = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
            ImageDraw.Draw(canvas).text((size // 4, size // 4), text, font=font, embedded_color=True)
            rgba = np.asarray(canvas)
            if (rgba[..., 3] > 0).sum() < 500:  # glyph missing from this font version
                continue
            c = _emoji_cutout(rgba, bank, CLASS_ID[cls], f"noto:{cp}", f"emoji:{cp}",
                              "debian:fonts-noto-color-emoji", "Apache-2.0",
                              "Noto Color Emoji, Google, Apache License 2.0", 256)
            if c:
                out.append(c)
    _write_object_record(bank, "emoji_noto", out)
    return out


def _write_object_record(bank: Path, name: str, cutouts: list[Cutout]) -> None:
    record = {"source_id": name, "cutouts": [asdict(c) for c in cutouts]}
    write_atomic(bank / "objects" / f"{name}.json", json.dumps(record, sort_keys=True, indent=1).encode())


# --------------------------------------------------------------------------- index


def write_index(bank: Path) -> list[Cutout]:
    """Assemble ``bank.jsonl`` from the per-object records (only cutouts whose file exists)."""
    cutouts = []
    for rec in sorted((bank / "objects").glob("*.json")):
        for c in json.loads(rec.read_text())["cutouts"]:
            excluded = c["source_id"].startswith("sh3d:") and c["source_id"].split(":", 2)[2] in mapping.SH3D_EXCLUDED_IDS
            if not excluded and (bank / c["file"]).exists():
                cutouts.append(Cutout(**c))
    cutouts.sort(key=lambda c: c.file)
    lines = "".join(json.dumps(asdict(c), sort_keys=True) + "\n" for c in cutouts)
    write_atomic(bank / "bank.jsonl", lines.encode())
    header = "source_id\tclass\tlicence\tattribution\n"
    write_atomic(bank / "ATTRIBUTIONS.tsv", (header + "\n".join(attribution_lines(cutouts)) + "\n").encode())
    return cutouts


def load_bank(bank: Path) -> list[Cutout]:
    lines = (Path(bank) / "bank.jsonl").read_text().splitlines()
    return [Cutout(**json.loads(line)) for line in lines if line.strip()]


def count_report(cutouts: Iterable[Cutout], splits: dict[str, str] | None = None) -> dict[str, dict[str, int]]:
    """Per class: distinct source objects and cutouts, per split."""
    cutouts = list(cutouts)
    splits = splits if splits is not None else assign_splits(cutouts)
    report = {name: {"objects": 0, "cutouts": 0, "train": 0, "val": 0, "test": 0} for name in CLASS_NAMES}
    seen = set()
    for c in cutouts:
        row = report[c.class_name]
        row["cutouts"] += 1
        row[splits[c.split_key]] += 1
        if c.source_id not in seen:
            seen.add(c.source_id)
            row["objects"] += 1
    return report


def format_report(report: dict[str, dict[str, int]]) -> str:
    cols = ("objects", "cutouts", "train", "val", "test")
    lines = [f"{'class':<12}" + "".join(f"{c:>9}" for c in cols)]
    for name, row in report.items():
        lines.append(f"{name:<12}" + "".join(f"{row[c]:>9}" for c in cols))
    tot = {c: sum(r[c] for r in report.values()) for c in cols}
    lines.append(f"{'total':<12}" + "".join(f"{tot[c]:>9}" for c in cols))
    return "\n".join(lines)


def build_bank(bank: Path, entries: list[CatalogEntry], views: int, fluent_assets: Path | None = None,
               noto_font: Path | None = None, size: int = 448, seed: int = 0,
               progress: Callable[[str], None] | None = None, thin_class_objects: int = 12,
               thin_views_factor: int = 2) -> list[Cutout]:
    """Render all mapped catalogue entries and add the emoji; returns the index.

    Each model gets ``views`` viewpoints, or ``views * thin_views_factor`` when its class has fewer
    than ``thin_class_objects`` 3D models (more viewpoint variety where objects are scarce).
    """
    from .render import Renderer

    bank = Path(bank)
    if fluent_assets is not None:
        add_fluent_emoji(fluent_assets, bank)
    if noto_font is not None:
        add_noto_emoji(noto_font, bank)
    todo = [e for e in entries if not e.door_or_window and mapping.sh3d_class(e.name, e.category, e.id) is not None]
    per_class: dict[int, int] = {}
    for e in todo:
        cid = mapping.sh3d_class(e.name, e.category, e.id)
        per_class[cid] = per_class.get(cid, 0) + 1
    with Renderer(size) as renderer:
        for n, entry in enumerate(todo):
            cid = mapping.sh3d_class(entry.name, entry.category, entry.id)
            n_views = views * thin_views_factor if per_class[cid] < thin_class_objects else views
            try:
                cs = render_object_views(entry, bank, renderer, n_views, seed)
                msg = f"[{n + 1}/{len(todo)}] {entry.source_id}: {len(cs)} cutouts"
            except Exception as exc:  # noqa: BLE001 - one broken model must not stop the bank; it is reported
                msg = f"[{n + 1}/{len(todo)}] {entry.source_id}: FAILED {type(exc).__name__}: {exc}"
            if progress:
                progress(msg)
            if (n + 1) % 10 == 0:
                write_index(bank)
    return write_index(bank)


def attribution_lines(cutouts: Iterable[Cutout]) -> list[str]:
    """One line per distinct source object: id, licence, attribution (for redistributing renders)."""
    seen: dict[str, str] = {}
    for c in cutouts:
        seen.setdefault(c.source_id, f"{c.source_id}\t{c.class_name}\t{c.licence}\t{c.attribution}")
    return [seen[k] for k in sorted(seen)]
