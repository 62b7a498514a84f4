"""`augment report RUN_DIR`: one static HTML page about a run folder (issue 22).

The page (`RUN_DIR/report/index.html`) needs no server and no network: its styles, script and data
are inline, its pictures are files beside it (`report/thumbs/`). It shows

* the quality gate's counts (kept, flagged, rejected, by reason) and the failed jobs;
* a contact sheet of the outputs, paged (a 10,000-output run opens as fast as a 100-output one),
  with the product's mask and the cut-out's edge overlaid on demand, and filters by class, preset
  choice (each `choice:` step's pick and each step's kind) and verdict;
* the rejected outputs with their reasons next to the input photo;
* per-class counts: input photos, outputs in the dataset, rejected;
* the per-step time (the segmenter's batched time is in `segment`, where the manifest counts it);
* the run's preset (`run.json`, which `augment run` writes at its end).

Thumbnails are made once: each is named by a hash of its output's path and job id, and a report
written again makes only the missing ones. Everything goes through `storage.Store`, so a run
folder can be an fsspec URL.
"""
from __future__ import annotations

import hashlib
import html
import io
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .classes import class_name
from .jobs import parts as J
from .qa import verdict
from .storage import Store

REPORT_DIR = "report"
THUMB = 160  # longest side of a thumbnail, px


class ReportError(Exception):
    pass


@dataclass
class ReportSummary:
    outputs: int
    thumbs_made: int
    seconds: float
    path: str
    bytes: int


def _key(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=10)
    for p in parts:
        h.update(p.encode() + b"\0")
    return h.hexdigest()


