"""A job's output files: the picture, its instance masks, layers, YOLO label and, for a rejected
one, the quality gate's reasons; and the manifest entry's part that describes them."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import __version__
from ..annotations import mask_to_rle, yolo_seg_lines
from ..io import encode_image, encode_mask, jsonable
from ..presets.loader import Preset
from ..sample import Sample, mask_box
from ..storage import Store
from .layout import REJECTED
from .shards import Job


def subfolder(name: str) -> str:
    """The sub-folder of an output name with `output.subfolders`: two hex digits of its BLAKE2b hash
    (256 folders, filled evenly; the same name always lands in the same one)."""
    return hashlib.blake2b(name.encode(), digest_size=1).hexdigest()


def write_outputs(job: Job, sample: Sample, preset: Preset, out: Store, qa: dict | None = None) -> dict:
    """Every file of a job's output; a rejected one (`qa` verdict `reject`) goes under `rejected/`
    (the same layout) with `rejected/reasons/<id>.json` (its failed checks and signals)."""
    opts = preset.model.output
    formats = opts.annotations
    fmt = "png" if sample.output_alpha is not None and opts.format == "jpg" else opts.format
    root = REJECTED + "/" if qa is not None and qa.get("verdict") == "reject" else ""
    sub = f"{subfolder(job.item_id)}/" if opts.subfolders else ""
    image_rel = f"{root}images/{sub}{job.item_id}.{fmt}"
    out.write_bytes(image_rel, encode_image(sample.image, sample.output_alpha, fmt, opts.quality))
    h, w = sample.image.shape[:2]
    instances, mask_rels = [], []
    for j, inst in enumerate(sample.instances):
        rel = f"{root}masks/{sub}{job.item_id}__i{j}.png"
        out.write_bytes(rel, encode_mask(inst.mask))
        mask_rels.append(rel)
        instances.append({"class_id": int(inst.class_id), "score": round(float(inst.score), 4),
                          "box": [float(v) for v in inst.box], "mask": rel, "rle": mask_to_rle(inst.mask),
                          **({"backdrop": True} if inst.backdrop else {})})
    layers, layer_rles, layer_boxes = {}, {}, {}
    for name in opts.layers:
        matte = sample.layers.get(name)
        if matte is None:
            continue
        rel = f"{root}layers/{sub}{job.item_id}__{name}.png"
        out.write_bytes(rel, encode_mask(matte))
        layers[name] = rel
        binary = matte > 0.5 if name == "logo" else matte > 0.1
        if binary.any():
            layer_rles[name] = mask_to_rle(binary)
            layer_boxes[name] = list(mask_box(binary))
    outputs: dict[str, Any] = {"image": image_rel, "masks": mask_rels, "layers": layers}
    if "yolo" in formats:
        rel = f"{root}labels/{sub}{job.item_id}.txt"
        out.write_bytes(rel, "\n".join(yolo_seg_lines(sample.instances, w, h)).encode() + b"\n")
        outputs["label"] = rel
    if root:
        rel = f"{REJECTED}/reasons/{sub}{job.item_id}.json"
        out.write_bytes(rel, json.dumps({"id": job.item_id, "source": job.relpath, "image": image_rel,
                                         **jsonable(qa)}, indent=1).encode())
        outputs["reasons"] = rel
    result = {"size": [w, h], "outputs": outputs, "instances": instances,
              "layer_rles": layer_rles, "layer_boxes": layer_boxes,
              "applied": jsonable(sample.meta.get("applied", {})),
              "models": sample.meta.get("models", {}), "version": __version__}
    if sample.meta.get("segment_fallback"):  # the configured backend found nothing; this one made the mask
        result["fallback"] = {"segment": sample.meta["segment_fallback"]}
    return result
