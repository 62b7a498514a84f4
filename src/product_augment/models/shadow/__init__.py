"""The learned shadow (`shadow: {kind: realistic}`): a small encoder–decoder with a transformer
bottleneck, trained on physically computed shadows (`data/shadow_pairs.py`).

`frame` (the canvas the network sees) and `onnx_predict` (inference in ONNX Runtime) import no
torch; `model`, `train`, `evaluate` and `export` need the `train` extra.
"""
