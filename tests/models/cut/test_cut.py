"""CutNet: the network, its training pictures, the run-time mask and how it joins YOLACT's detections."""
from pathlib import Path

import numpy as np
import pytest

from product_augment.models.cut.runtime import drop_fragments, merge_with_detections
from product_augment.sample import Instance

torch = pytest.importorskip("torch")


def test_network_shapes_train_and_eval():
    from product_augment.models.cut.model import CutConfig, CutNet

    net = CutNet(CutConfig(input_size=64))
    x = torch.rand(2, 3, 64, 64) * 255
    logits, aux = net.train()(x)
    assert logits.shape == (2, 1, 32, 32) and aux.shape == (2, 1, 8, 8)
    assert net.eval()(x).shape == (2, 1, 32, 32)
    # the frozen stem gets no gradient; the decoder does
    (logits.mean() + aux.mean()).backward()
    assert net.backbone._conv_stem.weight.grad is None
    assert net.head.weight.grad is not None and net.head.weight.grad.abs().sum() > 0


def _bank(tmp_path: Path):
    import cv2

    from product_augment.models.cut.synth import Bank

    (tmp_path / "cut").mkdir()
    (tmp_path / "back").mkdir()
    rgba = np.zeros((60, 40, 4), np.uint8)
    rgba[5:55, 5:35] = (200, 30, 30, 255)
    cv2.imwrite(str(tmp_path / "cut" / "box.png"), rgba)
    cv2.imwrite(str(tmp_path / "back" / "wall.jpg"), np.full((100, 120, 3), 90, np.uint8))
    return Bank.load([tmp_path / "cut"], [tmp_path / "back"])


def test_training_pictures_are_seeded_and_masks_are_the_product(tmp_path):
    import cv2

    from product_augment.models.cut.synth import compose

    bank = _bank(tmp_path)
    a_img, a_mask = compose(np.random.default_rng(7), bank, 96)
    b_img, b_mask = compose(np.random.default_rng(7), bank, 96)
    c_img, _ = compose(np.random.default_rng(8), bank, 96)
    assert np.array_equal(a_img, b_img) and np.array_equal(a_mask, b_mask)
    assert not np.array_equal(a_img, c_img)
    assert a_img.shape == (96, 96, 3) and a_img.dtype == np.uint8 and a_mask.shape == (96, 96)
    for seed in range(12):
        _img, mask = compose(np.random.default_rng(seed), bank, 96)
        assert 0 <= mask.min() and mask.max() <= 1
        assert (mask > 0.5).sum() > 30  # the product is in the picture
        # props (the same box, smaller, at the border) never enter the mask: one part only
        n, _ = cv2.connectedComponents((mask > 0.5).astype(np.uint8))
        assert n == 2


def test_real_pictures_keep_the_mask_on_the_product(tmp_path):
    """A real photo with its teacher mask: every variation (crop, flip, colour, JPEG) moves the mask
    with the product, and photos without a mask are not loaded."""
    import cv2

    from product_augment.models.cut.synth import Photos, real_picture

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    im = np.full((80, 120, 3), 230, np.uint8)
    im[20:60, 10:50] = (20, 20, 200)  # a red box on the left (BGR)
    m = np.zeros((80, 120), np.uint8)
    m[20:60, 10:50] = 255
    cv2.imwrite(str(tmp_path / "images" / "box.png"), im)
    cv2.imwrite(str(tmp_path / "masks" / "box.png"), m)
    cv2.imwrite(str(tmp_path / "images" / "unlabelled.png"), im)
    photos = Photos.load([tmp_path])
    assert len(photos.images) == 1
    # a folder marked held out (the quality gate's fold) is refused, and so is any folder above it
    from product_augment.models.cut.synth import HELD_OUT, Bank
    marker = tmp_path / "fold" / HELD_OUT
    marker.parent.mkdir()
    marker.write_text("kept for measuring\n")
    with pytest.raises(ValueError, match=r"held out for measuring.*no training run may read it"):
        Photos.load([tmp_path])
    with pytest.raises(ValueError, match=r"fold/HELD_OUT marks it as held out"):
        Bank.load([], [tmp_path])
    (tmp_path / "fold" / "images").mkdir()
    with pytest.raises(ValueError, match=r"fold/images: .*fold/HELD_OUT marks it as held out"):
        Bank.load([tmp_path / "fold" / "images"], [])  # a folder inside the fold: refused too
    marker.unlink()
    a = real_picture(np.random.default_rng(3), photos, 64)
    assert all(np.array_equal(x, y) for x, y in zip(a, real_picture(np.random.default_rng(3), photos, 64)))
    for seed in range(10):
        img, mask = real_picture(np.random.default_rng(seed), photos, 64)
        assert img.shape == (64, 64, 3) and mask.shape == (64, 64) and 0 <= mask.min() and mask.max() <= 1
        red = (img[..., 0].astype(int) - img[..., 2]) > 60
        inside = mask > 0.9
        assert inside.sum() > 100 and red[inside].mean() > 0.95 and (~red[mask < 0.1]).mean() > 0.95


