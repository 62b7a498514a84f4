"""Object / ground-shadow training pairs for the learned (`realistic`) shadow.

Two builders:

* `build_fast_shadow_pairs` (``augment data shadow-pairs``, the default): for each 3D-model view
  of the cut-out bank, the mesh is reloaded and the bank's camera rebuilt; every light is then
  computed by projecting the mesh onto the ground plane (no renderer), a few hundred ms a view
  for several lights. See the section "Fast physically based pairs" below.
* `build_shadow_pairs` (``--method render``): the older pyrender path, one shadow-mapped render
  per light sample, ~9 s a pair.

Each pair is one view of a 3D model: the object's RGBA render and, from the same camera, the
shadow matte it casts on the ground under a soft area light (``Renderer.render_shadow``), plus the
light and view parameters. The frame is looser than for bank cutouts so the shadow fits in it.

Layout: ``<out>/<index>_rgba.png``, ``<out>/<index>_shadow.png`` (8-bit matte, 255 = fully shadowed),
``<out>/pairs.jsonl`` (one record per pair, assembled from ``<out>/.rec/``). Resumable, deterministic.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ..classes import class_name
from ..io import write_atomic
from ..models.shadow.frame import RES, Canvas, canvas_for, crop
from . import mapping
from .bank import is_flat, png_bytes, read_rgba, view_rng
from .render import AreaLight, Renderer, _direction, _fit_distance, look_at, prepare_model, sample_view
from .sources import CatalogEntry


def sample_area_light(rng: np.random.Generator, samples: int = 8) -> AreaLight:
    return AreaLight(float(rng.uniform(0, 360)), float(rng.uniform(30, 80)), float(rng.uniform(2, 20)), samples)


def build_shadow_pairs(entries: list[CatalogEntry], out_dir: Path, count: int, size: int = 384, seed: int = 0,
                       progress: Callable[[str], None] | None = None, renderer: Renderer | None = None,
                       views_per_model: int = 4) -> int:
    """Render ``count`` pairs, ``views_per_model`` consecutive ones per model, cycling over ``entries``
    in a seeded shuffled order; returns the number of records in pairs.jsonl.

    Pass ``renderer`` to reuse an open one (pyrender's EGL contexts do not survive another
    renderer being closed in the same process); otherwise one of ``size`` is opened and closed.
    """
    out_dir = Path(out_dir)
    entries = sorted(entries, key=lambda e: e.source_id)
    order = np.random.default_rng(seed).permutation(len(entries))  # varied classes from the first pairs on
    own = renderer is None
    renderer = Renderer(size) if own else renderer
    try:
        model_of, current = None, None
        for i in range(count):
            rec_path = out_dir / ".rec" / f"{i:06d}.json"
            if rec_path.exists():
                continue
            entry = entries[int(order[(i // views_per_model) % len(entries)])]
            if current is not entry:
                model_of, current = prepare_model(entry.model_path, entry.rotation, entry.size_cm), entry
            rng = view_rng("shadow:" + entry.source_id, i, seed)
            lo, hi = (45.0, 85.0) if is_flat(entry) else (5.0, 40.0)
            view = dataclasses.replace(sample_view(rng, hi, lo), frame=0.6)
            light = sample_area_light(rng)
            res = renderer.render(model_of, view)
            matte = renderer.render_shadow(model_of, view, light, rng)
            write_atomic(out_dir / f"{i:06d}_rgba.png", png_bytes(res.rgba))
            write_atomic(out_dir / f"{i:06d}_shadow.png",
                               png_bytes(np.clip(np.round(matte * 255), 0, 255).astype(np.uint8)))
            cid = mapping.sh3d_class(entry.name, entry.category, entry.id)
            record = {"index": i, "rgba": f"{i:06d}_rgba.png", "shadow": f"{i:06d}_shadow.png",
                      "source_id": entry.source_id, "class": class_name(cid) if cid else None,
                      "licence": entry.licence, "attribution": entry.attribution, "view": view.to_dict(),
                      "light": dataclasses.asdict(light)}
            write_atomic(rec_path, json.dumps(record, sort_keys=True).encode())
            if progress:
                progress(f"pair {i + 1}/{count}: {entry.source_id}")
    finally:
        if own:
            renderer.close()
    records = [json.loads(p.read_text()) for p in sorted((out_dir / ".rec").glob("*.json"))
               if int(p.stem) < count]
    write_atomic(out_dir / "pairs.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode())
    return len(records)


# ============================================================================================
# Fast physically based pairs: one mesh + one camera per bank view, many lights by projection
# ============================================================================================
#
# The bank's cut-outs were rendered from known cameras (`render.sample_view` parameters in
# bank.jsonl, `render._fit_distance` framing, 448 px). Here the same mesh is loaded, the same
# camera rebuilt, and the shadow on the ground plane y = 0 is computed without a renderer: every
# triangle is projected along a light direction onto the ground, and the ground triangle is
# projected into the camera image (a plane's projection is a homography, so a triangle stays a
# triangle); the union of those triangles, rasterised with supersampling, is the hard shadow of
# that direction in the camera image, including the parts of the object the camera does not see.
# An area light is several directions over its disc (soft penumbra); a uniform sky is a
# cosine-weighted set of directions over the hemisphere (ambient occlusion: the contact shadow).

BANK_SIZE = 448          # px of the bank's renders (``augment data bank --size``)
BANK_FRAME = 0.9         # View.frame of the bank's renders
SUPERSAMPLE = 2
KEY_SAMPLES = 6          # directions over the key light's disc (turned at random per view)
SKY_SAMPLES = 32         # sky directions for the ambient occlusion (turned at random per view)
SKY_MIN_ELEVATION = 10.0  # sky directions lower than this count as unoccluded (their weight is small)
AO_RES = 64              # the occlusion is smooth: computed at this size (no supersampling), upsampled
AO_REACH = 0.3           # near-field occlusion: occluders within this × the object's height count


@dataclasses.dataclass(frozen=True)
class Camera:
    """A pinhole camera: eye, rotation (columns = right, up, back in world), focal length and
    principal point in the pixel coordinates of the cut-out (pixel-centre convention)."""

    eye: np.ndarray
    rot: np.ndarray
    focal: float
    cx: float
    cy: float

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N×2 pixel coordinates, N depths in front of the camera) of world points."""
        pc = (np.asarray(points, np.float64) - self.eye) @ self.rot
        z = -pc[:, 2]
        zs = np.where(z > 1e-9, z, 1e-9)
        uv = np.stack([self.cx + self.focal * pc[:, 0] / zs, self.cy - self.focal * pc[:, 1] / zs], 1)
        return uv, z


