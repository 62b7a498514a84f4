"""The public API (product_augment.api, docs/API.md): presets by name/path/dict, one image in,
image + annotations + parameters out, seeding as `augment run`, replay, given masks, the cache."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import product_augment as pa
from product_augment import api
from product_augment.classes import class_id
from product_augment.cli.main import main
from product_augment.folders import read_mask
from product_augment.sample import mask_box
from product_augment.steps.segment import YolactSegment

from .conftest import make_packshot

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

GRADIENT = {"version": 1, "seed": 3, "steps": [
    {"segment": {"backend": "classical", "class_name": "cup"}},
    {"palette": {"k": 3}},
    {"background": {"kind": "gradient", "canvas": {"size": 256, "aspect": 1.0},
                    "scale": {"range": [0.4, 0.7]}, "position": "random"}},
    {"shadow": {"kind": "drop", "azimuth": {"range": [-40, 40]}}},
]}


@pytest.fixture(scope="module")
def gradient():
    return pa.Augmenter(GRADIENT)


def test_public_names_are_exported_and_documented():
    doc = (ROOT / "docs" / "API.md").read_text()
    for name in pa.__all__:
        assert getattr(pa, name) is getattr(api, name)
        assert f"`{name}" in doc, f"{name} is not in docs/API.md"
    with pytest.raises(AttributeError):
        pa.not_a_name  # noqa: B018


def test_load_preset_by_name_path_and_dict(tmp_path):
    by_name = pa.load_preset("catalog-white")
    by_path = pa.load_preset(ROOT / "configs" / "catalog-white.yaml")
    assert by_name.sha256 == by_path.sha256
    assert "catalog-white" in pa.preset_names() and "photo-scene" in pa.preset_names()
    assert pa.load_preset("studio", overrides={"seed": 5}).model.seed == 5
    # a mapping: relative paths resolve against base_dir
    (tmp_path / "masks").mkdir()
    p = pa.load_preset({"version": 1, "steps": [{"segment": {"backend": "masks", "path": "masks"}}]},
                       base_dir=tmp_path)
    assert Path(p.step_configs[0][1].path) == (tmp_path / "masks").resolve()
    assert pa.load_preset(p) is p


def test_load_preset_errors_name_the_source_and_field():
    with pytest.raises(pa.PresetError, match=r"catalog-whte.*did you mean 'catalog-white'"):
        pa.load_preset("catalog-whte")
    bad = {"version": 1, "steps": [{"shadow": {"kind": "mirorr"}}]}
    with pytest.raises(pa.PresetError, match=r"<preset dict>: steps\[0\]\.shadow\.kind: 'mirorr'.*'mirror'"):
        pa.load_preset(bad)
    with pytest.raises(TypeError, match="file path"):
        pa.load_preset(3)


def test_result_fields_are_aligned(gradient):
    img, _ = make_packshot()
    r = gradient(img, seed=1)
    assert r.image.shape == (256, 256, 3) and r.image.dtype == np.uint8 and r.alpha is None
    assert r.masks.shape == (1, 256, 256) and r.masks.dtype == bool
    assert r.boxes.shape == (1, 4) and tuple(r.boxes[0]) == mask_box(r.masks[0])
    assert r.classes.tolist() == [class_id("cup")]
    assert r.class_names == ["cup"] and r.backdrop.tolist() == [False] and r.scores.tolist() == [1.0]
    assert set(r.layers) == {"shadow"} and r.layers["shadow"].shape == (256, 256)
    assert list(r.params) == ["segment", "palette", "background", "shadow"]
    json.dumps(r.params)  # JSON-able as it is
    assert r.sample.light is not None  # the gradient's lighter side: the scene fields are there


def test_seed_key_variant_and_rng(gradient):
    img, _ = make_packshot()
    a, b = gradient(img, seed=1), gradient(img, seed=1)
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, gradient(img, seed=2).image)
    assert not np.array_equal(a.image, gradient(img, seed=1, variant=1).image)
    assert not np.array_equal(a.image, gradient(img, seed=1, key="other.png").image)
    # the preset's seed by default
    assert np.array_equal(gradient(img).image, gradient(img, seed=3).image)
    # a caller's generator: reproducible from its seed, and it advances
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    x1, x2 = gradient(img, rng=g1), gradient(img, rng=g2)
    assert np.array_equal(x1.image, x2.image)
    assert not np.array_equal(x1.image, gradient(img, rng=g1).image)
    with pytest.raises(TypeError, match="seed or rng"):
        gradient(img, seed=1, rng=g1)


def test_replay_from_params_and_json(gradient):
    img, _ = make_packshot()
    r = gradient(img, seed=4, variant=2)
    again = gradient.replay(img, json.loads(json.dumps(r.params)))
    assert np.array_equal(again.image, r.image) and np.array_equal(again.masks, r.masks)
    assert again.params == r.params


def test_path_input_seeds_by_file_name(tmp_path, gradient):
    img, _ = make_packshot()
    Image.fromarray(img).save(tmp_path / "shot.png")
    from_path = gradient(tmp_path / "shot.png", seed=1)
    assert np.array_equal(from_path.image, gradient(img, seed=1, key="shot.png").image)


def test_bad_inputs_are_clear(gradient):
    img, mask = make_packshot()
    with pytest.raises(TypeError, match="uint8"):
        gradient(img.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        gradient(img[..., :2])
    with pytest.raises(ValueError, match=r"masks\[0\] is \(10, 10\)"):
        gradient(img, masks=[np.ones((10, 10), bool)])
    with pytest.raises(ValueError, match="1 masks but 2 classes"):
        gradient(img, masks=[mask], classes=["cup", "toy"])
    with pytest.raises(pa.SampleError, match="no product found"):
        gradient(np.full((64, 64, 3), 200, np.uint8))


@pytest.fixture
def no_model(monkeypatch):
    """Fail if the YOLACT/cut segmenter runs."""
    calls = []

    def fake(self, sample, params):
        calls.append(1)
        raise AssertionError("the segmenter ran")

    monkeypatch.setattr(YolactSegment, "apply", fake)
    return calls


def test_given_masks_and_coco_annotations_skip_the_segmenter(no_model, tmp_path):
    img, mask = make_packshot()
    aug = pa.Augmenter("catalog-white")
    r = aug(img, masks=[mask], classes=["toy"], seed=0)
    assert r.class_names == ["toy"] and r.params["segment"] == {"backend": "given"}
    assert r.masks.shape == (1, 1024, 1024) and r.masks[0].sum() > 0.3 * mask.sum()
    # COCO annotations (RLE) give the same picture, and the same one a `masks` preset makes
    from product_augment.annotations import mask_to_rle
    ann = [{"segmentation": mask_to_rle(mask), "category_id": 16}]
    c = aug(img, annotations=ann, seed=0)
    assert np.array_equal(c.image, r.image) and c.class_names == ["toy"]
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": img.shape[1], "height": img.shape[0]}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 16, **ann[0]}],
            "categories": [{"id": 16, "name": "toy"}]}
    (tmp_path / "a.json").write_text(json.dumps(coco))
    raw = pa.load_preset("catalog-white").raw
    raw = {**raw, "steps": [{"segment": {"backend": "masks", "path": str(tmp_path / "a.json")}}, *raw["steps"][1:]]}
    m = pa.Augmenter(raw)(img, key="a.png", seed=0)
    assert np.array_equal(m.image, r.image) and np.array_equal(m.masks, r.masks)
    # replay needs the masks again
    with pytest.raises(pa.SampleError, match="given masks"):
        aug.replay(img, r.params)
    assert np.array_equal(aug.replay(img, r.params, masks=[mask], classes=["toy"]).image, r.image)
    assert not no_model


def test_cache_segments_a_photo_once(monkeypatch):
    img, _ = make_packshot()
    plain, cached = pa.Augmenter(GRADIENT), pa.Augmenter(GRADIENT, cache=2)
    seg = cached._cached_pipeline().steps[0]
    calls = []
    inner_apply = seg.inner.apply
    monkeypatch.setattr(seg.inner, "apply", lambda s, p: calls.append(1) or inner_apply(s, p))
    for v in range(3):
        assert np.array_equal(cached(img, variant=v).image, plain(img, variant=v).image)
    assert len(calls) == 1 and cached._cache.hits == 2
    other, _ = make_packshot(fg=(30, 90, 180))
    cached(other), cached(img[::-1].copy()), cached(img)  # 3 distinct photos through a cache of 2
    assert len(calls) == 4


def test_cache_masks_writes_coco_the_masks_backend_reads(tmp_path, gradient):
    src = tmp_path / "in"
    src.mkdir()
    for i, fg in enumerate([(190, 40, 30), (30, 90, 180)]):
        Image.fromarray(make_packshot(fg=fg)[0]).save(src / f"p{i}.png")
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(src / "empty.png")
    coco = pa.cache_masks(gradient, src, tmp_path / "masks.json")
    assert [im["file_name"] for im in coco["images"]] == ["p0.png", "p1.png"]
    assert [f["file_name"] for f in coco["failed"]] == ["empty.png"]
    raw = {**GRADIENT, "steps": [{"segment": {"backend": "masks", "path": str(tmp_path / "masks.json"),
                                              "class_name": "cup"}}, *GRADIENT["steps"][1:]]}
    from_file = pa.Augmenter(raw)(src / "p0.png", seed=1)
    assert from_file.class_names == ["cup"]
    direct = gradient(src / "p0.png", seed=1)
    # the same matte made binary: the same product placed the same way
    assert np.array_equal(from_file.boxes, direct.boxes)


def test_backdrop_objects_are_flagged(no_model):
    img, mask = make_packshot(h=480, w=360, radius=120)
    aug = pa.Augmenter("photo-scene")
    flags = [aug(img, masks=[mask], classes=["chair"], variant=v).backdrop for v in range(6)]
    assert all(not f[0] for f in flags)  # the product first
    assert any(f[1:].any() for f in flags)  # some backdrops hold objects of the 21 classes


@pytest.mark.parametrize("preset", ["gradient-mirror", "transparent"])
def test_same_bytes_as_augment_run(tmp_path, preset):
    """`augment run` goes through the API: same preset, seed, key and variant give the same file."""
    inp = tmp_path / "in"
    (inp / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "cup_coffee.jpg", inp / "sub" / "cup.jpg")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", "--config", preset, "--input", str(inp), "--output", str(out),
                                  "--seed", "11", "--variants", "2", "--workers", "1", "--no-progress"])
    assert r.exit_code == 0, r.output
    p = pa.load_preset(preset)
    aug = pa.Augmenter(p)
    fmt = p.model.output.format
    for v in range(2):
        res = aug(inp / "sub" / "cup.jpg", seed=11, key="sub/cup.jpg", variant=v)
        name = f"sub/cup__v{v:02d}"
        written = next((out / "images").glob(f"{name}.*"))
        assert res.encode(fmt, p.model.output.quality) == written.read_bytes()
        for j, m in enumerate(res.masks):
            assert np.array_equal(read_mask(out / "masks" / f"{name}__i{j}.png") > 0, m)
        entry = next(json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()
                     if json.loads(x)["id"] == name)
        assert entry["applied"] == res.params
        # and the manifest's parameters replay it
        assert np.array_equal(aug.replay(inp / "sub" / "cup.jpg", entry["applied"]).image, res.image)


def python_blocks(path: Path, marker: str) -> list[str]:
    """The ```python blocks of a Markdown file that follow a `<!-- marker -->` line."""
    text = path.read_text()
    return re.findall(rf"<!-- {marker} -->\n```python\n(.*?)```", text, flags=re.DOTALL)


def test_docs_api_examples_run(monkeypatch):
    """Every example of docs/API.md runs as written (in order, one namespace), from the repository."""
    blocks = python_blocks(ROOT / "docs" / "API.md", "example")
    assert len(blocks) >= 4
    monkeypatch.chdir(ROOT)
    ns: dict = {}
    for code in blocks:
        exec(compile(code, "docs/API.md", "exec"), ns)  # noqa: S102


def test_readme_examples_run(monkeypatch):
    """The README's three examples (API, albumentations, DataLoader) run as written."""
    blocks = python_blocks(ROOT / "README.md", "example")
    assert len(blocks) == 3
    monkeypatch.chdir(ROOT)
    for code in blocks:
        ns: dict = {}
        exec(compile(code, "README.md", "exec"), ns)  # noqa: S102
        if "result" in ns:
            assert np.array_equal(ns["again"].image, ns["result"].image)
        if "out" in ns:
            assert ns["out"]["image"].shape == (768, 768, 3)
        if "images" in ns:
            assert tuple(ns["images"].shape) == (4, 3, 640, 640) and len(ns["targets"]) == 4