def _decode(data: bytes) -> np.ndarray | None:
    """RGB uint8 at most THUMB px on its longest side; a JPEG is decoded already reduced (its DCT
    scaling: about 5x faster for a 1024 px output), a transparent picture laid on a checkerboard."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
        im.draft("RGB", (THUMB, THUMB))
        im.thumbnail((THUMB, THUMB), Image.BILINEAR)
        has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        arr = np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    if arr.shape[2] == 4:
        yy, xx = np.mgrid[: arr.shape[0], : arr.shape[1]]
        board = np.where(((yy // 8 + xx // 8) % 2 == 0)[..., None], 235, 205).astype(np.float32)
        a = arr[..., 3:4].astype(np.float32) / 255
        arr = (arr[..., :3] * a + board * (1 - a)).astype(np.uint8)
    return arr


def _jpeg(rgb: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def _overlays(entry: dict, size: tuple[int, int]) -> bytes:
    """The mask tint (left half) and the edge line (right half) side by side, one RGBA PNG twice
    the thumbnail's width, from the manifest's RLEs; the page shows either half on demand."""
    from .annotations import rle_to_mask

    w, h = size
    m = np.zeros((h, w), np.uint8)
    for inst in entry.get("instances", []):
        full = rle_to_mask(inst["rle"])
        m = np.maximum(m, cv2.resize(full * np.uint8(255), (w, h), interpolation=cv2.INTER_AREA))
    inside = (m > 127).astype(np.uint8)
    edge = cv2.morphologyEx(inside, cv2.MORPH_GRADIENT, np.ones((2, 2), np.uint8)) > 0
    sprite = np.zeros((h, 2 * w, 4), np.uint8)
    sprite[:, :w][inside > 0] = (255, 170, 0, 110)  # BGRA: a light blue tint
    sprite[:, w:][edge] = (255, 0, 255, 255)         # a magenta line
    return cv2.imencode(".png", sprite, [cv2.IMWRITE_PNG_COMPRESSION, 6])[1].tobytes()


def _choices(applied: dict) -> list[str]:
    """What the preset picked for this output: `step=kind` for steps with kinds, `step#i` for a
    `choice:` of configurations."""
    out = []
    for step, p in (applied or {}).items():
        if not isinstance(p, dict):
            continue
        if "choice" in p and isinstance(p.get("params"), dict):
            kind = p["params"].get("kind")
            out.append(f"{step}#{p['choice']}" + (f" ({kind})" if kind else ""))
        elif isinstance(p.get("kind"), str):
            out.append(f"{step}={p['kind']}")
    return out


def _thumb_size(entry: dict) -> tuple[int, int]:
    """(width, height) of an output's thumbnail, from its recorded size (as `_decode` makes it)."""
    w, h = entry.get("size") or (THUMB, THUMB)
    s = min(1.0, THUMB / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def write_report(run_dir: str | Any, input_dir: str | Any | None = None, page_size: int = 120,
                 progress: Callable[[int, int], None] | None = None, rebuild: bool = False) -> ReportSummary:
    """Write `RUN_DIR/report/index.html` and its thumbnails (the missing ones; all with `rebuild`);
    returns a summary. `input_dir` (default: the input `run.json` names) is where the rejected
    items' photos are read. Thumbnails are a cache, written without fsync; the page last, durably."""
    t0 = time.perf_counter()
    out = Store(run_dir)
    from .export import read_latest

    latest = J.on_disk(out, read_latest(out, ReportError))  # the runner's views' rule
    info = json.loads(out.read_bytes("run.json")) if out.exists("run.json") else {}
    src_root = input_dir if input_dir is not None else info.get("input")
    inputs = Store(src_root) if src_root else None

    have = set(out.listdir(f"{REPORT_DIR}/thumbs")) if out.exists(f"{REPORT_DIR}/thumbs") else set()
    ok = [latest[k] for k in sorted(latest) if latest[k].get("status") == "ok"]
    failed = [latest[k] for k in sorted(latest) if latest[k].get("status") != "ok"]
    items, made = [], 0
    src_thumbs: dict[str, str | None] = {}
    for n, e in enumerate(ok):
        key = _key(e["outputs"]["image"], e.get("job", ""))
        w, h = _thumb_size(e)
        names = (f"{key}.jpg", f"{key}.o.png")
        if rebuild or not all(x in have for x in names):
            try:
                img = _decode(out.read_bytes(e["outputs"]["image"]))
            except (OSError, ValueError):  # gone, or a path outside the run (storage.UnsafePath)
                img = None
            if img is not None:
                h, w = img.shape[:2]
                for name, data in zip(names, (_jpeg(img), _overlays(e, (w, h)))):
                    out.write_bytes(f"{REPORT_DIR}/thumbs/{name}", data, durable=False)
                made += 1
            else:
                key = ""
        v = verdict(e)
        qa = e.get("qa") or {}
        src = None
        if v == "reject" and inputs is not None:
            if e["source"] not in src_thumbs:
                src_thumbs[e["source"]] = _source_thumb(out, inputs, e, set() if rebuild else have)
            src = src_thumbs[e["source"]]
        insts = e.get("instances") or []
        items.append({"id": e["id"], "t": key, "w": w, "h": h, "c": class_name(insts[0]["class_id"]) if insts else "none",
                      "v": v, "ch": _choices(e.get("applied", {})), "s": e["source"], "src": src,
                      "r": [f["reason"] for f in qa.get("failed", []) if f["action"] != "keep"],
                      "f": [f["reason"] for f in qa.get("failed", []) if f["action"] == "keep"]})
        if progress:
            progress(n + 1, len(ok))

    page = _page(items, failed, ok, info, page_size)
    out.write_bytes(f"{REPORT_DIR}/index.html", page.encode())
    total = len(page.encode())
    if out.local:
        total = sum(p.stat().st_size for p in (out.root / REPORT_DIR).rglob("*") if p.is_file())
    return ReportSummary(len(items), made, time.perf_counter() - t0, f"{out.path(REPORT_DIR)}/index.html", total)


def _source_thumb(out: Store, inputs: Store, e: dict, have: set[str]) -> str | None:
    key = "src-" + _key(e["source"], e.get("source_sha256", ""))
    if f"{key}.jpg" in have:
        return key
    try:
        img = _decode(inputs.read_input_bytes(e["source"]))
    except (OSError, ValueError):  # the input moved or is gone: the page says so
        return None
    if img is None:
        return None
    out.write_bytes(f"{REPORT_DIR}/thumbs/{key}.jpg", _jpeg(img), durable=False)
    have.add(f"{key}.jpg")
    return key


def _class_table(ok: list[dict]) -> list[list[Any]]:
    photos: dict[str, set] = defaultdict(set)
    kept, rejected, flagged = Counter(), Counter(), Counter()
    for e in ok:
        insts = e.get("instances") or []
        c = class_name(insts[0]["class_id"]) if insts else "none"
        photos[c].add(e["source"])
        v = verdict(e)
        (rejected if v == "reject" else kept)[c] += 1
        flagged[c] += v == "flag"
    return [[c, len(photos[c]), kept[c], flagged[c], rejected[c]] for c in sorted(photos)]


def _time_table(ok: list[dict]) -> list[list[Any]]:
    total: Counter = Counter()
    for e in ok:
        for k, v in (e.get("step_seconds") or {}).items():
            total[k] += float(v)
    whole = sum(float(e.get("seconds", 0.0)) for e in ok)
    other = max(whole - sum(total.values()), 0.0)  # reading the input, the pipeline's own overhead
    rows = [[k, round(v, 2), round(v / max(len(ok), 1), 4)] for k, v in total.items()]
    rows.append(["other (read, overhead)", round(other, 2), round(other / max(len(ok), 1), 4)])
    return rows


def _page(items: list[dict], failed: list[dict], ok: list[dict], info: dict, page_size: int) -> str:
    counts = Counter(i["v"] for i in items)
    reasons: dict[str, Counter] = defaultdict(Counter)
    for e in ok:
        v = verdict(e)
        for f in (e.get("qa") or {}).get("failed", []):
            if f["action"] == v != "keep":
                reasons[v][f["check"]] += 1
    data = {"items": items, "pageSize": page_size, "classes": _class_table(ok), "times": _time_table(ok),
            "failed": [[e.get("id"), e.get("error", "")] for e in failed],
            "counts": {k: counts.get(k, 0) for k in ("keep", "flag", "reject")},
            "reasons": {k: dict(v) for k, v in reasons.items()}}
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    preset = html.escape(info.get("preset_yaml", "(run.json not found: the run was made before reports)"))
    seconds = sum(float(e.get("seconds", 0.0)) for e in ok)
    head = html.escape(f"{len(ok)} outputs, {len(failed)} failed, {seconds:.0f} s of work · preset "
                       f"{info.get('preset_path', '?')} (sha256 {info.get('preset_sha256', '')[:12]}) · "
                       f"input {info.get('input', '?')}")
    return PAGE.replace("__DATA__", blob).replace("__PRESET__", preset).replace("__HEAD__", head)


PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>augment run report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 16px 40px;color:#222;background:#fafafa}
h1{font-size:20px;margin:14px 0 4px}h2{font-size:16px;margin:22px 0 6px}
.meta{color:#666;font-size:12px}
.counts span{display:inline-block;margin-right:14px;padding:3px 8px;border-radius:4px;background:#eee}
.counts .keep{background:#dcf3dc}.counts .flag{background:#fbf0c8}.counts .reject{background:#f8d6d6}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
.bar{position:sticky;top:0;background:#fafafa;padding:8px 0;z-index:2;border-bottom:1px solid #ddd}
.bar label{margin-right:12px}
.grid{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}
.card{width:164px;background:#fff;border:1px solid #ddd;border-radius:4px;padding:2px;font-size:11px}
.card.flag{border-color:#e0b400}.card.reject{border-color:#d33}
.pic{position:relative;width:160px;height:160px;display:flex;align-items:center;justify-content:center}
.pic img{max-width:160px;max-height:160px}
.pic .ov{position:absolute;display:none;background-size:200% 100%;background-repeat:no-repeat}
.pic .ov.m{background-position:left}.pic .ov.e{background-position:right}
body.show-mask .pic .ov.m,body.show-edge .pic .ov.e{display:block}
.id{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.why{color:#b00}.note{color:#777}
.rej{display:flex;gap:8px;align-items:flex-start;background:#fff;border:1px solid #e3b3b3;padding:4px;margin:4px 0}
.rej img{max-width:160px;max-height:160px}.rej .txt{font-size:12px}
.pager button{margin:0 4px}pre{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;max-height:400px}
</style></head>
<body>
<h1>augment run report</h1>
<div class="meta">__HEAD__</div>
<h2>Quality gate</h2>
<div class="counts" id="counts"></div>
<div id="failed"></div>
<h2>Outputs</h2>
<div class="bar">
 <label>class <select id="f-class"><option value="">all</option></select></label>
 <label>preset choice <select id="f-choice"><option value="">all</option></select></label>
 <label>verdict <select id="f-verdict"><option value="">all</option><option>keep</option><option>flag</option><option>reject</option></select></label>
 <label><input type="checkbox" id="t-mask"> mask</label>
 <label><input type="checkbox" id="t-edge"> edge</label>
 <span class="pager"><button id="prev">&lt;</button><span id="page"></span><button id="next">&gt;</button></span>
 <span id="shown" class="note"></span>
</div>
<div class="grid" id="grid"></div>
<h2>Rejected, beside the input photo</h2>
<div class="pager"><button id="rprev">&lt;</button><span id="rpage"></span><button id="rnext">&gt;</button></div>
<div id="rejected"></div>
<h2>Per class</h2><table id="classes"></table>
<h2>Time per step</h2><p class="note">Seconds summed over the outputs; the segmenter's batched model call is counted in <code>segment</code>, once per input.</p><table id="times"></table>
<h2>Preset</h2><pre>__PRESET__</pre>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const $ = id => document.getElementById(id);
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
const T = k => "thumbs/" + k;
const state = {page: 0, rpage: 0};
const word = {keep: "kept", flag: "flagged", reject: "rejected"};
$("counts").innerHTML = ["keep", "flag", "reject"].map(v => {
  const why = Object.entries((D.reasons || {})[v] || {}).map(([k, n]) => esc(k) + " " + n).join(", ");
  return `<span class="${v}">${D.counts[v]} ${word[v]}${why ? " (" + why + ")" : ""}</span>`;
}).join("") + `<span>${D.failed.length} failed</span>`;
if (D.failed.length) $("failed").innerHTML = "<h2>Failed</h2><table><tr><th>output</th><th>reason</th></tr>" +
  D.failed.map(([i, r]) => `<tr><td>${esc(i)}</td><td style="text-align:left">${esc(r)}</td></tr>`).join("") + "</table>";
function fill(sel, values) {
  for (const v of [...new Set(values)].sort()) { const o = document.createElement("option"); o.textContent = v; sel.appendChild(o); }
}
fill($("f-class"), D.items.map(i => i.c));
fill($("f-choice"), D.items.flatMap(i => i.ch));
function filtered() {
  const c = $("f-class").value, ch = $("f-choice").value, v = $("f-verdict").value;
  return D.items.filter(i => (!c || i.c === c) && (!ch || i.ch.includes(ch)) && (!v || i.v === v));
}
function pic(i) {
  if (!i.t) return '<div class="pic note">no picture</div>';
  const ov = c => `<div class="ov ${c}" style="width:${i.w}px;height:${i.h}px;background-image:url('${T(i.t)}.o.png')"></div>`;
  return `<div class="pic"><img loading="lazy" src="${T(i.t)}.jpg" width="${i.w}" height="${i.h}" alt="${esc(i.id)}">` +
    ov("m") + ov("e") + "</div>";
}
function render() {
  const list = filtered(), n = Math.max(1, Math.ceil(list.length / D.pageSize));
  state.page = Math.min(state.page, n - 1);
  const part = list.slice(state.page * D.pageSize, (state.page + 1) * D.pageSize);
  $("grid").innerHTML = part.map(i => `<div class="card ${i.v}" data-id="${esc(i.id)}" data-verdict="${i.v}" data-class="${esc(i.c)}">` +
    pic(i) + `<div class="id" title="${esc(i.id)}">${esc(i.id)}</div><div>${esc(i.c)} · ${i.v}</div>` +
    (i.r.length ? `<div class="why">${i.r.map(esc).join("<br>")}</div>` : "") +
    (i.f.length ? `<div class="note">${i.f.map(esc).join("<br>")}</div>` : "") + "</div>").join("");
  $("page").textContent = ` page ${state.page + 1} / ${n} `;
  $("shown").textContent = `${list.length} of ${D.items.length} outputs`;
}
function renderRejected() {
  const list = D.items.filter(i => i.v === "reject"), size = 25, n = Math.max(1, Math.ceil(list.length / size));
  state.rpage = Math.min(state.rpage, n - 1);
  $("rpage").textContent = list.length ? ` ${list.length} rejected, page ${state.rpage + 1} / ${n} ` : " none rejected ";
  $("rejected").innerHTML = list.slice(state.rpage * size, (state.rpage + 1) * size).map(i =>
    `<div class="rej">${i.src ? `<img loading="lazy" src="${T(i.src)}.jpg" alt="input ${esc(i.s)}">` : '<div class="pic note">input not found</div>'}` +
    pic(i) + `<div class="txt"><b>${esc(i.id)}</b><br>input ${esc(i.s)}<br><span class="why">${i.r.map(esc).join("<br>")}</span></div></div>`).join("");
}
for (const id of ["f-class", "f-choice", "f-verdict"]) $(id).addEventListener("change", () => { state.page = 0; render(); });
$("t-mask").addEventListener("change", e => document.body.classList.toggle("show-mask", e.target.checked));
$("t-edge").addEventListener("change", e => document.body.classList.toggle("show-edge", e.target.checked));
$("prev").onclick = () => { state.page = Math.max(0, state.page - 1); render(); };
$("next").onclick = () => { state.page++; render(); };
$("rprev").onclick = () => { state.rpage = Math.max(0, state.rpage - 1); renderRejected(); };
$("rnext").onclick = () => { state.rpage++; renderRejected(); };
$("classes").innerHTML = "<tr><th>class</th><th>input photos</th><th>outputs in the dataset</th><th>of them flagged</th><th>rejected</th></tr>" +
  D.classes.map(r => "<tr>" + r.map(x => `<td>${esc(x)}</td>`).join("") + "</tr>").join("");
const tsum = D.times.reduce((a, r) => a + r[1], 0) || 1;
$("times").innerHTML = "<tr><th>step</th><th>seconds</th><th>per output</th><th>share</th></tr>" +
  D.times.map(r => `<tr><td>${esc(r[0])}</td><td>${r[1]}</td><td>${r[2]}</td><td>${(100 * r[1] / tsum).toFixed(1)} %</td></tr>`).join("");
render(); renderRejected();
</script>
</body></html>
"""