def mesh_arrays(model) -> tuple[np.ndarray, np.ndarray]:
    """(vertices V×3, faces F×3) of a prepared trimesh scene, all parts in one array."""
    verts, faces, off = [], [], 0
    for geom in model.geometry.values():
        v = np.asarray(geom.vertices, np.float64)
        verts.append(v)
        faces.append(np.asarray(geom.faces, np.int64) + off)
        off += len(v)
    return np.concatenate(verts), np.concatenate(faces)


def simplify(verts: np.ndarray, faces: np.ndarray, cells: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """Vertex clustering: vertices snapped to a grid of `cells` per largest extent and merged.

    Shadows do not need detail finer than a fraction of a pixel; this keeps their outline and
    drops most faces of dense meshes.
    """
    lo, hi = verts.min(0), verts.max(0)
    cell = float(np.max(hi - lo)) / cells
    if cell <= 0:
        return verts, faces
    keys = np.round((verts - lo) / cell).astype(np.int64)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    counts = np.bincount(inv, minlength=len(uniq)).astype(np.float64)
    new_v = np.stack([np.bincount(inv, verts[:, k], len(uniq)) for k in range(3)], 1) / counts[:, None]
    f = inv[faces]
    ok = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    f = np.unique(np.sort(f[ok], axis=1), axis=0)
    return new_v, f


def bank_camera(model, view: dict, size: int = BANK_SIZE, frame: float = BANK_FRAME) -> tuple[Camera, float]:
    """The camera a bank view was rendered with (full-frame principal point) and its distance."""
    lo, hi = model.bounds
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo)) / 2
    yfov = math.radians(view["yfov"])
    d = _direction(view["azimuth"], view["elevation"])
    dist = _fit_distance(lo, hi, centre, d, yfov, radius, frame)
    eye = centre + d * dist
    pose = look_at(eye, centre)
    focal = size / 2 / math.tan(yfov / 2)
    return Camera(eye, pose[:3, :3], focal, size / 2 - 0.5, size / 2 - 0.5), dist


