"""The gate: an `Inspector` measures each output as the pipeline runs, `judge` compares the signals
with the preset's thresholds and gives the verdict."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..sample import Sample
from .config import QAConfig
from .risk import DIGITS as RISK_DIGITS
from .risk import load as load_risk
from .signals import _logo_skipped, halo_signal, scene_checks, segment_signals


class Inspector:
    """Measures one job's signals as the pipeline runs (`observe` after each step, `finish` at the
    end) and judges them. One per job; never changes the sample."""

    def __init__(self, config: QAConfig, cache: dict | None = None, key: Any = None):
        """`cache`/`key`: the segment signals of an input are measured once for all its variants
        (a dict the caller keeps for a shard, and the input's key in it)."""
        self.config = config
        self.signals: dict[str, Any] = {}
        self._area_in = 0
        self.seconds = 0.0
        self._cache, self._key = cache, key

    def observe(self, name: str, sample: Sample) -> None:
        if name != "segment" or sample.alpha is None:
            return
        import time
        t0 = time.perf_counter()
        cached = self._cache.get(self._key) if self._cache is not None else None
        if cached is None:
            score = sample.instances[0].score if sample.instances else None
            area = int(sample.instances[0].mask.sum()) if sample.instances else int((sample.alpha > 0.5).sum())
            signals = segment_signals(sample.image, sample.alpha, score, sample.meta.get("segment_certainty"))
            if self.config.max_defect_risk is not None:
                model = load_risk(self.config.risk_model)
                risk = model.risk(signals)
                if risk is not None:
                    signals["defect_risk"] = round(risk, RISK_DIGITS)
                    signals["defect_risk_from"] = model.reasons(signals)
            cached = (signals, area)
            if self._cache is not None:
                self._cache[self._key] = cached
        self.signals.update(cached[0])
        self._area_in = cached[1]
        self.seconds += time.perf_counter() - t0

    def finish(self, sample: Sample) -> dict[str, Any]:
        """The entry's `qa`: verdict, failed checks (with their values) and every signal."""
        import time
        t0 = time.perf_counter()
        s = self.signals
        if self._area_in and sample.instances:
            s["enlargement"] = round(math.sqrt(int(sample.instances[0].mask.sum()) / self._area_in), 4)
        if (sample.plate is not None and sample.output_alpha is None and sample.alpha is not None
                and "backdrop_lab" in s):
            s["halo"] = halo_signal(sample.image, sample.alpha, sample.plate, s["backdrop_lab"])
        skipped = _logo_skipped(sample.meta.get("applied", {}))
        if skipped:
            s["logo_skipped"] = skipped
        scene = {**scene_checks(sample.meta.get("applied", {})), **(sample.meta.get("qa_checks") or {})}
        if scene:
            s["scene"] = {k: dict(v) for k, v in scene.items()}
        result = judge(s, self.config)
        self.seconds += time.perf_counter() - t0
        return result


def failed_checks(signals: Mapping[str, Any], cfg: QAConfig) -> list[tuple[str, str]]:
    """(check, reason) for every failed check, in `CHECKS` order, then scene checks."""
    s = signals
    out: list[tuple[str, str]] = []

    def over(check: str, key: str, limit: float | None, fmt: str = ".3f", why: str = "") -> None:
        v = s.get(key)
        if v is not None and limit is not None and v > limit:
            out.append((check, f"{key} {v:{fmt}} > {limit:{fmt}}{why}"))

    def under(check: str, key: str, limit: float | None) -> None:
        v = s.get(key)
        if v is not None and limit is not None and v < limit:
            out.append((check, f"{key} {v:.3f} < {limit:.3f}"))

    under("confidence", "confidence", cfg.min_confidence)
    under("mask_quality", "mask_quality", cfg.min_mask_quality)
    over("border_touch", "border_touch", cfg.max_border_touch)
    if s.get("fragments", 0) > cfg.max_fragments:
        out.append(("fragments", f"fragments {s['fragments']} > {cfg.max_fragments}"))
    over("fragments", "fragment_area", cfg.max_fragment_area)
    over("holes", "hole_product_area", cfg.max_hole_area)
    over("ragged", "ragged", cfg.max_ragged)
    over("lost", "lost_area", cfg.max_lost_area)
    over("taken", "backdrop_inside", cfg.max_backdrop_inside)
    over("shadow", "shadow_area", cfg.max_shadow_area)
    most = s.get("defect_risk_from")
    over("risk", "defect_risk", cfg.max_defect_risk, ".4f",  # the threshold has four digits
         f" (mostly {', '.join(most)})" if most else "")
    over("halo", "halo", cfg.max_halo)
    over("enlargement", "enlargement", cfg.max_enlargement, ".2f")
    if cfg.logo_skipped and s.get("logo_skipped"):
        out.append(("logo_skipped", f"logo skipped: {s['logo_skipped']}"))
    for name, c in sorted((s.get("scene") or {}).items()):
        if not c.get("ok", True):
            v = c.get("value")
            out.append((f"scene:{name}", f"scene {name}" + (f": {v}" if v is not None else "")))
    # one reason per check (fragments may fail on count and area)
    seen: dict[str, str] = {}
    for check, reason in out:
        seen[check] = f"{seen[check]}; {reason}" if check in seen else reason
    return list(seen.items())


def judge(signals: Mapping[str, Any], cfg: QAConfig) -> dict[str, Any]:
    """{"verdict": keep | flag | reject, "failed": [{"check", "reason", "action"}], "signals"}."""
    failed = []
    for check, reason in failed_checks(signals, cfg):
        # scene checks are `scene:<name>`; flag_only's 'scene' covers them all
        action = cfg.action if cfg.action == "keep" or check.split(":")[0] not in cfg.flag_only else "flag"
        failed.append({"check": check, "reason": reason, "action": action})
    actions = {f["action"] for f in failed}
    verdict = "reject" if "reject" in actions else "flag" if "flag" in actions else "keep"
    return {"verdict": verdict, "failed": failed, "signals": dict(signals)}


def verdict(entry: Mapping[str, Any]) -> str:
    """An ok manifest entry's verdict (`keep` for entries made before the gate)."""
    return (entry.get("qa") or {}).get("verdict", "keep")


def in_dataset(entry: Mapping[str, Any]) -> bool:
    """Whether an entry's output belongs in the annotations: ok and not rejected by the gate."""
    return entry.get("status") == "ok" and verdict(entry) != "reject"
