"""ProductDataset: fresh, reproducible variants per (epoch, index) whatever the worker count,
torchvision targets, COCO sources without the segmenter, and two training steps through a
DataLoader with two workers."""
import json

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from torch.utils.data import DataLoader
from torchvision import tv_tensors

import product_augment as pa
from product_augment.integrations.torch import ProductDataset, collate, worker_init_fn
from product_augment.sample import mask_box
from product_augment.steps.segment import YolactSegment

from .conftest import make_packshot

PRESET = {"version": 1, "seed": 2, "steps": [
    {"segment": {"backend": "classical", "class_name": "toy"}},
    {"palette": {"k": 3}},
    {"background": {"kind": "gradient", "canvas": {"size": 128, "aspect": 1.0},
                    "scale": {"range": [0.4, 0.8]}, "position": "random"}},
    {"shadow": {"kind": "drop", "azimuth": {"range": [-40, 40]}}},
]}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    colours = [(190, 40, 30), (30, 90, 180), (40, 140, 60), (200, 160, 20)]
    for i, fg in enumerate(colours):
        img, _ = make_packshot(h=160, w=200, radius=40 + 5 * i, fg=fg)
        Image.fromarray(img).save(d / f"p{i}.png")
    return d


def images_of(loader):
    return [img for images, _ in loader for img in images]


def test_targets_are_torchvision_detection_targets(photos):
    ds = ProductDataset(photos, PRESET)
    image, target = ds[0]
    assert isinstance(image, tv_tensors.Image) and image.shape == (3, 128, 128) and image.dtype == torch.uint8
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes) and target["boxes"].canvas_size == (128, 128)
    assert isinstance(target["masks"], tv_tensors.Mask) and target["masks"].shape == (1, 128, 128)
    assert target["labels"].tolist() == [16]  # toy
    assert tuple(target["boxes"][0].tolist()) == mask_box(target["masks"][0].numpy() > 0)
    assert target["backdrop"].tolist() == [False] and target["area"][0] == target["masks"][0].sum()
    seg = ProductDataset(photos, PRESET, target="segmentation")[0][1]
    assert isinstance(seg, tv_tensors.Mask) and set(seg.unique().tolist()) == {0, 16}
    with pytest.raises(ValueError, match="target 'boxes'"):
        ProductDataset(photos, PRESET, target="boxes")


def test_variants_differ_by_epoch_and_index_and_repeat(photos):
    ds = ProductDataset(photos, PRESET)
    e0 = [ds[i][0] for i in range(len(ds))]
    again = [ds[i][0] for i in range(len(ds))]
    assert all(torch.equal(a, b) for a, b in zip(e0, again))
    ds.set_epoch(1)
    e1 = [ds[i][0] for i in range(len(ds))]
    assert not any(torch.equal(a, b) for a, b in zip(e0, e1))
    # the same photo at two indices of a dataset is drawn differently (a seed per index)
    r0, r1 = ds.rng(0).integers(1 << 30), ds.rng(1).integers(1 << 30)
    assert r0 != r1


def test_workers_give_the_same_variants_as_the_main_process(photos):
    ds = ProductDataset(photos, PRESET)
    ds.set_epoch(3)
    kw = {"batch_size": 2, "collate_fn": collate}
    main_proc = images_of(DataLoader(ds, num_workers=0, **kw))
    two = images_of(DataLoader(ds, num_workers=2, worker_init_fn=worker_init_fn, **kw))
    assert len(two) == 4 and all(torch.equal(a, b) for a, b in zip(main_proc, two))
    assert len({bytes(i.numpy()) for i in two}) == 4  # distinct


def test_coco_source_needs_no_segmenter(tmp_path, photos, monkeypatch):
    coco = pa.cache_masks(PRESET, photos, tmp_path / "masks.json")
    assert len(coco["images"]) == 4
    catalog = {**pa.load_preset("catalog-white").raw}
    catalog["steps"] = [*catalog["steps"][:2], {"background": {"kind": "solid", "canvas": {"size": 96, "aspect": 1.0}}}]
    monkeypatch.setattr(YolactSegment, "apply", lambda *a: (_ for _ in ()).throw(AssertionError("ran")))
    ds = ProductDataset(tmp_path / "masks.json", catalog, image_root=photos,
                        base_dir=pa.load_preset("catalog-white").base_dir)
    image, target = ds[1]
    assert image.shape == (3, 96, 96) and target["labels"].tolist() == [16]
    # a folder with a mask file: the same
    folder = ProductDataset(photos, catalog, masks=tmp_path / "masks.json",
                            base_dir=pa.load_preset("catalog-white").base_dir)
    assert torch.equal(folder[1][0], image)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"annotations": []}))
    with pytest.raises(ValueError, match="not a COCO file"):
        ProductDataset(bad, PRESET)


class TinySeg(torch.nn.Module):
    def __init__(self, classes: int = 23):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                       torch.nn.Conv2d(8, classes, 1))

    def forward(self, x):
        return self.net(x)


def test_two_training_steps_through_a_dataloader_with_two_workers(photos):
    torch.manual_seed(0)
    ds = ProductDataset(photos, PRESET, target="segmentation")
    loader = DataLoader(ds, batch_size=2, num_workers=2, worker_init_fn=worker_init_fn, collate_fn=collate)
    model = TinySeg()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    before = [p.detach().clone() for p in model.parameters()]
    losses = []
    for step, (images, masks) in enumerate(loader):
        assert images.shape == (2, 3, 128, 128) and masks.shape == (2, 128, 128)
        loss = torch.nn.functional.cross_entropy(model(images.float() / 255), masks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if step == 1:
            break
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_shipped_preset_with_its_models_in_two_workers(tmp_path, photos):
    """The segmenter's models load in each worker (worker_init_fn); same variants as in-process."""
    sub = tmp_path / "two"
    sub.mkdir()
    for name in ("p0.png", "p1.png"):
        (sub / name).write_bytes((photos / name).read_bytes())
    ds = ProductDataset(sub, "catalog-white")
    kw = {"batch_size": 1, "collate_fn": collate}
    two = images_of(DataLoader(ds, num_workers=2, worker_init_fn=worker_init_fn, **kw))
    assert [tuple(i.shape) for i in two] == [(3, 1024, 1024)] * 2
    assert all(torch.equal(a, ds[i][0]) for i, a in enumerate(two))