def rasterize(tris: np.ndarray, grid: int, chunk: int = 1 << 21) -> np.ndarray:
    """grid×grid bool coverage of the union of 2D triangles (F×3×2, continuous coordinates: pixel
    (i, j) is the square [j, j+1]×[i, i+1]); a pixel is covered when its centre is inside.

    Vectorised edge functions over each triangle's bounding box, bucketed by box size; the few
    larger triangles are filled one by one by OpenCV (which also covers pixels their edges touch).
    """
    out = np.zeros(grid * grid, bool)
    if len(tris) == 0:
        return out.reshape(grid, grid)
    x, y = tris[..., 0], tris[..., 1]
    j0 = np.maximum(np.ceil(x.min(1) - 0.5), 0).astype(np.int64)
    j1 = np.minimum(np.floor(x.max(1) - 0.5), grid - 1).astype(np.int64)
    i0 = np.maximum(np.ceil(y.min(1) - 0.5), 0).astype(np.int64)
    i1 = np.minimum(np.floor(y.max(1) - 0.5), grid - 1).astype(np.int64)
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    keep = (j1 >= j0) & (i1 >= i0) & (np.abs(area) > 1e-12)
    ext = np.maximum(j1 - j0, i1 - i0) + 1
    done = ~keep
    for b in (1, 2, 4):   # larger ones: one OpenCV call each is cheaper than b² candidates
        sel = np.flatnonzero(~done & (ext <= b))
        done[sel] = True
        if sel.size == 0:
            continue
        oy, ox = np.divmod(np.arange(b * b), b)
        step = max(1, chunk // (b * b))
        for s in range(0, sel.size, step):
            t = sel[s:s + step]
            px = j0[t, None] + ox[None]
            py = i0[t, None] + oy[None]
            cx, cy = px + 0.5, py + 0.5
            sg = np.sign(area[t])[:, None]
            inside = (px <= j1[t, None]) & (py <= i1[t, None])
            for a, c in ((0, 1), (1, 2), (2, 0)):
                xa, ya, xc, yc = x[t, a, None], y[t, a, None], x[t, c, None], y[t, c, None]
                inside &= sg * ((xc - xa) * (cy - ya) - (yc - ya) * (cx - xa)) >= -1e-9
            out[(py * grid + px)[inside]] = True
    big = np.flatnonzero(~done)
    if big.size:
        img = out.reshape(grid, grid).view(np.uint8)
        pts = np.round(tris[big] * 16.0 - 8.0).astype(np.int32)   # pixel centres, 4 fractional bits
        for p in pts:
            cv2.fillConvexPoly(img, p, 1, lineType=cv2.LINE_8, shift=4)
    return out.reshape(grid, grid)


def clip_below(tris: np.ndarray, height: float) -> np.ndarray:
    """The parts of 3D triangles (F×3×3, y up) at or below y = `height`, as triangles."""
    y = tris[..., 1]
    below = y <= height
    n = below.sum(1)
    out = [tris[n == 3]]
    for count in (1, 2):
        sel = tris[n == count]
        if not len(sel):
            continue
        b = below[n == count]
        # put the odd vertex first: the one below (count 1) or the one above (count 2)
        k = np.argmax(b, 1) if count == 1 else np.argmin(b, 1)
        order = (k[:, None] + np.arange(3)[None]) % 3
        t = np.take_along_axis(sel, order[..., None], 1)
        a, p1, p2 = t[:, 0], t[:, 1], t[:, 2]

        def cut(u, v):
            f = (height - u[:, 1]) / np.where(np.abs(v[:, 1] - u[:, 1]) > 1e-12, v[:, 1] - u[:, 1], 1e-12)
            return u + (v - u) * np.clip(f, 0.0, 1.0)[:, None]
        if count == 1:       # a below: one smaller triangle
            out.append(np.stack([a, cut(a, p1), cut(a, p2)], 1))
        else:                # a above: the quad p1, p2, cut(p2, a), cut(p1, a) as two triangles
            q1, q2 = cut(p2, a), cut(p1, a)
            out.append(np.stack([p1, p2, q1], 1))
            out.append(np.stack([p1, q1, q2], 1))
    return np.concatenate(out, 0)


def hard_shadow(tris: np.ndarray, camera: Camera, canvas: Canvas, direction: np.ndarray, grid: int) -> np.ndarray:
    """grid×grid bool: where the ground y = 0 is in the shadow of the 3D triangles `tris`
    (F×3×3) for light `direction` (unit vector towards the light), seen through `camera`, over
    the canvas."""
    pts = tris.reshape(-1, 3)
    ground = pts - (np.maximum(pts[:, 1], 0.0) / max(direction[1], 1e-6))[:, None] * direction[None]
    ground[:, 1] = 0.0
    uv, z = camera.project(ground)
    c = (canvas.to_canvas(uv, grid) + 0.5).reshape(-1, 3, 2)   # continuous coordinates of the grid
    front = (z > 1e-6 * (1.0 + np.abs(z).max())).reshape(-1, 3).all(1)
    return rasterize(c[front], grid)


def disc_directions(azimuth: float, elevation: float, radius_deg: float, n: int, turn: float) -> np.ndarray:
    """n unit vectors spread evenly (a sunflower pattern turned by `turn`) over the light's disc."""
    k = np.arange(n) + 0.5
    r = np.radians(radius_deg) * np.sqrt(k / n)
    phi = k * math.pi * (3.0 - math.sqrt(5.0)) + turn
    el = np.clip(elevation + np.degrees(r * np.sin(phi)), 1.0, 89.9)
    az = azimuth + np.degrees(r * np.cos(phi)) / np.maximum(np.cos(np.radians(el)), 0.05)
    return np.stack([_direction(float(a), float(e)) for a, e in zip(az, el)])


def sky_directions(n: int, turn: float) -> tuple[np.ndarray, float]:
    """Cosine-weighted hemisphere directions (a sunflower on the disc lifted to the hemisphere),
    without those below SKY_MIN_ELEVATION; returns them and the fraction kept."""
    k = np.arange(n) + 0.5
    r = np.sqrt(k / n)
    phi = k * math.pi * (3.0 - math.sqrt(5.0)) + turn
    d = np.stack([r * np.sin(phi), np.sqrt(1.0 - r * r), r * np.cos(phi)], 1)
    keep = d[:, 1] >= math.sin(math.radians(SKY_MIN_ELEVATION))
    return d[keep], float(keep.mean())


def soft_shadow(verts, faces, camera, canvas, directions, res: int, ss: int = SUPERSAMPLE,
                reach: float | None = None) -> np.ndarray:
    """res×res float32: the fraction of `directions` for which the ground is shadowed.

    `reach` (model units) limits occluders to those within that distance of the floor point
    along each direction (near-field ambient occlusion); None: all of the object.
    """
    acc = np.zeros((res * ss, res * ss), np.float32)
    tris = verts[faces]
    for d in directions:
        t = tris if reach is None else clip_below(tris, reach * float(d[1]))
        acc += hard_shadow(t, camera, canvas, d, res * ss)
    acc /= max(1, len(directions))
    return acc.reshape(res, ss, res, ss).mean(axis=(1, 3))


def relative_to_world_azimuth(camera_azimuth: float, light_azimuth: float) -> float:
    """World azimuth (render._direction's) of a light given as the `drop` kind does: 0 from the
    camera's side, 90 from the picture's left, -90 from its right, 180 from behind."""
    return camera_azimuth - light_azimuth


def sample_light(rng: np.random.Generator) -> dict[str, float]:
    """A studio key light as the shadow step's parameters (azimuth, elevation, size)."""
    return {"azimuth": float(rng.uniform(-180.0, 180.0)), "elevation": float(rng.uniform(20.0, 80.0)),
            "size": float(np.exp(rng.uniform(math.log(0.02), math.log(0.35))))}


def view_pair(verts, faces, camera: Camera, canvas: Canvas, camera_azimuth: float, lights: list[dict],
              rng: np.random.Generator, res: int = RES) -> tuple[np.ndarray, list[np.ndarray]]:
    """(ambient occlusion, [cast shadow per light]) of one view, res×res float32 each in [0, 1].

    `size` is the light's penumbra per unit of height (as for `drop`): its disc's angular radius
    is atan(size).
    """
    ao = ambient_occlusion(verts, faces, camera, canvas, rng, res)
    casts = []
    for light in lights:
        dirs = disc_directions(relative_to_world_azimuth(camera_azimuth, light["azimuth"]), light["elevation"],
                               math.degrees(math.atan(light["size"])), KEY_SAMPLES,
                               float(rng.uniform(0, 2 * math.pi)))
        casts.append(soft_shadow(verts, faces, camera, canvas, dirs, res))
    return ao, casts


def ambient_occlusion(verts, faces, camera: Camera, canvas: Canvas, rng: np.random.Generator, res: int = RES,
                      samples: int = SKY_SAMPLES, low: int = AO_RES, reach: float = AO_REACH) -> np.ndarray:
    """The floor's near-field ambient occlusion under a uniform sky: the cosine-weighted fraction of
    `samples` sky directions blocked by the parts of the object within `reach` × its height of
    the floor point (the contact darkening, which fades within a short distance of the object).
    Computed at `low` px without supersampling (it is smooth) and upsampled to `res`."""
    sky, kept = sky_directions(samples, float(rng.uniform(0, 2 * math.pi)))
    height = float(verts[:, 1].max() - min(0.0, float(verts[:, 1].min())))
    ao = soft_shadow(verts, faces, camera, canvas, sky, low, ss=1, reach=reach * height) * kept
    return cv2.resize(ao, (res, res), interpolation=cv2.INTER_LINEAR)


def _view_id(cutout_file: str) -> str:
    return Path(cutout_file).stem


def bank_views(bank: Path, min_camera_elevation: float = 5.0) -> list[dict]:
    """The bank's 3D-model views usable for pairs (with view parameters; eye-level views whose
    floor is seen edge-on are left out), each with its split from the bank's splits.json."""
    bank = Path(bank)
    splits = json.loads((bank / "splits.json").read_text())
    out = []
    for line in (bank / "bank.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        c = json.loads(line)
        if not c["source_id"].startswith("sh3d:") or not c.get("view"):
            continue
        if c["view"]["elevation"] < min_camera_elevation:
            continue
        out.append({**c, "split": splits.get(c["split_key"], "train")})
    out.sort(key=lambda c: (c["source_id"], c["file"]))
    return out


def _premultiplied_crop(rgba: np.ndarray, canvas: Canvas, res: int) -> np.ndarray:
    """The canvas crop of a straight-colour RGBA cut-out, resampled premultiplied (no fringes)."""
    a = rgba[..., 3].astype(np.float32) / 255.0
    prem = np.dstack([rgba[..., :3].astype(np.float32) * a[..., None], a])
    c = crop(prem, canvas, res)
    alpha = np.clip(c[..., 3], 0.0, 1.0)
    rgb = np.where(alpha[..., None] > 1e-4, c[..., :3] / np.maximum(alpha[..., None], 1e-4), 0.0)
    return np.dstack([np.clip(np.rint(rgb), 0, 255), np.rint(alpha * 255)]).astype(np.uint8)


def view_geometry(model_arrays, cutout: dict, bank: Path) -> tuple[np.ndarray, Camera, Canvas] | None:
    """(the cut-out RGBA, the camera in the cut-out's pixel coordinates, the network's canvas) of
    one bank view; None when the rebuilt camera does not reproduce the cut-out's frame."""
    from ..ops.shadow import find_footprint

    model, verts, _ = model_arrays
    rgba = read_rgba(Path(bank) / cutout["file"])
    camera, _ = bank_camera(model, cutout["view"])
    uv, _ = camera.project(verts)
    # The bank cropped its render to the alpha box: find that crop from the projected mesh.
    x0, y0 = math.floor(uv[:, 0].min() + 0.5), math.floor(uv[:, 1].min() + 0.5)
    x1, y1 = math.ceil(uv[:, 0].max() + 0.5), math.ceil(uv[:, 1].max() + 0.5)
    if abs((x1 - x0) - rgba.shape[1]) > 2 or abs((y1 - y0) - rgba.shape[0]) > 2:
        return None
    camera = dataclasses.replace(camera, cx=camera.cx - x0, cy=camera.cy - y0)
    fp = find_footprint(rgba[..., 3].astype(np.float32) / 255.0)
    if fp is None:
        return None
    return rgba, camera, canvas_for(fp.box, fp.base_y)


def fast_view(model_arrays, cutout: dict, bank: Path, lights: list[dict], rng: np.random.Generator,
              res: int = RES) -> dict | None:
    """One bank view's canvas RGBA, ambient occlusion and cast shadows (None when the rebuilt
    camera does not reproduce the cut-out's frame)."""
    geo = view_geometry(model_arrays, cutout, bank)
    if geo is None:
        return None
    rgba, camera, canvas = geo
    _, verts, faces = model_arrays
    ao, casts = view_pair(verts, faces, camera, canvas, float(cutout["view"]["azimuth"]), lights, rng, res)
    return {"rgba": _premultiplied_crop(rgba, canvas, res), "ao": ao, "casts": casts, "canvas": canvas,
            "camera": camera}


def recompute_ambient_occlusion(bank: Path, entries: list[CatalogEntry], out_dir: Path,
                                splits=("train", "val", "test"), samples: int = SKY_SAMPLES, seed: int = 0,
                                progress: Callable[[str], None] | None = None) -> int:
    """Recompute the ambient occlusion (`ambient_occlusion`) of the views of `splits` of pairs
    built before (the first build used 12 far-field sky directions at 128 px: streaky). Resumable
    through ``<out>/.ao/<view>``; returns the number of views done now."""
    out_dir = Path(out_dir)
    by_source = {e.source_id: e for e in entries}
    wanted = {}
    for p in sorted((out_dir / ".rec").glob("*.json")):
        rec = json.loads(p.read_text())
        if rec.get("pairs") and rec["pairs"][0]["split"] in splits:
            wanted[rec["pairs"][0]["cutout"]] = rec["view"]
    views = [v for v in bank_views(bank) if v["file"] in wanted]
    current, arrays, done = None, None, 0
    for cutout in views:
        vid = wanted[cutout["file"]]
        mark = out_dir / ".ao" / vid
        if mark.exists():
            continue
        entry = by_source[cutout["source_id"]]
        if current is not entry:
            model = prepare_model(entry.model_path, entry.rotation, entry.size_cm)
            current, arrays = entry, (model, *simplify(*mesh_arrays(model)))
        geo = view_geometry(arrays, cutout, bank)
        if geo is None:
            continue
        _, camera, canvas = geo
        ao = ambient_occlusion(arrays[1], arrays[2], camera, canvas, view_rng("ao:" + vid, 0, seed),
                               samples=samples)
        write_atomic(out_dir / "views" / f"{vid}_ao.png", png_bytes(_u8(ao)))
        write_atomic(mark, f"{samples}\n".encode())
        done += 1
        if progress and done % 20 == 0:
            progress(f"ambient occlusion: {done}/{len(views)} views")
    return done


def _u8(matte: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(matte * 255.0), 0, 255).astype(np.uint8)


def build_fast_shadow_pairs(bank: Path, entries: list[CatalogEntry], out_dir: Path, lights_per_view: int = 3,
                            res: int = RES, seed: int = 0, limit: int | None = None,
                            progress: Callable[[str], None] | None = None) -> dict:
    """Shadow pairs for every usable bank view of a 3D model, `lights_per_view` lights each.

    Layout: ``<out>/views/<view>.png`` (the cut-out in the network's canvas, RGBA),
    ``<out>/views/<view>_ao.png`` (ambient occlusion on the floor, 255 = fully occluded),
    ``<out>/casts/<view>_<k>.png`` (the key light's cast shadow), ``<out>/pairs.jsonl`` (one line
    per pair: view, split, source object, light, camera tilt) and ``<out>/<split>.npz`` packs
    for training. Resumable (a view with a record is not recomputed), deterministic.
    Returns counts and timings.
    """
    import time

    out_dir = Path(out_dir)
    by_source = {e.source_id: e for e in entries}
    views = [v for v in bank_views(bank) if v["source_id"] in by_source]
    if limit is not None:
        views = views[:limit]
    current, arrays = None, None
    done = skipped = 0
    t0 = time.time()
    for n, cutout in enumerate(views):
        vid = _view_id(cutout["file"])
        rec_path = out_dir / ".rec" / f"{vid}.json"
        if rec_path.exists():
            continue
        entry = by_source[cutout["source_id"]]
        if current is not entry:
            try:
                model = prepare_model(entry.model_path, entry.rotation, entry.size_cm)
            except Exception as exc:  # noqa: BLE001 - one broken model must not stop the build
                if progress:
                    progress(f"{entry.source_id}: FAILED {type(exc).__name__}: {exc}")
                current, arrays = entry, None
                continue
            verts, faces = simplify(*mesh_arrays(model))
            current, arrays = entry, (model, verts, faces)
        if arrays is None:
            continue
        rng = view_rng("shadow-fast:" + cutout["file"], 0, seed)
        lights = [sample_light(rng) for _ in range(lights_per_view)]
        res_view = fast_view(arrays, cutout, bank, lights, rng, res)
        if res_view is None:
            skipped += 1
            write_atomic(rec_path, json.dumps({"view": vid, "skipped": "camera does not match"}).encode())
            continue
        tilt = math.sin(math.radians(cutout["view"]["elevation"]))
        write_atomic(out_dir / "views" / f"{vid}.png", png_bytes(res_view["rgba"]))
        write_atomic(out_dir / "views" / f"{vid}_ao.png", png_bytes(_u8(res_view["ao"])))
        pairs = []
        for k, (light, cast) in enumerate(zip(lights, res_view["casts"])):
            write_atomic(out_dir / "casts" / f"{vid}_{k}.png", png_bytes(_u8(cast)))
            pairs.append({"view": vid, "cast": f"casts/{vid}_{k}.png", "rgba": f"views/{vid}.png",
                          "ao": f"views/{vid}_ao.png", "split": cutout["split"], "source_id": cutout["source_id"],
                          "class": cutout["file"].split("/")[1], "licence": cutout["licence"],
                          "light": {k2: round(v, 4) for k2, v in light.items()},
                          "camera_elevation": cutout["view"]["elevation"], "floor_tilt": round(tilt, 4),
                          "cutout": cutout["file"]})
        write_atomic(rec_path, json.dumps({"view": vid, "pairs": pairs}, sort_keys=True).encode())
        done += 1
        if progress and done % 20 == 0:
            rate = done * lights_per_view / max(time.time() - t0, 1e-9)
            progress(f"view {n + 1}/{len(views)}: {done} new views, {rate:.2f} pairs/s")
    records = []
    for p in sorted((out_dir / ".rec").glob("*.json")):
        records.extend(json.loads(p.read_text()).get("pairs", []))
    write_atomic(out_dir / "pairs.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode())
    seconds = time.time() - t0
    return {"pairs": len(records), "new_views": done, "skipped_views": skipped, "seconds": round(seconds, 1),
            "pairs_per_s": round(done * lights_per_view / seconds, 3) if done else None}


def pack_pairs(out_dir: Path, split: str) -> Path:
    """``<out>/<split>.npz``: rgba V×R×R×4, ao V×R×R, cast P×R×R (uint8), view (P, index into the
    views), light P×4 float32 (azimuth, elevation, size, floor_tilt), source (V, object ids)."""
    from PIL import Image

    out_dir = Path(out_dir)
    records = [json.loads(line) for line in (out_dir / "pairs.jsonl").read_text().splitlines() if line.strip()]
    records = [r for r in records if r["split"] == split]
    view_index: dict[str, int] = {}
    rgba, ao, source, cast, view, light = [], [], [], [], [], []
    for r in records:
        if r["view"] not in view_index:
            view_index[r["view"]] = len(rgba)
            rgba.append(np.asarray(Image.open(out_dir / r["rgba"]).convert("RGBA")))
            ao.append(np.asarray(Image.open(out_dir / r["ao"])))
            source.append(r["source_id"])
        cast.append(np.asarray(Image.open(out_dir / r["cast"])))
        view.append(view_index[r["view"]])
        li = r["light"]
        light.append([li["azimuth"], li["elevation"], li["size"], r["floor_tilt"]])
    path = out_dir / f"{split}.npz"
    res = rgba[0].shape[0] if rgba else RES
    np.savez(path, rgba=np.asarray(rgba, np.uint8).reshape(-1, res, res, 4),
             ao=np.asarray(ao, np.uint8).reshape(-1, res, res), cast=np.asarray(cast, np.uint8).reshape(-1, res, res),
             view=np.asarray(view, np.int64), light=np.asarray(light, np.float32).reshape(-1, 4),
             source=np.asarray(source))
    return path