def test_see_through_holes_show_the_backdrop_and_leave_the_mask():
    """A hole punched into a real photo's product: inside the product only (a rim of product kept
    around it), the photo's own backdrop colour shows through, and those pixels leave the mask."""
    from product_augment.models.cut.synth import _see_through, clean_plate

    im = np.zeros((120, 160, 3), np.float32)
    im[:] = np.linspace(200, 240, 160)[None, :, None]  # a graded studio backdrop
    m = np.zeros((120, 160), np.float32)
    m[20:100, 30:130] = 1.0
    im[m > 0] = (30, 60, 200)
    plate = clean_plate(im, m)
    # behind the product the plate continues the backdrop's gradient (within a few levels)
    assert np.abs(plate[60, 40:120, 0] - np.linspace(200, 240, 160)[40:120]).max() < 8
    assert np.array_equal(plate[m == 0][:, 0] > 150, np.ones(int((m == 0).sum()), bool))
    holed = 0
    for seed in range(8):
        img, mask = _see_through(np.random.default_rng(seed), im.copy(), m.copy())
        assert mask.shape == m.shape and 0 <= mask.min() and mask.max() <= 1
        assert np.all(mask <= m + 1e-6)  # a hole only takes product away
        gone = (m > 0.5) & (mask < 0.5)
        if gone.any():
            holed += 1
            ys, xs = np.nonzero(gone)
            assert ys.min() > 20 and ys.max() < 99 and xs.min() > 30 and xs.max() < 129  # not a bite
            assert np.all(mask[20, 30:130] > 0.5) and np.all(mask[99, 30:130] > 0.5)
            core = mask < 0.02  # the backdrop is seen (the product's channel 0 is 30, the backdrop's ~220)
            assert np.median(img[core & (m > 0.5)][:, 0]) > 185 and np.percentile(img[core & (m > 0.5)][:, 0], 5) > 110
    assert holed >= 6


def test_edge_weighted_loss_counts_the_boundary_more():
    from product_augment.models.cut.train import edge_band, loss_fn

    t = torch.zeros(1, 1, 32, 32)
    t[..., 8:24, 8:24] = 1
    band = edge_band(t)
    assert band[0, 0, 16, 16] == 0 and band[0, 0, 0, 0] == 0 and band[0, 0, 8, 16] == 1 and band[0, 0, 7, 16] == 1
    # a prediction wrong only along the edge costs more with the edge weight; right everywhere, the same
    wrong_edge = torch.where(band > 0, -4 * (2 * t - 1), 4 * (2 * t - 1))
    full = torch.nn.functional.interpolate(t, scale_factor=2)
    aux = torch.zeros(1, 1, 8, 8)
    assert loss_fn(wrong_edge, aux, full, 2.0) > loss_fn(wrong_edge, aux, full, 0.0)
    right = 8 * (2 * t - 1)
    assert abs(float(loss_fn(right, aux, full, 2.0) - loss_fn(right, aux, full, 0.0))) < 1e-3


def test_drop_fragments_keeps_parts_by_size_relative_to_the_largest():
    m = np.zeros((100, 100), bool)
    m[10:60, 10:60] = True  # 2500 px
    m[80:85, 80:85] = True  # 25 px: 1 % of the largest
    m[70:78, 10:18] = True  # 64 px: 2.6 %
    out = drop_fragments(m, 0.02)
    assert out[30, 30] and out[72, 12] and not out[82, 82]
    assert drop_fragments(m, 0.001).sum() == m.sum()


def _det(class_id, mask, score):
    return Instance.from_mask(class_id, mask, score)


