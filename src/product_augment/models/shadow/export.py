"""Ship a ShadowNet checkpoint: model-only safetensors, the JSON sidecar and the ONNX network.

    augment train export-shadow runs/shadow/best.safetensors [--metrics eval.json]

The ONNX file (opset 17, batch axis dynamic, inputs ``image`` B×4×R×R and ``light`` B×5, output
``shadow`` B×2×R×R) runs in ONNX Runtime without torch (`onnx_predict.ShadowPredictor`); the
sidecar records the SHA-256 of the safetensors it came from and the largest difference between
the two on random inputs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ...io import write_atomic
from .checkpoint import load_model, save_weights


def export(checkpoint: str | Path, out_stem: str | Path = "weights/shadow_net",
           metrics_json: str | Path | None = None) -> list[Path]:
    model, meta, _ = load_model(checkpoint)
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    train = dict(meta.get("train", {}))
    train.pop("optimizer_param_groups", None)
    sidecar = {"architecture": "ShadowNet: conv encoder (R/16) → transformer over patch tokens + 2 light "
                               "tokens → FiLM-modulated conv decoder (R/2) → ×2 bilinear → sigmoid",
               "inputs": {"image": "premultiplied RGB (×2 − alpha) and alpha in the frame.py canvas",
                          "light": "frame.light_vector(azimuth, elevation, size, floor_tilt)"},
               "outputs": ["cast shadow of the key light", "ambient occlusion"],
               "training_data": "augment data shadow-pairs: shadows computed from Sweet Home 3D models "
                                "(CC0 / CC-BY, see LICENSES/ASSETS.md) of the cut-out bank, train split",
               "train": train, "source_checkpoint": str(checkpoint)}
    if metrics_json:
        sidecar["metrics"] = json.loads(Path(metrics_json).read_text())
    st = save_weights(model, out_stem.with_suffix(".safetensors"), sidecar)
    res = model.cfg.res
    x = torch.randn(1, 4, res, res)
    li = torch.randn(1, 5)
    onnx_path = out_stem.with_suffix(".onnx")
    tmp = onnx_path.with_suffix(".onnx.tmp")
    torch.onnx.export(model, (x, li), str(tmp), input_names=["image", "light"], output_names=["shadow"],
                      dynamic_axes={"image": {0: "batch"}, "light": {0: "batch"}, "shadow": {0: "batch"}},
                      opset_version=17, dynamo=False)
    tmp.replace(onnx_path)
    from ..ort import onnxruntime
    ort = onnxruntime()

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    xb, lb = torch.rand(4, 4, res, res) * 2 - 1, torch.rand(4, 5)
    with torch.no_grad():
        ref = model(xb, lb).numpy()
    got = sess.run(["shadow"], {"image": xb.numpy(), "light": lb.numpy()})[0]
    sidecar_path = st.with_suffix(".json")
    full = json.loads(sidecar_path.read_text())
    full["onnx"] = {"file": onnx_path.name, "opset": 17,
                    "weights_sha256": hashlib.sha256(st.read_bytes()).hexdigest(),
                    "max_abs_diff_vs_torch": float(np.abs(ref - got).max())}
    write_atomic(sidecar_path, json.dumps(full, indent=2, default=list).encode())
    return [st, sidecar_path, onnx_path]
