"""Quality signals of every output and the gate that keeps, flags or rejects it (issue 22).

Nightly runs write thousands of pictures nobody looks at one by one, so every output is measured
and judged before it enters the dataset. The signals are cheap (a few milliseconds: everything
runs on a copy of at most `WORK_SIDE` px) and recorded in the manifest entry's `qa`:

at the segment step, on the input photo and its cut:

* ``confidence``: the segmenter's score of the product (YOLACT's objectness, or the cut's mean);
* ``mask_quality``: 1 − the share of the product's soft mask that is undecided (0.15 < p < 0.85)
  (segmenters with a soft mask only; the step records it as ``meta["segment_certainty"]``);
* ``agreement``: with the cut, the IoU of the cut's mask with YOLACT's detection of the product
  (two models that disagree about the outline; also in ``meta["segment_certainty"]``);
* ``refine_change``: with the cut's refiner, the pixels it moved across the threshold as a share
  of the product (a cut it had to redraw much of; also in ``meta["segment_certainty"]``);
* ``defect_risk``: the segment signals weighed together (`qa.risk`), where ``max_defect_risk`` is set;
* ``border_touch``: the share of the product's outline lying on the photo's frame (a cropped product);
* ``fragments`` / ``fragment_area``: parts besides the largest, and their share of the product;
* ``hole_area`` (every hole) and ``hole_product_area``: holes whose colour is not the background's
  around the product but the product's own (a part cut out of it), as a share of the product;
* ``shadow_area``: dark, background-hued parts of the mask's lower half, attached to its outline with
  no edge in the photo between them and the backdrop (a cast shadow cut out with the product);

after the last step, on the new picture:

* ``halo``: the share of the cut-out's edge ring that still has the old backdrop's colour while the
  new background there is far from it (a fringe of the old photo);
* ``enlargement``: how much the product was scaled up (√ of its output area / its area in the photo);
* ``logo_skipped``: the logo step found no room (its reason);
* scene checks (`scene_checks`): ``scale``, the product at its class's physical size or not, and
  ``light``, the shadow lit by the scene's key light or by the preset's; any step may add its own as
  ``meta["qa_checks"] = {name: {"value": v, "ok": bool}}``. A check that is not ok fails as `scene`.

`Gate` compares them with the preset's ``qa:`` thresholds (`QAConfig`): ``action`` (keep | flag |
reject) is what a failed check does, checks listed in ``flag_only`` only flag. Rejected outputs are
written under ``rejected/`` with their reasons and stay out of the annotations and the YOLO split;
flagged ones stay in, marked.
"""
from __future__ import annotations

from .config import CHECKS, Action, CheckName, QAConfig
from .gate import Inspector, failed_checks, in_dataset, judge, verdict
from .signals import (
    HALO_NEW_DE,
    HALO_OLD_DE,
    HOLE_DE,
    LIT_SCENES,
    MIN_PART,
    SHADOW_CHROMA,
    SHADOW_JUMP,
    WORK_SIDE,
    backdrop_colours,
    halo_signal,
    mask_certainty,
    scene_checks,
    segment_signals,
    to_lab,
)

__all__ = [
    "CHECKS", "HALO_NEW_DE", "HALO_OLD_DE", "HOLE_DE", "LIT_SCENES", "MIN_PART", "SHADOW_CHROMA", "SHADOW_JUMP",
    "WORK_SIDE", "Action", "CheckName", "Inspector", "QAConfig", "backdrop_colours", "failed_checks",
    "halo_signal", "in_dataset", "judge", "mask_certainty", "scene_checks", "segment_signals", "to_lab", "verdict",
]
