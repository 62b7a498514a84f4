"""The photo bank: cut-outs of *photographed* real objects, for real-photo appearance in training.

Source: Debian ``tuxpaint-stamps-default`` (GPL-2). Its stamps are RGBA PNGs; most that have no SVG
twin and do not sit in a ``cartoon/`` folder are photographs of real objects cut out by hand
(fruit, mugs, kettles, tools, balls, instruments, plants, animals). The package is GPL-2: it is
fetched at build time, used for training and validation only, and never vendored (nothing under
``data/`` is committed; ``LICENSES/ASSETS.md`` records the training use).

Selection is automatic with reviewed exceptions: a stamp counts as a photograph when the eight
most frequent (5-bit quantised) colours of its opaque pixels cover less than ``FLAT_LIMIT`` of
them (flat-shaded drawings cover most of their area with a few colours), unless its name is in
``mapping.TUXPAINT_EXCLUDED`` (drawings that pass the test, road signs, gravestones...) or forced in by
``mapping.TUXPAINT_FORCED`` (plain-coloured photographs: a white mug).

Classes: the stamps that show one of the 21 product classes get it (``mapping.TUXPAINT_CLASS``);
every other photographed object is a generic ``product`` (class id 22), which the segmenter's
loss treats as "some product, class unknown" (objectness, box and mask are learned; no class is
forced). Animals, vehicles and monuments are generic objects that only ever go to ``train``.

Splits are by stamp (one stamp = one object), per class, from a hash of the name: about 12 % val,
12 % test, the rest train; frozen in ``<bank>/splits.json`` like the 3D bank's.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from ..classes import GENERIC_PRODUCT, class_name
from ..io import write_atomic
from . import mapping
from .bank import Cutout, crop_to_alpha, png_bytes, safe_key
from .sources import fetch_deb

TUXPAINT_DEB = "tuxpaint-stamps-default"
TUXPAINT_LICENCE = "GPL-2.0-or-later"
STAMPS_SUBDIR = "usr/share/tuxpaint/stamps"
FLAT_LIMIT = 0.6
SKIP_TOP = ("symbols", "space", "people", "military", "naturalforces")
TRAIN_ONLY_TOP = ("animals", "vehicles", "town")
MIN_SIDE = 48


def flatness(rgba: np.ndarray) -> float:
    """Share of the opaque pixels covered by the 8 most frequent 5-bit colours (drawings: high)."""
    opaque = rgba[..., 3] > 200
    if opaque.sum() < 50:
        return 1.0
    px = (rgba[opaque][:, :3] // 8).astype(np.int32)
    codes = px[:, 0] * 1024 + px[:, 1] * 32 + px[:, 2]
    counts = np.sort(np.unique(codes, return_counts=True)[1])[::-1]
    return float(counts[:8].sum() / counts.sum())


def stamp_candidates(stamps: Path) -> list[Path]:
    """PNG stamps that may be photographs: no SVG twin, not in a cartoon folder, not symbols etc."""
    out = []
    for p in sorted(Path(stamps).rglob("*.png")):
        rel = p.relative_to(stamps)
        if rel.parts[0] in SKIP_TOP or "cartoon" in rel.parts or p.with_suffix(".svg").exists():
            continue
        out.append(p)
    return out


def is_photo(path: Path, rgba: np.ndarray) -> bool:
    stem = path.stem
    if stem in mapping.TUXPAINT_EXCLUDED:
        return False
    return stem in mapping.TUXPAINT_FORCED or flatness(rgba) < FLAT_LIMIT


def split_for(stem: str, class_id: int, top: str, ordered: list[str]) -> str:
    if top in TRAIN_ONLY_TOP and class_id == GENERIC_PRODUCT.id:
        return "train"
    k = len(ordered)
    if k < 4:
        return "train"
    n = max(1, round(0.12 * k))
    i = ordered.index(stem)
    return "val" if i < n else "test" if i < 2 * n else "train"


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big")


def build_photobank(cache: Path, bank: Path, progress=None) -> list[Cutout]:
    """Select the photographed stamps, write cropped cut-outs, records and the frozen splits."""
    root = fetch_deb(TUXPAINT_DEB, Path(cache))
    stamps = root / STAMPS_SUBDIR
    bank = Path(bank)
    seen: set[str] = set()
    chosen: list[tuple[Path, np.ndarray, int]] = []
    for p in stamp_candidates(stamps):
        if p.stem in seen:  # a few stamps exist twice (fruit/…/pear.png); keep the first
            continue
        # PIL, not io.read_image: some stamps are RGB PNGs with a tRNS colour key, which PIL turns
        # into alpha and io.read_image ignores (it would change which stamps count as photographs).
        rgba = np.asarray(Image.open(p).convert("RGBA"))
        if max(rgba.shape[:2]) < MIN_SIDE or not is_photo(p, rgba):
            continue
        seen.add(p.stem)
        cls = mapping.TUXPAINT_CLASS.get(p.stem)
        chosen.append((p, rgba, GENERIC_PRODUCT.id if cls is None else mapping.CLASS_ID[cls]))
    by_class: dict[int, list[str]] = {}
    for p, _, cid in chosen:
        top = p.relative_to(stamps).parts[0]
        if not (top in TRAIN_ONLY_TOP and cid == GENERIC_PRODUCT.id):
            by_class.setdefault(cid, []).append(p.stem)
    ordered = {c: sorted(v, key=lambda s: (_hash("tuxpaint:" + s), s)) for c, v in by_class.items()}
    splits_path = bank / "splits.json"
    frozen = json.loads(splits_path.read_text()) if splits_path.exists() else {}
    cutouts, splits = [], {}
    for p, rgba, cid in chosen:
        top = p.relative_to(stamps).parts[0]
        key = f"tuxpaint:{p.stem}"
        splits[key] = frozen.get(key, split_for(p.stem, cid, top, ordered.get(cid, [])))
        cropped = crop_to_alpha(rgba)[0]
        cname = class_name(cid)
        rel = f"cutouts/{cname}/{safe_key(p.stem)}.png"
        if not (bank / rel).exists():
            write_atomic(bank / rel, png_bytes(np.ascontiguousarray(cropped)))
        h_cm = mapping.TYPICAL_HEIGHT_CM.get(cname, 25.0)
        cutouts.append(Cutout(file=rel, class_id=cid, source_id=key, split_key=key,
                              package=f"debian:{TUXPAINT_DEB}", licence=TUXPAINT_LICENCE,
                              attribution=f"Tux Paint stamp '{p.relative_to(stamps)}' (Bill Kendrick and "
                                          "contributors), GPL-2; used for training only, not redistributed",
                              height_cm=h_cm, width=int(cropped.shape[1]), height=int(cropped.shape[0]),
                              view={"kind": "photo", "top": top}))
        if progress:
            progress(f"{key}: {cname} ({splits[key]})")
    cutouts.sort(key=lambda c: c.file)
    write_atomic(splits_path, json.dumps({**frozen, **splits}, sort_keys=True, indent=0).encode())
    write_atomic(bank / "bank.jsonl",
                       "".join(json.dumps(asdict(c), sort_keys=True) + "\n" for c in cutouts).encode())
    return cutouts


def load_splits(bank: Path) -> dict[str, str]:
    return json.loads((Path(bank) / "splits.json").read_text())