def test_merge_takes_the_cut_as_mask_and_the_overlapping_detection_as_class():
    h, w = 80, 80
    cut = np.zeros((h, w), np.float32)
    cut[10:70, 20:60] = 0.95
    part = np.zeros((h, w), np.float32)
    part[10:30, 20:60] = 0.9  # YOLACT found only the top (a hammer's head, say)
    other = np.zeros((h, w), np.float32)
    other[0:8, 0:8] = 0.9  # a prop in the corner
    found = [_det(7, other > 0.5, 0.95), _det(3, part > 0.5, 0.6)]
    kept = merge_with_detections(found, np.stack([other, part]), cut, default_class=22)
    assert len(kept) == 1
    inst, soft = kept[0]
    assert inst.class_id == 3 and inst.score == pytest.approx(0.6)
    assert inst.mask.sum() == 60 * 40 and inst.box == (20.0, 10.0, 60.0, 70.0)
    assert soft.max() == pytest.approx(0.95)
    # every detection, the product's pixels taken out of the others
    kept_all = merge_with_detections(found, np.stack([other, part]), cut, default_class=22, keep_all=True)
    assert [k[0].class_id for k in kept_all] == [3, 7]
    assert not (kept_all[1][0].mask & kept_all[0][0].mask).any()


def test_merge_without_overlap_or_cut():
    h, w = 50, 50
    cut = np.zeros((h, w), np.float32)
    cut[10:40, 10:40] = 0.8
    far = np.zeros((h, w), np.float32)
    far[0:5, 45:50] = 0.9
    kept = merge_with_detections([_det(5, far > 0.5, 0.9)], far[None], cut, default_class=22)
    assert kept[0][0].class_id == 22 and kept[0][0].score == pytest.approx(0.8)
    # nothing in the cut: YOLACT's top detection stands
    kept = merge_with_detections([_det(5, far > 0.5, 0.9)], far[None], np.zeros((h, w), np.float32), 22)
    assert kept[0][0].class_id == 5 and kept[0][0].mask.sum() == 25


def test_merge_blends_the_matched_detection_and_moves_the_threshold_to_one_half():
    """With `blend` the matched detection's soft mask joins the cut; the blend above `threshold` is
    the mask, and the returned soft mask is above 0.5 exactly there."""
    h, w = 60, 60
    cut = np.zeros((h, w), np.float32)
    cut[10:50, 10:50] = 0.4  # an unsure cut
    det = np.zeros((h, w), np.float32)
    det[10:50, 10:55] = 0.9  # YOLACT sees a handle the cut misses
    found = [_det(6, det > 0.5, 0.8)]
    (inst, soft), = merge_with_detections(found, det[None], cut, 22, threshold=0.3, blend=0.5)
    assert inst.class_id == 6
    assert inst.mask[:, 50:55].any() and inst.mask.sum() == 40 * 45  # the handle is in
    assert np.array_equal(soft > 0.5, inst.mask)
    info = {}
    (inst0, _), = merge_with_detections(found, det[None], cut, 22, threshold=0.3, blend=0.0, info=info)
    assert inst0.mask.sum() == 40 * 40  # the cut alone: no handle
    assert info["agreement"] == round(40 * 40 / (40 * 45), 4)  # the cut's mask against the detection's
    info = {}
    merge_with_detections([_det(6, det > 0.5, 0.8)], np.zeros((1, h, w), np.float32), cut, 22, threshold=0.3,
                          info=info)
    assert info["agreement"] == 0.0  # no detection matches the cut
    assert merge_with_detections([], np.zeros((0, h, w), np.float32), cut, 22, threshold=0.5) == []


def test_anchor_keeps_the_parts_that_touch_yolacts_product_pick():
    """A prop the cut also finds (a flower at the border) stays out when it does not touch YOLACT's
    first detection; without a detection the cut is kept whole."""
    h, w = 60, 90
    cut = np.zeros((h, w), np.float32)
    cut[20:50, 40:70] = 0.9  # the product
    cut[5:20, 0:12] = 0.9  # a prop
    pick = np.zeros((h, w), np.float32)
    pick[25:45, 45:65] = 0.95
    found = [_det(9, pick > 0.5, 0.9)]
    (inst, _), = merge_with_detections(found, pick[None], cut, 22, anchor=True, min_fraction=0.01)
    assert inst.mask.sum() == 30 * 30 and not inst.mask[:20, :12].any()
    (both, _), = merge_with_detections(found, pick[None], cut, 22, anchor=False, min_fraction=0.01)
    assert both.mask[:20, :12].any()
    (alone, _), = merge_with_detections([], np.zeros((0, h, w), np.float32), cut, 22, anchor=True,
                                        min_fraction=0.01)
    assert alone.mask.sum() == 30 * 30 + 15 * 12


