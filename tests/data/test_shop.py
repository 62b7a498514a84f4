"""Photo bank selection and shop-photo scenes: split by object, masks exact, byte-identical rebuilds."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from product_augment.classes import GENERIC_PRODUCT
from product_augment.data import mapping, photobank
from product_augment.data.bank import Cutout, load_bank
from product_augment.data.shop import Source, build_shop_split

STAMPS = photobank.STAMPS_SUBDIR


def _photo(h, w, seed):
    rng = np.random.default_rng(seed)
    rgba = np.zeros((h, w, 4), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((yy - h / 2) / (0.45 * h)) ** 2 + ((xx - w / 2) / (0.45 * w)) ** 2 < 1
    rgba[..., :3] = rng.integers(0, 256, (h, w, 3))  # photo-like: many colours
    rgba[..., 3] = inside * 255
    return rgba


def _drawing(h, w):
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[10:-10, 10:-10] = (200, 30, 30, 255)  # flat colour
    return rgba


@pytest.fixture()
def fake_tuxpaint(tmp_path):
    cache = tmp_path / "cache"
    root = cache / "pkgs" / STAMPS
    files = {"household/mug.png": _photo(90, 80, 0), "sports/basketball.png": _photo(80, 80, 1),
             "household/kettle.png": _photo(100, 70, 2), "household/cartoon/pot.png": _photo(80, 80, 3),
             "food/flatthing.png": _drawing(80, 80), "symbols/letter.png": _photo(80, 80, 4),
             "animals/dog.png": _photo(80, 100, 5), "town/roadsigns/give_way_sign.png": _photo(80, 80, 6)}
    for i in range(8):
        files[f"food/fruit{i}.png"] = _photo(70 + i, 90, 10 + i)
    for rel, arr in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(root / rel)
    (root / "household/svgtwin.png").write_bytes((root / "household/mug.png").read_bytes())
    (root / "household/svgtwin.svg").write_text("<svg/>")
    (cache / "pkgs" / f".{photobank.TUXPAINT_DEB}.done").write_text("fake")
    return cache


def test_photobank_selects_photographs_and_splits_by_object(fake_tuxpaint, tmp_path):
    bank = tmp_path / "photobank"
    cut = photobank.build_photobank(fake_tuxpaint, bank)
    stems = {c.source_id.split(":", 1)[1] for c in cut}
    # cartoons, SVG twins, symbols, flat drawings and excluded names are left out
    assert stems == {"mug", "basketball", "kettle", "dog"} | {f"fruit{i}" for i in range(8)}
    by = {c.source_id.split(":", 1)[1]: c for c in cut}
    assert by["mug"].class_id == mapping.CLASS_ID["cup"] and by["basketball"].class_id == mapping.CLASS_ID["toy"]
    assert by["fruit0"].class_id == GENERIC_PRODUCT.id and by["fruit0"].class_name == "product"
    splits = photobank.load_splits(bank)
    assert splits["tuxpaint:dog"] == "train"  # animals are never validation products
    fruit = [splits[f"tuxpaint:fruit{i}"] for i in range(8)]
    assert fruit.count("val") == 1 and fruit.count("test") == 1
    assert all(c.licence.startswith("GPL-2") for c in cut)
    assert [c.file for c in load_bank(bank)] == sorted(c.file for c in cut)
    # a rebuild keeps the frozen splits and the same cut-outs
    again = photobank.build_photobank(fake_tuxpaint, bank)
    assert [c.file for c in again] == [c.file for c in cut] and photobank.load_splits(bank) == splits


def test_flatness_tells_drawings_from_photos():
    assert photobank.flatness(_drawing(80, 80)) > 0.9
    assert photobank.flatness(_photo(80, 80, 0)) < 0.1


def _mini_bank(tmp_path):
    bank = tmp_path / "b"
    cut = []
    for i, cls in enumerate((6, 16, 22)):
        arr = _photo(60 + 10 * i, 50, 20 + i)
        rel = f"cutouts/x/{i}.png"
        (bank / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(bank / rel)
        cut.append(Cutout(rel, cls, f"s{i}", f"s{i}", "test", "CC0", "test", 20.0, 50, 60 + 10 * i))
    return bank, tuple(cut)


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_shop_scenes_are_deterministic_and_annotate_the_main_product(tmp_path):
    bank, cut = _mini_bank(tmp_path)
    src = [Source(bank, cut, max_upscale=1.6)]
    a = build_shop_split(src, [1.0], tmp_path / "a", "val", 12, seed=3, prop_p=0.5, masks=True)
    b = build_shop_split(src, [1.0], tmp_path / "b2", "val", 12, seed=3, prop_p=0.5, masks=True)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b2")
    assert len(a["images"]) == 12 and b["categories"][-1]["name"] == "product"
    kinds = set()
    from pycocotools import mask as mask_utils
    for im in a["images"]:
        anns = [x for x in a["annotations"] if x["image_id"] == im["id"]]
        mains = [x for x in anns if x["main"]]
        assert len(mains) == 1
        stem = im["file_name"].split("/")[-1][:-4]
        m = np.asarray(Image.open(tmp_path / "a" / "masks" / f"{stem}.png")) > 127
        assert np.array_equal(m, mask_utils.decode(mains[0]["segmentation"]).astype(bool))
        assert m.sum() > 0.02 * m.size
        img = Image.open(tmp_path / "a" / im["file_name"])
        assert img.size == (im["width"], im["height"]) and min(img.size) >= 192
        kinds.add(im["meta"]["kind"])
        # props never overlap the product's mask
        for x in anns:
            if not x["main"]:
                assert not (mask_utils.decode(x["segmentation"]).astype(bool) & m).any()
    assert len(kinds) >= 3
    json.dumps(a)  # serialisable


def test_resumed_shop_build_is_identical(tmp_path):
    bank, cut = _mini_bank(tmp_path)
    src = [Source(bank, cut)]
    build_shop_split(src, [1.0], tmp_path / "full", "train", 6, seed=1)
    build_shop_split(src, [1.0], tmp_path / "part", "train", 3, seed=1)
    (tmp_path / "part" / "annotations.json").unlink()
    build_shop_split(src, [1.0], tmp_path / "part", "train", 6, seed=1)
    assert _digest(tmp_path / "full") == _digest(tmp_path / "part")
