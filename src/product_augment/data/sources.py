"""Asset sources for the cutout bank: fetch and unpack packages, parse the furniture catalogue.

Three sources, all with redistributable licences:

* Debian ``sweethome3d-furniture``: five ``.sh3f`` zips of OBJ/MTL models and a
  ``PluginFurnitureCatalog.properties`` per library (name, category, creator, size, rotation).
* npm ``@lobehub/fluent-emoji-3d``: 256 px RGBA renders of the Fluent emoji (MIT).
* Debian ``fonts-noto-color-emoji``: the Noto colour emoji bitmap font (Apache-2.0).

Fetching shells out to ``apt-get download``/``dpkg -x`` and ``npm pack``; everything is unpacked
under one cache folder and reused when present.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_CACHE = Path(os.environ.get("PRODUCT_AUGMENT_CACHE", Path.home() / ".cache" / "product-augment"))

SH3D_DEB = "sweethome3d-furniture"
NOTO_DEB = "fonts-noto-color-emoji"
FLUENT_NPM = "@lobehub/fluent-emoji-3d"

# Licence of each furniture library, from the LICENSE.TXT inside each .sh3f.
SH3F_LICENCES: dict[str, tuple[str, str]] = {
    "BlendSwap-CC-0": ("CC0-1.0", "Blend Swap artists (CC0), via Sweet Home 3D furniture library"),
    "BlendSwap-CC-BY": ("CC-BY-3.0", "Blend Swap artists, via Sweet Home 3D furniture library"),
    "KatorLegaz": ("CC-BY-3.0-US", "(C) Andrew Kator & Jennifer Legaz"),
    "Reallusion": ("CC-BY-3.0-US", "(C) Reallusion"),
    "Scopia": ("CC-BY-3.0", "Emmanuel Puybaret / eTeks and Scopia contributors"),
}


class SourceError(RuntimeError):
    """A package could not be fetched or unpacked."""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One furniture model of a Sweet Home 3D library."""

    library: str  # .sh3f stem, e.g. "BlendSwap-CC-0"
    index: int  # the #N in the properties file
    id: str  # catalogue id, unique across libraries
    name: str
    category: str
    creator: str
    model_path: Path  # absolute path of the OBJ file
    rotation: np.ndarray | None  # 3×3 modelRotation, row-major, or None
    size_cm: tuple[float, float, float]  # width (x), height (y), depth (z)
    door_or_window: bool
    licence: str

    @property
    def source_id(self) -> str:
        """Stable id used for splits and bookkeeping."""
        return f"sh3d:{self.library}:{self.id}"

    @property
    def attribution(self) -> str:
        source = SH3F_LICENCES.get(self.library, ("", self.library))[1]
        return f"'{self.name}' by {self.creator} ({source}), {self.licence}"


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise SourceError(f"{cmd[0]} is not installed: {exc}") from exc
    except subprocess.CalledProcessError as exc:
        raise SourceError(f"{' '.join(cmd)} failed: {exc.stderr.strip()}") from exc


