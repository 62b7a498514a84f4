"""YOLACT instance segmenter with weight-standardized convs (WS+GN) on an EfficientNet-Lite0 backbone.

Import the submodules you need (`config`, `model`, `predict`, `train`, `evaluate`); this package
imports nothing heavy at import time.
"""
