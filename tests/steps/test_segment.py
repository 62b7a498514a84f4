import json

import numpy as np
import pytest
from PIL import Image
from pydantic import TypeAdapter

from product_augment.annotations import mask_to_rle
from product_augment.pipeline import SampleError
from product_augment.presets.loader import BuildContext
from product_augment.sample import Sample, mask_box
from product_augment.steps import segment

from ..conftest import make_packshot


def step(cfg: dict, base_dir="."):
    config = TypeAdapter(segment.Config).validate_python(cfg, context={"base_dir": str(base_dir)})
    return segment.build(config, BuildContext(base_dir=base_dir))


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("bg,fg", [((246, 246, 246), (190, 40, 30)), ((255, 255, 255), (235, 228, 220)),
                                   ((40, 40, 45), (200, 180, 60))])
def test_classical_recovers_product(bg, fg):
    img, mask = make_packshot(bg=bg, fg=fg)
    out = step({"backend": "classical", "class_name": "cup"})(Sample(image=img), np.random.default_rng(0))
    assert iou(out.alpha > 0.5, mask) > 0.97
    (inst,) = out.instances
    assert inst.class_id == 6 and (inst.mask == (out.alpha > 0.5)).all()


def test_classical_on_gradient_background():
    img, mask = make_packshot(fg=(30, 90, 180))
    ramp = np.linspace(200, 250, img.shape[1])[None, :, None]
    img = np.where(mask[..., None], img, np.broadcast_to(ramp, img.shape)).astype(np.uint8)
    out = step({"backend": "classical"})(Sample(image=img), np.random.default_rng(0))
    assert iou(out.alpha > 0.5, mask) > 0.95


def test_classical_says_no_product():
    blank = np.full((120, 160, 3), 250, np.uint8)
    with pytest.raises(SampleError, match=r"^no product found \(foreground covers 0\.0% of the image\)$"):
        step({"backend": "classical"})(Sample(image=blank), np.random.default_rng(0))
    noise = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    with pytest.raises(SampleError, match=r"^background is not plain"):
        step({"backend": "classical"})(Sample(image=noise), np.random.default_rng(0))


def test_alpha_backend():
    img, mask = make_packshot()
    alpha = mask.astype(np.float32) * 0.9
    out = step({"backend": "alpha", "class_name": "shoe"})(Sample(image=img, alpha=alpha), np.random.default_rng(0))
    assert (out.alpha == alpha).all() and (out.instances[0].mask == mask).all()
    with pytest.raises(SampleError, match="needs an input with an alpha channel"):
        step({"backend": "alpha"})(Sample(image=img), np.random.default_rng(0))


def test_masks_folder_and_label_map(tmp_path):
    img, mask = make_packshot()
    (tmp_path / "m" / "sub").mkdir(parents=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "m" / "sub" / "a.png")
    s = step({"backend": "masks", "path": "m"}, tmp_path)
    out = s(Sample(image=img, meta={"relpath": "sub/a.jpg"}), np.random.default_rng(0))
    assert (out.instances[0].mask == mask).all()
    with pytest.raises(SampleError, match=r"no mask for sub/b\.jpg"):
        s(Sample(image=img, meta={"relpath": "sub/b.jpg"}), np.random.default_rng(0))
    labels = np.zeros(mask.shape, np.uint8)
    labels[:, :100] = 1
    labels[:, 200:] = 2
    Image.fromarray(labels).save(tmp_path / "m" / "sub" / "a.png")
    s = step({"backend": "masks", "path": "m", "instances": "label_map"}, tmp_path)
    out = s(Sample(image=img, meta={"relpath": "sub/a.jpg"}), np.random.default_rng(0))
    assert len(out.instances) == 2 and out.instances[1].box == (200.0, 0.0, 320.0, 240.0)


