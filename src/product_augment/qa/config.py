"""The preset's `qa:` section: the checks, their thresholds and what a failed one does."""
from __future__ import annotations

from pydantic import Field

from ..presets.fields import ConfigModel, one_of

CHECKS = ("confidence", "mask_quality", "border_touch", "fragments", "holes", "ragged", "lost", "taken", "shadow",
          "risk", "halo", "enlargement", "logo_skipped")
Action = one_of("keep", "flag", "reject")
CheckName = one_of("confidence", "mask_quality", "border_touch", "fragments", "holes", "ragged", "lost", "taken",
                    "shadow", "risk", "halo", "enlargement", "logo_skipped", "scene")


class QAConfig(ConfigModel):
    """The quality gate (preset section `qa:`): thresholds of the signals and what a failed check does."""

    action: Action = Field("reject", description="what a failed check does: keep (record only), flag (stays "
                                                 "in the dataset, marked) or reject (to rejected/, out of the "
                                                 "annotations)")
    flag_only: list[CheckName] = Field(
        ["border_touch", "shadow", "halo", "enlargement", "logo_skipped", "scene"],
        description="checks that only flag, whatever `action` says ('scene': every scene check)")
    min_confidence: float | None = Field(None, ge=0, le=1, description="segmenter's score of the product; null: off "
                                                "(the default: the risk weighs it)")
    min_mask_quality: float | None = Field(None, ge=0, le=1, description="1 − undecided share of the soft mask")
    max_border_touch: float = Field(0.15, ge=0, le=1, description="share of the product's outline on the "
                                                                 "photo's frame (a cropped product)")
    max_fragments: int = Field(2, ge=0, description="parts besides the largest")
    max_fragment_area: float = Field(0.5, ge=0, le=1, description="their share of the product (0.5: a part "
                                     "as large as the rest; two products side by side pass)")
    max_hole_area: float | None = Field(None, ge=0, le=1, description="product-coloured holes, share of the product; "
                                                                     "null: off (the default: the risk weighs them)")
    max_ragged: float | None = Field(None, ge=0, description="notches and holes a closing over 3 % of the side fills, "
                                                     "share of the product")
    max_lost_area: float | None = Field(None, ge=0, description="not-backdrop pixels attached outside the product, share "
                                                        "of the product (a part left out)")
    max_backdrop_inside: float | None = Field(None, ge=0, description="backdrop-coloured pixels attached inside the "
                                                              "outline, share of the product (backdrop taken)")
    max_shadow_area: float = Field(0.3, ge=0, le=1, description="cast-shadow-like part of the mask, share "
                                                                "of the product")
    max_defect_risk: float | None = Field(0.8593, ge=0, le=1, description="the segment signals weighed together "
                                                                      "(qa/risk.py's logistic model); null: off")
    risk_model: str | None = Field(None, description="the risk model's JSON file, relative to the preset (default: the shipped "
                                                     "weights/qa_risk.json)")
    max_halo: float = Field(0.25, ge=0, le=1, description="share of the cut-out's edge ring with the old "
                                                         "backdrop's colour")
    max_enlargement: float = Field(2.5, ge=1, description="product scaled up by more than this")
    logo_skipped: bool = Field(True, description="a skipped logo fails the check `logo_skipped`")