def _checkpoint(path: Path, tensors: dict, config: dict | None = None) -> Path:
    import json

    from safetensors.torch import save_file

    save_file(tensors, str(path))
    path.with_suffix(".json").write_text(json.dumps({"format": "product_augment.cut/1",
                                                     "config": config or {"input_size": 64}}))
    return path


def test_average_weights_is_the_weighted_mean_and_refuses_mismatches(tmp_path):
    from product_augment.models.checkpoint import average_weights

    a = _checkpoint(tmp_path / "a.safetensors", {"model.w": torch.tensor([0.0, 3.0]), "model.n": torch.tensor(7),
                                                 "optim.0.exp_avg": torch.ones(2)})
    b = _checkpoint(tmp_path / "b.safetensors", {"model.w": torch.tensor([4.0, -1.0]), "model.n": torch.tensor(7)})
    mean = average_weights([a, b])
    assert set(mean) == {"model.w", "model.n"}  # the optimizer's state is not a weight
    assert torch.equal(mean["model.w"], torch.tensor([2.0, 1.0])) and mean["model.w"].dtype == torch.float32
    assert int(mean["model.n"]) == 7
    assert torch.allclose(average_weights([a, b], [3, 1])["model.w"], torch.tensor([1.0, 2.0]))
    c = _checkpoint(tmp_path / "c.safetensors", {"model.w": torch.zeros(3), "model.n": torch.tensor(7)})
    with pytest.raises(ValueError, match="c.safetensors: model.w has shape"):
        average_weights([a, c])
    d = _checkpoint(tmp_path / "d.safetensors", {"model.w": torch.zeros(2)})
    with pytest.raises(ValueError, match="d.safetensors: its tensors differ"):
        average_weights([a, d])
    e = _checkpoint(tmp_path / "e.safetensors", {"model.w": torch.zeros(2), "model.n": torch.tensor(8)})
    with pytest.raises(ValueError, match="model.n .* cannot be averaged"):
        average_weights([a, e])
    with pytest.raises(ValueError, match="shares"):
        average_weights([a, b], [1, -1])


def test_soup_of_two_cutnets_loads_as_their_mean_and_records_its_ingredients(tmp_path):
    import json

    from product_augment.models.checkpoint import write_checkpoint
    from product_augment.models.cut.export import load_cut
    from product_augment.models.cut.model import CutConfig, CutNet
    from product_augment.models.cut.soup import make_soup, parse_ingredient

    cfg = CutConfig(input_size=64)
    nets = [CutNet(cfg) for _ in range(2)]
    with torch.no_grad():
        nets[1].head.weight.add_(1.0)
    run = tmp_path / "run"
    run.mkdir()
    paths = []
    for i, net in enumerate(nets):  # a kept checkpoint has no sidecar of its own: its run's last.json
        p = write_checkpoint(run / f"it{100 * (i + 1):05d}.safetensors",
                             {f"model.{k}": v for k, v in net.state_dict().items()},
                             {"format": "product_augment.cut/1", "config": cfg.to_dict(), "iteration": 999}, "x")
        p.with_suffix(".json").rename(run / "last.json") if i == 1 else p.with_suffix(".json").unlink()
        paths.append(p)
    assert parse_ingredient(f"{paths[1]}:3") == (paths[1], 3.0) and parse_ingredient(str(paths[0])) == (paths[0], 1.0)
    out = make_soup([(paths[0], 1.0), (paths[1], 3.0)], tmp_path / "soup.safetensors")
    soup, meta = load_cut(out)
    want = 0.25 * nets[0].head.weight + 0.75 * nets[1].head.weight
    assert torch.allclose(soup.head.weight, want, atol=1e-6)
    assert [(s["iteration"], s["share"]) for s in meta["soup"]] == [(100, 0.25), (200, 0.75)]
    assert all(len(s["sha256"]) == 64 for s in meta["soup"]) and "iteration" not in meta
    side = json.loads(out.with_suffix(".json").read_text())
    assert CutConfig.from_dict(side["config"]) == cfg
    other = CutConfig(input_size=96)
    q = write_checkpoint(tmp_path / "other.safetensors", {f"model.{k}": v for k, v in CutNet(other).state_dict().items()},
                         {"config": other.to_dict()}, "x")
    with pytest.raises(ValueError, match="other.safetensors: its config"):
        make_soup([(paths[0], 1.0), (q, 1.0)], tmp_path / "bad.safetensors")