def test_masks_from_coco_json(tmp_path):
    img, mask = make_packshot()
    coco = {"images": [{"id": 1, "file_name": "x.jpg", "width": 320, "height": 240}],
            "categories": [{"id": 7, "name": "bottle"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "segmentation": mask_to_rle(mask),
                             "iscrowd": 0}]}
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    out = step({"backend": "masks", "path": "ann.json"}, tmp_path)(
        Sample(image=img, meta={"relpath": "x.jpg"}), np.random.default_rng(0))
    (inst,) = out.instances
    assert inst.class_id == 5 and (inst.mask == mask).all()


def test_classical_remove_shadows_on_coloured_product():
    img, mask = make_packshot(fg=(30, 90, 180))
    shadow = np.zeros(mask.shape, bool)
    shadow[180:215, 100:260] = True
    shadow &= ~mask
    img = img.copy()
    img[shadow] = (img[shadow] * 0.7).astype(np.uint8)  # the backdrop in shadow: darker, same hue
    keep = step({"backend": "classical"})(Sample(image=img), np.random.default_rng(0))
    assert (keep.alpha[shadow] > 0.5).mean() > 0.9  # kept by default
    cut = step({"backend": "classical", "remove_shadows": True})(Sample(image=img), np.random.default_rng(0))
    assert iou(cut.alpha > 0.5, mask) > 0.95 and (cut.alpha[shadow] > 0.5).mean() < 0.05


def test_alpha_backend_on_an_opaque_rgba_file_says_why(tmp_path):
    # an RGBA file whose alpha is all 255 reads as "no alpha": the message must not claim the
    # file has no alpha channel at all
    from PIL import Image

    from product_augment.io import read_image

    img, _ = make_packshot()
    Image.fromarray(np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]), "RGBA").save(tmp_path / "o.png")
    rgb, alpha = read_image(tmp_path / "o.png")
    with pytest.raises(SampleError, match="fully opaque"):
        step({"backend": "alpha"})(Sample(image=rgb, alpha=alpha), np.random.default_rng(0))


def test_a_faint_matte_says_it_is_below_the_threshold_not_empty():
    img, _ = make_packshot()
    faint = np.full(img.shape[:2], 0.3, np.float32)
    with pytest.raises(SampleError, match=r"matte peaks at 0.30, below the threshold 0.5"):
        step({"backend": "alpha"})(Sample(image=img, alpha=faint), np.random.default_rng(0))


def test_yolact_edge_refine_option(tmp_path):
    """`edge_refine` reaches the predictor: 0 gives the raw model masks, the default refines them
    (YOLACT drawing the mask: `mask: yolact`)."""
    from pathlib import Path

    weights = Path(__file__).resolve().parents[2] / "weights" / "yolact_ws_effnetlite0.safetensors"
    if not weights.exists():
        pytest.skip("shipped YOLACT weights not present")
    img, mask = make_packshot(fg=(190, 40, 30))
    cfg = {"backend": "yolact", "weights": str(weights), "score_threshold": 0.05, "fallback": "none",
           "mask": "yolact"}
    raw = step({**cfg, "edge_refine": 0})(Sample(image=img), np.random.default_rng(0))
    ref = step(cfg)(Sample(image=img), np.random.default_rng(0))
    assert raw.alpha.shape == ref.alpha.shape == mask.shape
    assert np.abs(raw.alpha - ref.alpha).max() > 0.05
    assert iou(ref.alpha > 0.5, mask) >= iou(raw.alpha > 0.5, mask) - 0.01
    with pytest.raises(Exception, match="edge_refine"):
        step({**cfg, "edge_refine": 0.5})


