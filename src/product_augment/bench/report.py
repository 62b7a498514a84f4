"""report.md (Markdown tables beside the paper's numbers) and curves.png (validation IoU per arm)."""
from __future__ import annotations

from pathlib import Path

from .causes import table as causes_table

PAPER = {  # the paper's U-Net study: 1,500 base product images, base → base + augmented
    "pixel_accuracy": (0.85, 0.92), "iou": (0.72, 0.85), "map": (0.78, 0.89),
    "converge_epoch": (150, 120), "train_hours": (4.0, 5.0),
}

PAPER_ROWS = (  # (our metric, label, paper key)
    ("pixel_accuracy", "pixel accuracy", "pixel_accuracy"),
    ("iou_image", "foreground IoU (image mean)", "iou"),
    ("iou_set", "foreground IoU (set)", None),
    ("instance_ap", "instance mAP (COCO mask AP@[.50:.95] against the annotated instances)", "map"),
    ("instance_ap50", "instance AP50", None),
    ("component_ap", "component mAP (AP@[.50:.95] over 8-connected components; not instance mAP)", None),
    ("component_ap50", "component AP50", None),
)


def _ms(s: dict | None, pct: bool = False, digits: int = 3) -> str:
    if not s or s.get("mean") is None:
        return "–"
    if pct:
        return f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f} %"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def _delta(d: dict | None, pct: bool = False) -> str:
    """A paired difference (mean ± std over seeds) in brackets."""
    if not d or d.get("mean") is None:
        return ""
    if pct:
        return f" (Δ {100 * d['mean']:+.1f} ± {100 * d['std']:.1f} pt)"
    return f" (Δ {d['mean']:+.3f} ± {d['std']:.3f})"