def test_soup_takes_fine_tunes_that_froze_different_blocks(tmp_path):
    import json

    from product_augment.models.checkpoint import write_checkpoint
    from product_augment.models.cut.model import CutConfig, CutNet
    from product_augment.models.cut.soup import make_soup

    paths = []
    for frozen in (8, 4):  # how many blocks were frozen is how it was trained, not what it is
        cfg = CutConfig(input_size=64, frozen_backbone_blocks=frozen)
        paths.append(write_checkpoint(tmp_path / f"f{frozen}.safetensors",
                                      {f"model.{k}": v for k, v in CutNet(cfg).state_dict().items()},
                                      {"config": cfg.to_dict(), "postprocess": {"threshold": 0.4},
                                       "onnx": {"sha256": "old"}, "int8": {"auto": False}, "metrics": {"real_val": 0.9}},
                                      "x"))
    soup = make_soup([(p, 1.0) for p in paths], tmp_path / "soup.safetensors")
    meta = json.loads(soup.with_suffix(".json").read_text())
    # the first ingredient's record stays; what described that one file (exports, scores) does not
    assert meta["postprocess"] == {"threshold": 0.4} and not {"onnx", "int8", "metrics"} & set(meta)


def test_publish_ships_model_tensors_a_sidecar_and_its_onnx(tmp_path):
    """A training checkpoint (optimizer state included) ships as its model tensors alone, the
    sidecar plus the extra fields, and an ONNX file whose hashes the sidecar records."""
    import json

    from safetensors.numpy import load_file

    from product_augment.io import file_sha256
    from product_augment.models.checkpoint import write_checkpoint
    from product_augment.models.cut.export import load_cut, publish
    from product_augment.models.cut.model import CutConfig, CutNet

    cfg = CutConfig(input_size=64)
    net = CutNet(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net(torch.rand(1, 3, 64, 64))[0].mean().backward()
    opt.step()
    ck = write_checkpoint(tmp_path / "last.safetensors", {f"model.{k}": v for k, v in net.state_dict().items()},
                          {"format": "product_augment.cut/1", "config": cfg.to_dict()}, "x", opt)
    assert any(k.startswith("optim.") for k in load_file(str(ck)))
    (tmp_path / "w").mkdir()
    out = publish(ck, tmp_path / "w" / "cut.safetensors", {"postprocess": {"threshold": 0.4}})
    assert all(k.startswith("model.") for k in load_file(str(out)))
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["postprocess"] == {"threshold": 0.4} and "optimizer_param_groups" not in side
    assert side["onnx"]["sha256"] == file_sha256(out.with_suffix(".onnx"))
    assert side["onnx"]["source_sha256"] == file_sha256(out)
    shipped, _ = load_cut(out)
    assert torch.equal(shipped.head.weight, net.head.weight)


def test_anchor_gap_keeps_a_part_standing_beside_the_pick():
    """A lipstick (YOLACT's pick) and its cap 4 px to its right, a prop 60 px away: the anchor alone
    keeps the lipstick; with a gap of 0.2 × √(the pick's area) (6 px here) the cap too, never the prop."""
    from product_augment.models.cut.runtime import _anchored, merge_with_detections
    from product_augment.sample import Instance

    h, w = 100, 160
    cut = np.zeros((h, w), bool)
    cut[30:70, 20:40] = True   # the lipstick, 40 × 20 = 800 px: √ ≈ 28.3
    cut[40:70, 44:58] = True   # its cap, 4 px away
    cut[30:70, 100:130] = True  # a prop, 60 px away
    pick = np.zeros((h, w), bool)
    pick[30:70, 20:40] = True
    assert np.array_equal(_anchored(cut, pick), pick)
    near = _anchored(cut, pick, 0.2)
    assert near[50, 50] and near[50, 30] and not near[50, 110]
    assert np.array_equal(_anchored(cut, pick, 0.1), pick)  # 3 px: the cap stays out
    found = [Instance.from_mask(3, pick, 0.9)]
    (inst, _), = merge_with_detections(found, pick[None].astype(np.float32), cut.astype(np.float32), 22,
                                       anchor=True, anchor_gap=0.2, min_fraction=0.01)
    assert np.array_equal(inst.mask, near)
