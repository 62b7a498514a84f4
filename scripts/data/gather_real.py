#!/usr/bin/env python3
"""Gather the source photos of ``data/real/all`` (issue 20) as ``OUT/<stem>.<ext>``, from the sources that
``scripts/data/real_photos.json`` names, for ``build_real_photos.py --photos OUT``.

    python scripts/data/gather_real.py [--mirror-root /work/.mirror] [--deb-root DIR] [--out data/real/sources]

Sources, as written in the manifest:
- ``github:OWNER/NAME[@REV] PATTERN [(hint)]``: a blob of the bare mirror ``MIRROR_ROOT/OWNER+NAME/repo``
  (the ``fetch`` tool's layout) at REV (the mirror's HEAD where none is pinned). PATTERN may hold
  ``{a,b}`` alternatives and ``**``; ``-`` and ``_`` are one character for matching (the stems were
  normalised); the hint ``(folder/file)`` or ``(category/number)`` says the name's first ``_`` is a ``/``.
- ``debian:PKG VERSION /PATH`` and ``debian:PKG VERSION, RCC: PATTERN``: a file of the package extracted
  under ``DEB_ROOT/PKG`` (``dpkg -x PKG.deb DEB_ROOT/PKG``), or a file inside one of its Qt resource files
  (``extract_rcc.py``).
- ``PyPI scikit-image: skimage.data.NAME()``: the picture bundled in scikit-image.

Files are copied byte for byte. Every stem not found is listed with the reason; exit 1 then.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import itertools
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import extract_rcc


def expand(pattern: str) -> list[str]:
    """``a/{b,c}/d`` -> [``a/b/d``, ``a/c/d``] (nested braces not needed)."""
    parts = re.split(r"\{([^{}]*)\}", pattern)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(c) for c in itertools.product(*choices)]


def norm(path: str) -> str:
    return path.replace("-", "_")


def matcher(pattern: str, hint: str | None):
    pats = []
    for p in expand(pattern):
        if hint:
            d, b = os.path.split(p)
            p = os.path.join(d, b.replace("_", "/", 1))
        pats.append(norm(p.replace("**", "*")))
    return lambda path: next((i for i, p in enumerate(pats) if fnmatch.fnmatchcase(norm(path), p)), None)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def git(mirror: str, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", mirror, *args], check=True, capture_output=True).stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", default=os.path.join(HERE, "real_photos.json"))
    ap.add_argument("--mirror-root", default="/work/.mirror")
    ap.add_argument(
        "--deb-root", default="/tmp/real_debs", help="holds PKG/ (dpkg -x of each Debian package)"
    )
    ap.add_argument("--out", default=os.path.join(ROOT, "data/real/sources"))
    a = ap.parse_args()
    man = json.loads(read(a.manifest))
    os.makedirs(a.out, exist_ok=True)
    trees: dict[tuple[str, str], list[tuple[str, str]]] = {}
    rccs: dict[str, list[tuple[str, bytes]]] = {}
    missing: dict[str, str] = {}
    done = 0
    for stem, info in man["photos"].items():
        src = info["source"]
        if glob.glob(os.path.join(a.out, glob.escape(stem) + ".*")):
            done += 1
            continue
        data, ext = None, None
        try:
            if m := re.fullmatch(r"github:([^/ ]+/[^@ ]+)(?:@(\S+))? (\S+)(?: \(([^)]*)\))?", src):
                repo, rev, pattern, hint = m.groups()
                mirror = os.path.join(a.mirror_root, repo.replace("/", "+"), "repo")
                if not os.path.isdir(mirror):
                    missing[stem] = f"no mirror {mirror} (fetch github:{repo})"
                    continue
                rev = rev or "HEAD"
                if (mirror, rev) not in trees:
                    out = git(mirror, "ls-tree", "-r", rev).decode()
                    trees[(mirror, rev)] = [
                        (ln.split("\t", 1)[1], ln.split()[2])
                        for ln in out.splitlines()
                        if ln.split()[1] == "blob"
                    ]
                match = matcher(pattern, hint)
                hits = sorted((i, p, sha) for p, sha in trees[(mirror, rev)] if (i := match(p)) is not None)
                if not hits:
                    missing[stem] = f"no file matching {pattern} in {repo} at {rev}"
                    continue
                if len({sha for _, _, sha in hits}) > 1:
                    print(f"{stem}: {len(hits)} different matches, taking {hits[0][1]}", file=sys.stderr)
                _, path, sha = hits[0]
                data, ext = git(mirror, "cat-file", "blob", sha), os.path.splitext(path)[1]
            elif m := re.fullmatch(r"debian:(\S+) \S+?,? (\S+?): (\S+)", src):  # a file inside an rcc
                pkg, rcc, pattern = m.groups()
                found = sorted(glob.glob(os.path.join(a.deb_root, pkg, "**", rcc), recursive=True))
                rcc_path = found[0] if found else ""
                if not rcc_path:
                    missing[stem] = f"no {rcc} under {a.deb_root}/{pkg} (apt-get download {pkg}; dpkg -x)"
                    continue
                if rcc_path not in rccs:
                    rccs[rcc_path] = list(extract_rcc.entries(read(rcc_path)))
                match = matcher(pattern, None)
                hits = [(p, d) for p, d in rccs[rcc_path] if match(p) is not None]
                if not hits:
                    missing[stem] = f"no resource matching {pattern} in {rcc_path}"
                    continue
                data, ext = hits[0][1], os.path.splitext(hits[0][0])[1]
            elif m := re.fullmatch(r"debian:(\S+) \S+ (/\S+)", src):
                pkg, path = m.groups()
                f = os.path.join(a.deb_root, pkg, path.lstrip("/"))
                if not os.path.exists(f):
                    missing[stem] = f"no {f} (apt-get download {pkg}; dpkg -x)"
                    continue
                data, ext = read(f), os.path.splitext(f)[1]
            elif m := re.fullmatch(r"PyPI scikit-image: skimage\.data\.(\w+)\(\)", src):
                import skimage

                f = os.path.join(os.path.dirname(skimage.__file__), "data", m.group(1) + ".png")
                if not os.path.exists(f):
                    missing[stem] = f"scikit-image has no bundled {f}"
                    continue
                data, ext = read(f), ".png"
            else:
                missing[stem] = f"source not understood: {src}"
                continue
        except (subprocess.CalledProcessError, ImportError, OSError) as e:
            missing[stem] = f"{type(e).__name__}: {e}"
            continue
        with open(os.path.join(a.out, stem + ext.lower()), "wb") as f:
            f.write(data)
        done += 1
    for stem, why in missing.items():
        print(f"MISSING {stem}: {why}", file=sys.stderr)
    print(f"{done} of {len(man['photos'])} photos in {a.out}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