def fetch_deb(package: str, cache: Path) -> Path:
    """Download and extract a Debian package under ``cache/pkgs``; returns the extraction root."""
    debs, root = cache / "debs", cache / "pkgs"
    debs.mkdir(parents=True, exist_ok=True)
    stamp = root / f".{package}.done"
    if stamp.exists():
        return root
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        _run(["apt-get", "download", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise SourceError(f"apt-get download {package} produced no .deb in {debs}")
    root.mkdir(parents=True, exist_ok=True)
    _run(["dpkg", "-x", str(found[-1]), str(root)], cwd=debs)
    stamp.write_text(found[-1].name)
    return root


def fetch_npm(package: str, cache: Path) -> Path:
    """``npm pack`` a package into ``cache/npm`` and extract it; returns the package folder."""
    npm_dir = cache / "npm"
    npm_dir.mkdir(parents=True, exist_ok=True)
    target = npm_dir / package.strip("@").replace("/", "__")
    if (target / "package.json").exists():
        return target
    tarballs = sorted(npm_dir.glob(package.strip("@").replace("/", "-") + "-*.tgz"))
    if not tarballs:
        _run(["npm", "pack", package], cwd=npm_dir)
        tarballs = sorted(npm_dir.glob(package.strip("@").replace("/", "-") + "-*.tgz"))
    if not tarballs:
        raise SourceError(f"npm pack {package} produced no tarball in {npm_dir}")
    tmp = npm_dir / (target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(tarballs[-1]) as tar:
        tar.extractall(tmp, filter="data")
    shutil.rmtree(target, ignore_errors=True)
    (tmp / "package").rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def unpack_sh3f(cache: Path) -> Path:
    """Unzip every ``.sh3f`` of the furniture package into ``cache/sh3f/<stem>``."""
    root = fetch_deb(SH3D_DEB, cache)
    out = cache / "sh3f"
    for sh3f in sorted((root / "usr/share/sweethome3d/furniture").glob("*.sh3f")):
        dest = out / sh3f.stem
        if (dest / "PluginFurnitureCatalog.properties").exists():
            continue
        tmp = out / (sh3f.stem + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(sh3f) as zf:
            zf.extractall(tmp)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    return out


def fetch_all(cache: Path = DEFAULT_CACHE) -> dict[str, Path]:
    """Fetch and unpack all three sources; returns where each one lives."""
    cache = Path(cache)
    return {
        "sh3f": unpack_sh3f(cache),
        "fluent": fetch_npm(FLUENT_NPM, cache) / "assets",
        "noto": fetch_deb(NOTO_DEB, cache) / "usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    }


def _unescape(value: str) -> str:
    # .properties files are Latin-1 with \uXXXX escapes.
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), value).replace("\\:", ":")


def licence_in_model_folder(model_dir: Path) -> str | None:
    """The licence a model's own Blend Swap licence file states, or None without a readable one."""
    try:
        files = sorted(f for f in model_dir.iterdir() if "licen" in f.name.lower() and f.is_file())
    except OSError:
        return None
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        if "Attribution 3" in text or "licenses/by/3.0" in text:
            return "CC-BY-3.0"
        if "Creative Commons Zero" in text or "publicdomain/zero" in text:
            return "CC0-1.0"
    return None


def model_licence(model_dir: Path, library_licence: str) -> str:
    """The licence of one model: its own Blend Swap licence file when it has one, else the library's.

    The Blend Swap libraries declare one licence but defer to a LICENSE file in each model's folder,
    and a few disagree with their library (the Winchester armchair and sofa of "CC-0" are CC BY 3.0).
    """
    return licence_in_model_folder(model_dir) or library_licence


def parse_catalog(library_dir: Path) -> list[CatalogEntry]:
    """Parse one unpacked library's ``PluginFurnitureCatalog.properties``."""
    fields: dict[int, dict[str, str]] = {}
    text = (library_dir / "PluginFurnitureCatalog.properties").read_text(encoding="latin-1")
    for line in text.splitlines():
        m = re.match(r"^(\w+)#(\d+)=(.*)$", line.strip())
        if m:
            fields.setdefault(int(m.group(2)), {})[m.group(1)] = _unescape(m.group(3).strip())
    library = library_dir.name
    licence = SH3F_LICENCES.get(library, ("unknown", library))[0]
    entries = []
    for index, f in sorted(fields.items()):
        if "model" not in f or "name" not in f:
            continue
        model_path = library_dir / f["model"].lstrip("/")
        rotation = None
        if "modelRotation" in f:
            rotation = np.array([float(v) for v in f["modelRotation"].split()], dtype=np.float64).reshape(3, 3)
        entries.append(
            CatalogEntry(
                library=library,
                index=index,
                id=f.get("id", f"{library}#{index}"),
                name=f["name"],
                category=f.get("category", ""),
                creator=f.get("creator", "unknown"),
                model_path=model_path,
                rotation=rotation,
                size_cm=(float(f.get("width", 0)), float(f.get("height", 0)), float(f.get("depth", 0))),
                door_or_window=f.get("doorOrWindow", "false") == "true",
                licence=model_licence(model_path.parent, licence),
            )
        )
    return entries


def load_catalog(cache: Path = DEFAULT_CACHE) -> list[CatalogEntry]:
    """All models of all unpacked furniture libraries (fetching them if needed)."""
    root = unpack_sh3f(Path(cache))
    entries: list[CatalogEntry] = []
    for lib in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".tmp")):
        entries.extend(parse_catalog(lib))
    return entries
