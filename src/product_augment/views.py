"""A run folder's views, written by streaming the history once in name order.

`manifest.jsonl`, `annotations.json`, `layers.json`, the YOLO lists (`train.txt`, `val.txt`,
`dataset.yaml`) and `flagged.txt` describe the latest entry of every output name in the history
whose files are on disk (docs/RELIABILITY.md). They are written entry by entry into temporary
files (COCO's images and annotations apart, joined at the end), so the main process never holds
the whole history, its COCO dict or its JSON text; the bytes are those of
`json.dumps(annotations.build_coco(entries))` and the other builders. When nothing the views
depend on changed since they were written (the history's content, the files found missing, the
preset, the folder), they are not written again.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any, BinaryIO, Self

from .annotations import (
    LAYER_CATEGORIES,
    rle_area,
    yolo_class_names,
    yolo_dataset_yaml,
    yolo_is_val,
    yolo_small_run_val,
)
from .classes import GENERIC_PRODUCT, coco_categories
from .history import History
from .jobs.layout import ANNOTATIONS, FLAGGED, LAYER_ANNOTATIONS, MANIFEST
from .storage import Store, UnsafePath

VIEWS_KEY = "views"
VERSION = 1  # change when the views' bytes change, so a stamp of older views never matches


class FileCheck:
    """Whether an entry's files are all on disk, as `jobs.files_exist` says (a plain relative path,
    no symlink on the way, the file there), with one `lstat` per file on a local folder: each
    folder on the way is checked once per run, not once per file."""

    def __init__(self, out: Store):
        self.out, self.root = out, str(out.root)
        self.dirs: dict[tuple[str, ...], bool] = {(): True}

    def all_exist(self, files: Iterable[str]) -> bool:
        files = list(files)
        if not files:
            return False
        if not self.out.local:
            try:
                return all(self.out.inside(p) is not None and self.out.exists(p) for p in files)
            except UnsafePath:
                return False
        return all(self._exists(p) for p in files)

    def _exists(self, rel: str) -> bool:
        parts = tuple(rel.split("/"))
        if "\\" in rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            try:  # not a plain path as written: the full check decides
                parts = self.out._plain(rel)
            except UnsafePath:
                return False
        if not self._dir(parts[:-1]):
            return False
        try:
            return stat.S_ISREG(os.lstat(f"{self.root}/{'/'.join(parts)}").st_mode)
        except OSError:
            return False

    def _dir(self, parts: tuple[str, ...]) -> bool:
        known = self.dirs.get(parts)
        if known is None:
            try:
                real = stat.S_ISDIR(os.lstat(os.path.join(self.out.root, *parts)).st_mode)
            except OSError:
                real = False
            known = self.dirs[parts] = real and self._dir(parts[:-1])
        return known


def missing_outputs(history: History, check: FileCheck, verified: set[str]) -> list[str]:
    """Names whose latest entry is `ok` but whose files are not all on disk (or name a path
    outside the run); `verified` names were checked (or written) by this run already."""
    return [name for name, files in history.files_of_ok(skip=verified) if not check.all_exist(files)]


def write_views(out: Store, history: History, preset: Any, overlay: Mapping[str, dict],
                missing: list[str]) -> bool:
    """Write every view (unless they are current); returns whether they were written. `overlay`:
    entries newer than the history that no part holds (a shard that failed as a whole)."""
    opts = preset.model.output
    stamp = hashlib.sha256(json.dumps([VERSION, history.stamp_parts(), sorted(missing),
                                       sorted(overlay.items()), preset.sha256, list(opts.annotations),
                                       list(opts.layers), out.location], sort_keys=True, default=str
                                      ).encode()).hexdigest()
    names = _view_files(opts)
    if history.get_meta(VIEWS_KEY) == stamp and all(out.exists(n) for n in names):
        return False
    gone = set(missing)
    with _Sinks(out) as sinks:
        w = _Writer(sinks, list(opts.annotations), list(opts.layers), out.location)
        for name, entry, line in _with_overlay(history.latest(), overlay):
            if name in gone:
                continue
            w.add(entry, line)
        w.finish()
    history.set_meta(VIEWS_KEY, stamp)
    return True


def _view_files(opts: Any) -> list[str]:
    names = [MANIFEST, FLAGGED]
    if "coco" in opts.annotations:
        names.append(ANNOTATIONS)
        if opts.layers:
            names.append(LAYER_ANNOTATIONS)
    if "yolo" in opts.annotations:
        names += ["train.txt", "val.txt", "dataset.yaml"]
    return names


def _with_overlay(latest: Iterable[tuple[str, dict, str | None]], overlay: Mapping[str, dict]):
    keys = sorted(overlay)
    k = 0
    for name, entry, line in latest:
        while k < len(keys) and keys[k] < name:
            yield keys[k], overlay[keys[k]], None
            k += 1
        if k < len(keys) and keys[k] == name:
            yield name, overlay[name], None
            k += 1
            continue
        yield name, entry, line
    for key in keys[k:]:
        yield key, overlay[key], None


class _Sinks:
    """Named temporary files in the output folder (a local one; a remote folder gets local ones),
    each published atomically by `publish`."""

    def __init__(self, out: Store):
        self.out = out
        self.dir = tempfile.mkdtemp(prefix=".augment-tmp.views.", suffix=".tmp",
                                    dir=str(out.root) if out.local else None)
        self.files: dict[str, BinaryIO] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files.values():
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def get(self, key: str) -> BinaryIO:
        f = self.files.get(key)
        if f is None:
            f = self.files[key] = open(os.path.join(self.dir, key), "w+b")  # noqa: SIM115 - closed in __exit__
        return f

    def publish(self, rel: str, parts: list[bytes | str]) -> None:
        """`rel` made of literal bytes and the named temporary files' contents, in order."""
        if not self.out.local:
            data = b"".join(p if isinstance(p, bytes) else self._read(p) for p in parts)
            self.out.write_bytes(rel, data)
            return
        path = os.path.join(self.dir, f"final.{len(os.listdir(self.dir))}")
        with open(path, "wb") as dst:
            for p in parts:
                if isinstance(p, bytes):
                    dst.write(p)
                else:
                    src = self.get(p)
                    src.flush()
                    src.seek(0)
                    shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        from .io import _FILE_MODE

        target = self.out.inside(rel)
        os.chmod(path, _FILE_MODE)
        os.replace(path, target)

    def _read(self, key: str) -> bytes:
        f = self.get(key)
        f.flush()
        f.seek(0)
        return f.read()


