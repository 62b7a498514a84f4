"""A built wheel (not the editable checkout) runs every shipped preset from another folder, without torch.

The fast test builds the wheel from a copy of the sources, installs it without dependencies into a
fresh venv that borrows this environment's packages with torch made unimportable, and runs each
shipped preset by name on 2 example images from an empty working directory. The slow one does
the same with a plain `pip install <wheel>` (dependencies from the package index) into a fresh venv.
"""
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "examples").glob("*.jpg"))[:2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "LICENSES", "MANIFEST.in", "src", "configs", "weights",
           "textures", "logos", "backgrounds")
LINKED = ("weights",)  # large and flat (no caches in it): linked into the copy, not copied
NO_TORCH = """import sys


class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)


sys.meta_path.insert(0, _NoTorch())
"""

pytestmark = pytest.mark.skipif(not (ROOT / "weights" / "yolact_ws_effnetlite0.onnx").exists(),
                                reason="shipped ONNX weights not present")


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, **kw)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def build_wheel(tmp: Path) -> Path:
    """The wheel of a clean copy of the sources (no build/ left-overs, no egg-info)."""
    src = tmp / "src-copy"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc", "*.tmp")
    for name in SOURCES:
        p = ROOT / name
        if name in LINKED:  # read in place through a link (setuptools follows it): no 140 MB copy on disk
            src.mkdir(parents=True, exist_ok=True)
            (src / name).symlink_to(p.resolve(), target_is_directory=True)
        elif p.is_dir():
            shutil.copytree(p, src / name, symlinks=True, ignore=ignore)
        elif p.exists():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", src]
    try:  # offline when this environment's setuptools can build it; else pip fetches one
        if int(metadata.version("setuptools").split(".")[0]) >= 68:
            cmd.insert(4, "--no-build-isolation")
    except metadata.PackageNotFoundError:
        pass
    _run(cmd, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    shutil.rmtree(src)  # only the wheel is needed from here on
    (wheel,) = (tmp / "dist").glob("product_augment-*.whl")
    return wheel


def _inputs(tmp: Path) -> Path:
    folder = tmp / "in"
    folder.mkdir()
    for p in EXAMPLES:
        shutil.copy2(p, folder / p.name)
    return folder


def _venv_site(venv: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


def _run_presets(venv: Path, tmp: Path) -> None:
    inputs, cwd = _inputs(tmp), tmp / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AUGMENT_CONFIGS")}
    env["OMP_NUM_THREADS"] = "1"
    py, augment = venv / "bin" / "python", venv / "bin" / "augment"
    where = _run([py, "-c", "import product_augment; print(product_augment.__file__)"], cwd=cwd, env=env).stdout
    assert Path(where.strip()).resolve().is_relative_to(venv.resolve()), where  # the wheel, not the checkout
    listed = _run([augment, "presets"], cwd=cwd, env=env).stdout
    assert all(name in listed for name in PRESETS), listed
    for name in PRESETS:
        out = tmp / "out" / name
        _run([augment, "run", "--config", name, "--input", inputs, "--output", out, "--variants", "1",
              "--workers", "1"], cwd=cwd, env=env, timeout=600)
        items = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
        assert len(items) == len(EXAMPLES), (name, items)
        assert all(x.get("status", "ok") == "ok" for x in items), (name, items)
    assert not any(cwd.iterdir()), "a run wrote into the working directory"


def test_asset_dirs_of_the_checkout():
    from product_augment.resources import NAMES, asset_dir

    for name in NAMES:
        folder = asset_dir(name)
        assert folder.is_dir() and any(folder.iterdir()), name
        if name != "fonts":  # the editable install sees the repository's folders
            assert folder == (ROOT / name).resolve(), name
    with pytest.raises(ValueError, match="unknown asset folder"):
        asset_dir("models")


def test_config_accepts_a_shipped_preset_name(tmp_path, monkeypatch):
    from product_augment.cli.main import preset_path

    monkeypatch.chdir(tmp_path)  # no ./configs here: the shipped presets
    monkeypatch.delenv("AUGMENT_CONFIGS", raising=False)
    assert preset_path("catalog-white").resolve() == (ROOT / "configs" / "catalog-white.yaml").resolve()
    assert preset_path("studio.yaml").name == "studio.yaml" and preset_path("studio.yaml").is_file()
    assert preset_path("no-such-preset") == Path("no-such-preset")  # left for the loader's error
    assert preset_path("sub/catalog-white") == Path("sub/catalog-white")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_ships_the_assets(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("textures", "logos", "backgrounds", "fonts"):
        shipped = [n for n in names if n.startswith(f"product_augment/assets/{folder}/")]
        assert len(shipped) >= len(list((ROOT / folder if folder != "fonts" else
                                         ROOT / "src/product_augment/assets/fonts").iterdir())), folder
    for preset in PRESETS:
        assert f"product_augment/assets/configs/{preset}.yaml" in names
    for suffix in (".onnx", ".json", ".safetensors"):
        assert f"product_augment/assets/weights/yolact_ws_effnetlite0{suffix}" in names


def test_wheel_runs_every_preset_without_torch(wheel, tmp_path):
    """Fresh venv + the wheel (no deps); dependencies borrowed from this environment, torch blocked."""
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps",
          "--no-index", wheel], env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    purelib = _venv_site(venv)
    (purelib / "_no_torch.py").write_text(NO_TORCH)
    # "import" lines of a .pth run at start-up: the blocker first, then this environment's packages
    # (its site dirs are appended to the path without their .pth files, so not the editable checkout)
    (purelib / "00_no_torch.pth").write_text("import _no_torch\n")
    (purelib / "zz_borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run_presets(venv, tmp_path)


@pytest.mark.slow
def test_wheel_in_fresh_venv_from_the_index(wheel, tmp_path):
    """The real thing: `pip install <wheel>` into a fresh venv (dependencies from the index)."""
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    _run([venv / "bin" / "pip", "install", "-q", wheel], env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
         timeout=1800)
    r = subprocess.run([venv / "bin" / "python", "-c", "import torch"], capture_output=True, check=False)
    assert r.returncode != 0, "the default install pulled torch"
    _run_presets(venv, tmp_path)
