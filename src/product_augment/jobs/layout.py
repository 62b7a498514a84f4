"""The names a run writes in its output folder that the engine's modules share."""
from __future__ import annotations

import re

PARTS = "parts"
REJECTED = "rejected"   # outputs the quality gate rejected: the same layout, out of the dataset
MANIFEST = "manifest.jsonl"
LEGACY_PART = f"{PARTS}/r00000-legacy.jsonl"
HISTORY_DB = f"{PARTS}/history.db"  # the compacted history (history.py), beside the parts it replaces
PART_RE = re.compile(r"^r(\d{5})-([0-9a-z-]+)\.jsonl$")
REMOVED = "removed"  # the status of an entry that takes an output out of the folder (runner: --prune)
ANNOTATIONS = "annotations.json"   # the dataset's COCO view
LAYER_ANNOTATIONS = "layers.json"  # the layers' COCO view
FLAGGED = "flagged.txt"  # the dataset's images the quality gate flagged, one per line, with the reasons
RUN_INFO = "run.json"    # the last run's preset (its YAML) and input location, for `augment report`
LOCK_FILE = ".augment.lock"
OUTPUT_DIRS = ("images", "masks", "layers", "labels", PARTS, REJECTED)