def test_yolact_with_the_cut_draws_the_product_and_names_its_class():
    """`mask: cut` (the default): the product's mask is the cut model's, on a packshot close to the
    truth; the instance's box is the mask's; the manifest names both models; `mask: yolact` differs."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "weights"
    if not (root / "cut_effnetlite0.onnx").exists():
        pytest.skip("shipped cut weights not present")
    img, mask = make_packshot(fg=(190, 40, 30))
    cfg = {"backend": "yolact", "weights": str(root / "yolact_ws_effnetlite0.safetensors"), "fallback": "none"}
    out = step(cfg)(Sample(image=img), np.random.default_rng(0))
    assert len(out.instances) == 1
    inst = out.instances[0]
    assert iou(inst.mask, mask) > 0.95
    assert inst.box == mask_box(inst.mask)
    assert np.array_equal(out.alpha > 0.5, inst.mask)
    assert out.meta["models"]["segment_cut"].startswith("cut_effnetlite0")
    assert out.meta["models"]["segment_cut_refine"] == "cut_refine.onnx"  # the shipped cut's refiner
    assert out.meta["models"]["segment_cut_zoom"] == "cut_effnetlite0.int8.onnx"  # its zoomed pass (precision auto)
    old = step({**cfg, "mask": "yolact"})(Sample(image=img), np.random.default_rng(0))
    assert "segment_cut" not in old.meta["models"]
    with pytest.raises(Exception, match="cut_weights"):
        step({**cfg, "cut_weights": "no/such/file.safetensors"})


def _shipped_step_on_a_large_packshot(size: tuple[int, int]):
    """The shipped segmenter (skipped without its weights), a packshot enlarged to `size` (w, h)
    and its true mask."""
    from pathlib import Path

    import cv2

    root = Path(__file__).resolve().parents[2] / "weights"
    if not (root / "cut_effnetlite0.onnx").exists():
        pytest.skip("shipped cut weights not present")
    img, mask = make_packshot(fg=(40, 90, 190))
    big = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    truth = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    cfg = {"backend": "yolact", "weights": str(root / "yolact_ws_effnetlite0.safetensors"), "fallback": "none"}
    return step(cfg), big, truth


def test_large_photos_are_detected_on_a_smaller_copy_with_the_same_cut(monkeypatch):
    """With the cut drawing the product, YOLACT sees a copy of at most DETECT_SIDE px (no D×H×W
    full-resolution masks for a large photo); the product's mask is at the photo's resolution and
    the same as when YOLACT sees the whole photo."""
    s, big, truth = _shipped_step_on_a_large_packshot((1600, 1600))
    seen = []
    orig = s.predictor.soft_masks
    monkeypatch.setattr(s.predictor, "soft_masks", lambda im, **k: seen.append(im.shape) or orig(im, **k))
    small = s.apply(Sample(image=big), {})
    side = segment.DETECT_SIDE
    monkeypatch.setattr(segment.yolact, "DETECT_SIDE", 4096)
    whole = s.apply(Sample(image=big), {})
    assert seen == [(side, side, 3), (1600, 1600, 3)]
    m = small.instances[0].mask
    assert m.shape == (1600, 1600) and small.alpha.shape == (1600, 1600)
    assert iou(m, whole.instances[0].mask) > 0.98 and iou(m, truth) > 0.9
    assert small.instances[0].class_id == whole.instances[0].class_id


def test_very_large_photos_are_cut_on_a_working_copy_and_masked_at_full_size(monkeypatch):
    """Above WORK_SIDE the cut and its merge run on a smaller copy (cost grows with the pixels, not
    faster); the mask and the matte come back at the photo's resolution, the same product as when
    the cut sees every pixel."""
    s, big, truth = _shipped_step_on_a_large_packshot((1200, 900))
    seen = []
    orig = s.cut.alpha
    monkeypatch.setattr(s.cut, "alpha", lambda im, info=None: seen.append(im.shape) or orig(im, info))
    monkeypatch.setattr(segment.yolact, "WORK_SIDE", 600)
    work = s.apply(Sample(image=big), {})
    monkeypatch.setattr(segment.yolact, "WORK_SIDE", 4096)
    full = s.apply(Sample(image=big), {})
    assert seen == [(450, 600, 3), (900, 1200, 3)]
    m = work.instances[0].mask
    assert m.shape == (900, 1200) and work.alpha.shape == (900, 1200)
    assert iou(m, full.instances[0].mask) > 0.98 and iou(m, truth) > 0.9
    assert work.instances[0].box == pytest.approx(full.instances[0].box, abs=3)