def _controls_table(arms: dict, tests: list[str]) -> list[str]:
    """Foreground IoU and mAP of each augmented arm against each control, paired by seed: mean Δ ±
    std, the seeds where the arm wins, and the sign-flip test's p."""
    rows = []
    for name, arm in arms.items():
        if not name.startswith("augmented"):
            continue
        for control in ("base-steps", "base", "classical", "copy-paste"):
            cells = []
            for t in tests:
                dv = arm["summary"]["tests"][t].get("delta_vs", {}).get(control)
                if not dv:
                    break
                cell = []
                for m in ("iou_image", "component_ap"):
                    d = dv.get(m) or {}
                    if d.get("mean") is None:
                        cell.append("–")
                        continue
                    p = "" if d.get("p") is None else f", p {d['p']:.2f}"
                    cell.append(f"{d['mean']:+.3f} ± {d['std']:.3f} ({d.get('positive', 0)}/{d['n']} up{p})")
                cells.append(" · ".join(cell))
            if len(cells) == len(tests):
                rows.append(f"| {name} − {control} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    seeds = max(len(arm.get("runs", [])) for arm in arms.values())
    floor = f"{seeds} seeds cannot go below p {2 / 2 ** seeds:.2f}" if seeds >= 2 else "one seed gives no p"
    intro = ("Paired Δ of each augmented arm against each control (IoU · component mAP; seeds where the arm is "
             f"higher; two-sided p of the exact sign-flip test — {floor}). "
             "`base-steps` has seen as many images as the augmented arm; `base` has half its steps:")
    header = "| comparison | " + " | ".join(f"{t}: IoU · comp. mAP" for t in tests) + " |"
    return [intro, "", header, "|---|" + "---|" * len(tests), *rows, ""]


def _paper(key: str | None, pct: bool) -> str:
    if key is None:
        return "–"
    a, b = PAPER[key]
    return f"{100 * a:.0f} % → {100 * b:.0f} %" if pct else f"{a:.2f} → {b:.2f}"


def markdown(results: dict) -> str:
    arms = {k: v for k, v in results["arms"].items() if v.get("summary")}
    tests = list(results["data"]["tests"])
    lines: list[str] = []
    seeds = max((len(v["runs"]) for v in arms.values()), default=0)
    prof = results["profile_config"]
    lines.append(f"Profile `{results['profile']}`: {results['data']['base']['images']} base images, "
                 f"{prof['size']} px, {prof['epochs']} epochs (E), batch {prof['batch']}, U-Net widths "
                 f"{prof['widths']}, {seeds} seed(s), resize fill `{results['config'].get('pad')}`, device {results['device']}"
                 + (f", ablation: no {results['ablate']}" if results.get("ablate") else "")
                 + ("" if results.get("complete") else " — **incomplete run**") + ".")
    lines.append("Values are mean ± std over seeds; Δ is the paired difference (same seed, same initial weights).")
    sizes = ", ".join(f"`{t}` {v.get('images')}" + (" (COCO instances)" if v.get("instances") else "")
                      for t, v in results["data"]["tests"].items())
    lines.append(f"Test sets (images): {sizes}. Component mAP treats the 8-connected components of the truth "
                 "and of the prediction as the objects (touching products merge); instance mAP, only where "
                 "the set has COCO instances, scores the components against the annotated instances.")
    for name, why in (results["data"].get("skipped") or {}).items():
        lines.append(f"\n**Skipped set `{name}`**: {why}.")
    seeds_per = {a: len(v["runs"]) for a, v in arms.items()}
    if len(set(seeds_per.values())) > 1:
        lines.append("Seeds per arm: " + ", ".join(f"{a} {n}" for a, n in seeds_per.items())
                     + " (paired Δ uses the seeds both arms have).")
    lines.append("")
    lines.extend(_controls_table(arms, tests))
    lines.extend(causes_table(results))
    if "base" in arms and "augmented" in arms:
        b, a = arms["base"]["summary"], arms["augmented"]["summary"]
        lines.append("| metric | paper: base → augmented | "
                     + " | ".join(f"{t}: base → augmented (paired Δ)" for t in tests) + " |")
        lines.append("|---|---|" + "---|" * len(tests))
        for m, label, pk in PAPER_ROWS:
            pct = m == "pixel_accuracy"
            cells = [f"{_ms(b['tests'][t][m], pct)} → {_ms(a['tests'][t][m], pct)}"
                     f"{_delta(a['tests'][t].get('delta_vs_base', {}).get(m), pct)}" for t in tests]
            lines.append(f"| {label} | {_paper(pk, pct)} | " + " | ".join(cells) + " |")
        lines.append(f"| epochs to converge | 150 → 120 | {_ms(b['converge_epoch'], digits=1)} → "
                     f"{_ms(a['converge_epoch'], digits=1)} (same for every test set) |" + " |" * (len(tests) - 1))
        lines.append(f"| training time | 4 h → 5 h | {_ms(b['train_seconds'], digits=1)} s → "
                     f"{_ms(a['train_seconds'], digits=1)} s |" + " |" * (len(tests) - 1))
        lines.append("")
    inst = {t: bool(results["data"]["tests"][t].get("instances")) for t in tests}
    lines.append("| arm | train images | epochs | steps | epochs to converge | best val IoU | training time (s) | "
                 + " | ".join(f"{t} IoU | {t} comp. mAP" + (f" | {t} inst. mAP" if inst[t] else "") for t in tests)
                 + " |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|" + "".join("---:|---:|" + "---:|" * inst[t] for t in tests))
    for name, arm in arms.items():
        s = arm["summary"]
        cells = [f"{_ms(s['tests'][t]['iou_image'])} | {_ms(s['tests'][t]['component_ap'])}"
                 + (f" | {_ms(s['tests'][t]['instance_ap'])}" if inst[t] else "") for t in tests]
        lines.append(f"| {name} | {s['train_images']} | {arm['runs'][0]['epochs']:g} | {s['steps']} | "
                     f"{_ms(s['converge_epoch'], digits=1)} | {_ms(s['best_val_iou'])} | "
                     f"{_ms(s['train_seconds'], digits=1)} | " + " | ".join(cells) + " |")
    lines.append("")
    for t in tests:
        buckets = sorted({bk for arm in arms.values() for bk in arm["summary"]["tests"][t]["by_aspect"]})
        if len(buckets) < 2:
            continue
        first = next(iter(arms.values()))["summary"]["tests"][t]["by_aspect"]
        lines.append(f"IoU (image mean) on `{t}` by the original's aspect ratio:")
        lines.append("")
        lines.append("| arm | " + " | ".join(f"{bk} (n={first.get(bk, {}).get('n', 0)})" for bk in buckets) + " |")
        lines.append("|---|" + "---:|" * len(buckets))
        for name, arm in arms.items():
            per = arm["summary"]["tests"][t]["by_aspect"]
            lines.append(f"| {name} | " + " | ".join(_ms(per.get(bk, {}).get("iou_image")) for bk in buckets) + " |")
        lines.append("")
    gen = results["data"].get("augmented") or {}
    if gen:
        secs = [g.get("seconds") for g in gen.values() if g.get("seconds") is not None]
        resumed = any(g.get("resumed") for g in gen.values())
        if secs:
            lines.append(f"Making the augmented set took {sum(secs) / len(secs):.0f} s per seed (not in the "
                         f"training time" + ("; partly resumed from an earlier run" if resumed else "") + ").")
    if results.get("curves_note"):
        lines.append(results["curves_note"])
    return "\n".join(lines).rstrip() + "\n"


def plot_curves(results: dict, path: Path) -> str | None:
    """Validation IoU per epoch and per images seen, mean over seeds (band: min–max); returns a
    note instead when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(curves.png skipped: matplotlib is not installed — `pip install 'product-augment[bench]'`)"
    import numpy as np

    if not any(p.get("val_iou") is not None for arm in results["arms"].values() for r in arm["runs"]
               for p in r["curve"]):
        return "(no learning curves: the config names no validation set)"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, arm in results["arms"].items():
        runs = arm["runs"]
        if not runs:
            continue
        n = min(len(r["curve"]) for r in runs)
        vals = np.array([[p.get("val_iou") if p.get("val_iou") is not None else np.nan for p in r["curve"][:n]]
                         for r in runs], float)
        ep = np.arange(1, n + 1)
        seen = np.array([p["step"] for p in runs[0]["curve"][:n]]) * runs[0]["batch"]
        if np.isnan(vals).all():
            continue
        mean = np.nanmean(vals, 0)
        for ax, x in ((axes[0], ep), (axes[1], seen)):
            (line,) = ax.plot(x, mean, label=name, lw=1.6)
            if len(runs) > 1:
                ax.fill_between(x, np.nanmin(vals, 0), np.nanmax(vals, 0), color=line.get_color(), alpha=0.15)
    axes[0].set_xlabel("epoch")
    axes[1].set_xlabel("training images seen")
    n_val = (results.get("data", {}).get("val") or {}).get("images")
    for ax in axes:
        ax.set_ylabel("validation IoU (image mean, the validation sets pooled"
                      + (f", {n_val} images)" if n_val else ")"))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    ran = max((len(r) for r in (a.get("runs", []) for a in results["arms"].values())), default=0)
    fig.suptitle(f"U-Net bench, profile {results['profile']}: validation IoU (mean over {ran} seed(s) run, "
                 f"band min–max)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def write_outputs(results: dict, out: Path) -> None:
    note = plot_curves(results, out / "curves.png")
    results["curves_note"] = note
    results["curves"] = None if note else "curves.png"
    (out / "report.md").write_text(markdown(results))