class _Coco:
    """One COCO file written as `json.dumps` writes `annotations._coco`'s dict."""

    def __init__(self, sinks: _Sinks, key: str, objects: Callable[[dict], list[tuple]]):
        self.sinks, self.key, self.objects = sinks, key, objects
        self.n_images = self.n_anns = 0
        self.used: set[int] = set()

    def add(self, e: dict) -> None:
        w, h = e["size"]
        self.n_images += 1
        image = {"id": self.n_images, "file_name": e["outputs"]["image"], "width": w, "height": h}
        qa = e.get("qa") or {}
        if qa.get("verdict") == "flag":
            image["qa_flagged"] = [f["reason"] for f in qa.get("failed", []) if f["action"] == "flag"]
        images = self.sinks.get(self.key + ".images")
        images.write(((", " if self.n_images > 1 else "") + json.dumps(image)).encode())
        anns = self.sinks.get(self.key + ".anns")
        for cid, rle, box, score in self.objects(e):
            x0, y0, x1, y1 = box
            self.n_anns += 1
            self.used.add(cid)
            ann = {"id": self.n_anns, "image_id": self.n_images, "category_id": cid, "segmentation": rle,
                   "area": rle_area(rle), "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 0, "score": score}
            anns.write(((", " if self.n_anns > 1 else "") + json.dumps(ann)).encode())

    def publish(self, rel: str, categories: list[dict]) -> None:
        self.sinks.get(self.key + ".images")
        self.sinks.get(self.key + ".anns")
        self.sinks.publish(rel, [b'{"info": {"description": "product-augment output"}, "images": [',
                                 self.key + ".images", b'], "annotations": [', self.key + ".anns",
                                 b'], "categories": ' + json.dumps(categories).encode() + b"}"])


class _Writer:
    def __init__(self, sinks: _Sinks, formats: list[str], layers: list[str], location: str):
        from .qa import in_dataset, verdict

        self.sinks, self.formats, self.layers, self.location = sinks, formats, layers, location
        self.in_dataset, self.verdict = in_dataset, verdict
        self.products = _Coco(sinks, "coco", lambda e: [(i["class_id"], i["rle"], i["box"], i.get("score", 1.0))
                                                         for i in e["instances"]])
        self.layer_coco = _Coco(sinks, "layers", lambda e: [
            (LAYER_CATEGORIES[n], e["layer_rles"][n], e["layer_boxes"][n], 1.0)
            for n in layers if n in e.get("layer_rles", {})])
        self.generic = False
        self.val_seen = False
        self.train_rows: list[tuple[str, str]] | None = []  # (source, line) while no val entry was seen
        self.manifest = sinks.get("manifest")
        self.flagged = sinks.get("flagged")

    def add(self, e: dict, line: str | None) -> None:
        self.manifest.write((line if line is not None else json.dumps(e, separators=(",", ":"))).encode() + b"\n")
        if not self.in_dataset(e):
            return
        if self.verdict(e) == "flag":
            reasons = "; ".join(f["reason"] for f in e["qa"]["failed"])
            self.flagged.write(f"{e['outputs']['image']}\t{reasons}\n".encode())
        if "coco" in self.formats:
            self.products.add(e)
            if self.layers:
                self.layer_coco.add(e)
        if "yolo" in self.formats:
            self.generic = self.generic or any(i["class_id"] == GENERIC_PRODUCT.id for i in e["instances"])
            row = f"./{e['outputs']['image']}\n"
            if yolo_is_val(e["source"]):  # annotations.yolo_split's rule
                self.val_seen, self.train_rows = True, None
                self.sinks.get("val").write(row.encode())
            else:
                self.sinks.get("train").write(row.encode())
                if self.train_rows is not None:
                    self.train_rows.append((e["source"], row))

    def finish(self) -> None:
        s = self.sinks
        s.publish(MANIFEST, ["manifest"])
        s.publish(FLAGGED, ["flagged"])
        if "coco" in self.formats:
            cats = coco_categories()
            if GENERIC_PRODUCT.id in self.products.used:
                cats.append({"id": GENERIC_PRODUCT.id, "name": GENERIC_PRODUCT.name, "supercategory": "product"})
            self.products.publish(ANNOTATIONS, cats)
            if self.layers:
                self.layer_coco.publish(LAYER_ANNOTATIONS, [{"id": cid, "name": name, "supercategory": "layer"}
                                                            for name, cid in LAYER_CATEGORIES.items()
                                                            if name in self.layers])
        if "yolo" in self.formats:
            rows = self.train_rows
            last = yolo_small_run_val(src for src, _ in rows) if not self.val_seen and rows else None
            if last is not None:  # annotations.yolo_split's rule for small runs
                s.publish("train.txt", ["".join(r for src, r in rows if src != last).encode()])
                s.publish("val.txt", ["".join(r for src, r in rows if src == last).encode()])
            else:
                s.publish("train.txt", ["train"])
                s.publish("val.txt", ["val"])
            s.publish("dataset.yaml", [yolo_dataset_yaml(yolo_class_names(self.generic), self.location)])
