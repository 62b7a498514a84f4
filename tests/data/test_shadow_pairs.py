"""Fast shadow pairs: the rasteriser, the projected hard/soft shadows, light conventions, packing."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from product_augment.data import shadow_pairs as sp
from product_augment.models.shadow.frame import Canvas, canvas_for

trimesh = pytest.importorskip("trimesh")


def test_rasterize_covers_the_union_not_the_xor():
    a = np.array([[[0, 0], [40, 0], [0, 40]]], np.float64)
    b = np.array([[[0, 0], [40, 0], [40, 40]]], np.float64)
    both = sp.rasterize(np.concatenate([a, b]), 48)
    one = sp.rasterize(a, 48)
    assert both[2, 5] and both[2, 35] and both[35, 2] and not both[45, 45]
    assert abs(int(one.sum()) - 800) < 80        # area of the triangle, + the pixels OpenCV adds on its edges
    assert both.sum() > one.sum()


def test_rasterize_small_and_large_triangles_agree_with_their_area():
    rng = np.random.default_rng(0)
    # a fine mesh of a 20×20 square: many sub-pixel triangles must leave no holes
    xs = np.linspace(10, 30, 81)
    tris = []
    for i in range(80):
        for j in range(80):
            p00, p10, p01, p11 = (xs[i], xs[j]), (xs[i + 1], xs[j]), (xs[i], xs[j + 1]), (xs[i + 1], xs[j + 1])
            tris += [[p00, p10, p11], [p00, p11, p01]]
    tris = np.array(tris)[rng.permutation(len(tris))]
    cov = sp.rasterize(tris, 40)
    assert cov[10:30, 10:30].all() and cov.sum() == 400


def _box_scene(h: float = 40.0):
    box = trimesh.creation.box(extents=[10.0, h, 10.0])
    box.apply_translation([0, h / 2, 0])
    scene = trimesh.Scene()
    scene.add_geometry(box)
    return scene


def _setup(view=None):
    scene = _box_scene()
    view = view or {"azimuth": 0.0, "elevation": 25.0, "yfov": 30.0}
    cam, _ = sp.bank_camera(scene, view)
    verts, faces = sp.mesh_arrays(scene)
    uv, _ = cam.project(verts)
    x0, y0 = math.floor(uv[:, 0].min() + 0.5), math.floor(uv[:, 1].min() + 0.5)
    x1, y1 = math.ceil(uv[:, 0].max() + 0.5), math.ceil(uv[:, 1].max() + 0.5)
    base = cam.project(np.array([[0.0, 0.0, 5.0]]))[0][0, 1] - y0   # front bottom edge
    canvas = canvas_for((0, 0, x1 - x0, y1 - y0), base)
    cam = sp.Camera(cam.eye, cam.rot, cam.focal, cam.cx - x0, cam.cy - y0)
    return scene, verts, faces, cam, canvas, view


def test_light_from_the_left_throws_the_shadow_right_and_front_light_behind():
    _, verts, faces, cam, canvas, view = _setup()
    rng = np.random.default_rng(0)
    ao, casts = sp.view_pair(verts, faces, cam, canvas, view["azimuth"],
                             [{"azimuth": 90.0, "elevation": 40.0, "size": 0.05},
                              {"azimuth": -90.0, "elevation": 40.0, "size": 0.05},
                              {"azimuth": 0.0, "elevation": 40.0, "size": 0.05}], rng, res=64)
    cols = np.arange(64)
    cx = [float((c.sum(0) * cols).sum() / c.sum()) for c in casts]
    rows = float((casts[2].sum(1) * cols).sum() / casts[2].sum())
    assert cx[0] > 32 + 4 and cx[1] < 32 - 4     # left light → right, right light → left
    base_row = 0.62 * 64
    assert rows < base_row                          # front light: behind the product (up)
    assert ao.max() > 0.3 and 0 <= ao.min()         # contact occlusion next to the box


def test_bigger_light_softer_penumbra():
    _, verts, faces, cam, canvas, view = _setup()
    soft = []
    for size in (0.01, 0.3):
        _, (cast,) = sp.view_pair(verts, faces, cam, canvas, view["azimuth"],
                                  [{"azimuth": 60.0, "elevation": 45.0, "size": size}], np.random.default_rng(1),
                                  res=64)
        soft.append(int(((cast > 0.05) & (cast < 0.95)).sum()))
    assert soft[1] > 2 * max(soft[0], 1)


def test_simplify_keeps_the_shape():
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=10.0)
    v, f = sp.simplify(np.asarray(sphere.vertices), np.asarray(sphere.faces), cells=20)
    assert len(f) < len(sphere.faces) / 2
    assert np.allclose(np.linalg.norm(v, axis=1), 10.0, atol=0.6)


def test_camera_matches_pyrender_frame_convention():
    _, verts, _, cam, canvas, _ = _setup()
    uv, z = cam.project(verts)
    assert (z > 0).all() and uv[:, 0].min() > -1 and uv[:, 1].min() > -1
    assert isinstance(canvas, Canvas) and canvas.side > 0


def test_pack_reads_what_the_builder_writes(tmp_path):
    from PIL import Image

    out = tmp_path / "pairs"
    (out / "views").mkdir(parents=True)
    (out / "casts").mkdir()
    Image.fromarray(np.zeros((16, 16, 4), np.uint8)).save(out / "views/v.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(out / "views/v_ao.png")
    recs = []
    for k in range(2):
        Image.fromarray(np.full((16, 16), k, np.uint8)).save(out / f"casts/v_{k}.png")
        recs.append({"view": "v", "rgba": "views/v.png", "ao": "views/v_ao.png", "cast": f"casts/v_{k}.png",
                     "split": "test", "source_id": "s", "class": "chair", "floor_tilt": 0.3,
                     "light": {"azimuth": 1.0, "elevation": 2.0, "size": 0.1}})
    (out / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    d = np.load(sp.pack_pairs(out, "test"))
    assert d["rgba"].shape == (1, 16, 16, 4) and d["cast"].shape == (2, 16, 16)
    assert d["view"].tolist() == [0, 0] and d["light"][1].tolist() == pytest.approx([1.0, 2.0, 0.1, 0.3])


def test_clip_below_keeps_exactly_the_part_under_the_plane():
    tri = np.array([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]])   # in the z = 0 plane, y up
    area = lambda t: 0.5 * np.abs(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])).sum()
    assert sp.clip_below(tri, 5.0).shape == (1, 3, 3)
    assert len(sp.clip_below(tri, -1.0)) == 0
    half = sp.clip_below(tri, 1.0)
    assert area(half) == pytest.approx(2.0 - 0.5)       # the full triangle minus the top corner
    assert half[..., 1].max() <= 1.0 + 1e-9
    low = sp.clip_below(tri[:, ::-1], 0.5)            # orientation does not matter
    assert area(low) == pytest.approx(2.0 - 0.5 * 1.5 * 1.5)


def test_ambient_occlusion_is_darkest_at_the_contact():
    _, verts, faces, cam, canvas, _ = _setup()
    ao = sp.ambient_occlusion(verts, faces, cam, canvas, np.random.default_rng(0), res=64)
    base = round(0.62 * 64)
    near = ao[base + 1, 32]
    far = ao[min(63, base + 12), 32]
    assert near > 0.2 and far < near / 2
