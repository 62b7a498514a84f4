"""Where a run reads and writes: a local folder or an fsspec URL (s3://, gs://, memory://, file://).

`Store(root)` is the runner's only view of its input and output locations. Local paths go through
`io` exactly as before (`io.list_inputs`, `io.read_image`, `io.write_atomic`); any other URL goes
through fsspec (imported only then): objects are written in one put (object stores make a put
atomic), and an input is copied to a local temporary file before `io.read_image` decodes it.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from .io import SUPPORTED_SUFFIXES, hidden_name, list_inputs, read_image, sort_input, syncfs, write_atomic


def is_url(location: str | Path) -> bool:
    return isinstance(location, str) and "://" in location


class UnsafePath(ValueError):
    """A path that would write or delete outside a store's root."""


class Store:
    """A root folder (local `Path`) or URL and the relative POSIX paths below it."""

    def __init__(self, root: str | Path, defer_sync: bool = False):
        self.url = str(root)
        # True: writes are not synced one by one; `sync()` makes everything written so far durable
        # (a shard's outputs, once, before its part)
        self.defer_sync = defer_sync
        if is_url(root) and not str(root).startswith("file://"):
            import fsspec

            self.fs, path = fsspec.core.url_to_fs(str(root))
            self.root: Any = path.rstrip("/")
            self.local = False
        else:
            p = str(root)[len("file://"):] if str(root).startswith("file://") else root
            self.fs, self.root, self.local = None, Path(p), True

    def __reduce__(self):  # sent to workers as its URL: the filesystem is rebuilt there
        return (Store, (self.url, self.defer_sync))

    @property
    def location(self) -> str:
        """Where the store is, for files that point at it: the absolute path, or the URL."""
        return str(Path(self.root).resolve()) if self.local else self.url

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # ------------------------------------------------------------- paths
    def path(self, rel: str = "") -> Any:
        if self.local:
            return self.root / rel if rel else self.root
        return f"{self.root}/{rel}" if rel else self.root

    def exists(self, rel: str = "") -> bool:
        return self.path(rel).exists() if self.local else self.fs.exists(self.path(rel))

    def is_file(self) -> bool:
        return self.root.is_file() if self.local else self.fs.isfile(self.root)

    # ------------------------------------------------------------- bytes
    def read_bytes(self, rel: str) -> bytes:
        """The bytes of `rel`, a path checked as `inside` checks it (an entry's path is never trusted,
        for reading either)."""
        return self.inside(rel).read_bytes() if self.local else self.fs.cat_file(self.inside(rel))

    def inside(self, rel: str) -> Any:
        """The path of `rel` for reading, writing or deleting, checked to stay inside the root: a
        relative POSIX path without `..`, and (local) no symlink on the way from the root to it.
        Raises `UnsafePath` otherwise: a path from a manifest part or an entry is never trusted."""
        parts = self._plain(rel)
        if self.local:
            cur = self.root
            for part in parts:
                cur = cur / part
                if cur.is_symlink():
                    raise UnsafePath(f"{cur} is a symlink: refusing to write or delete through it")
        return self.path(rel)

    def _plain(self, rel: str) -> tuple[str, ...]:
        """The parts of a plain relative POSIX path (no `..`, not absolute); `UnsafePath` otherwise."""
        parts = PurePosixPath(rel).parts
        if not rel or PurePosixPath(rel).is_absolute() or "\\" in rel or ".." in parts:
            raise UnsafePath(f"{rel!r} is not a plain relative path inside {self.url}")
        return parts

    def write_bytes(self, rel: str, data: bytes, durable: bool = True) -> None:
        """Atomic: complete or absent (local: temp + fsync + rename; object stores: one put);
        `durable=False`: no fsync (a cache); a `defer_sync` store leaves it to `sync()`."""
        if self.local:
            write_atomic(self.inside(rel), data, durable and not self.defer_sync)
        else:
            parent = self.path(str(PurePosixPath(rel).parent)) if "/" in rel else self.root
            self.fs.makedirs(parent, exist_ok=True)
            self.fs.pipe_file(self.path(rel), data)

    def sync(self) -> None:
        """Make every write so far durable: one `syncfs` of the folder's filesystem (Linux; `os.sync`
        elsewhere). Object stores' puts are durable already."""
        if self.local:
            syncfs(self.root)

    def remove(self, rel: str) -> None:
        if self.local:
            self.inside(rel).unlink(missing_ok=True)
        elif self.fs.exists(self.inside(rel)):
            self.fs.rm_file(self.path(rel))

    def remove_tree(self, rel: str) -> None:
        if self.local:
            import shutil

            if self.inside(rel).is_dir():
                shutil.rmtree(self.path(rel))
        elif self.fs.exists(self.inside(rel)):
            self.fs.rm(self.path(rel), recursive=True)

    def listdir(self, rel: str) -> list[str]:
        """Names of the files directly in `rel` (sorted; none when it does not exist)."""
        if self.local:
            d = self.path(rel)
            return sorted(p.name for p in d.iterdir() if p.is_file()) if d.is_dir() else []
        if not self.fs.exists(self.path(rel)):
            return []
        return sorted(PurePosixPath(p["name"]).name for p in self.fs.ls(self.path(rel), detail=True)
                      if p.get("type") == "file")

    def files(self, rel: str) -> list[str]:
        """Relative paths of every file under `rel` (recursive, sorted)."""
        if self.local:
            d = self.path(rel)
            return sorted(p.relative_to(self.root).as_posix() for p in d.rglob("*") if p.is_file()) \
                if d.is_dir() else []
        base = self.path(rel)
        if not self.fs.exists(base):
            return []
        return sorted(str(PurePosixPath(p).relative_to(PurePosixPath(self.root))) for p in self.fs.find(base))

    # ------------------------------------------------------------- inputs
    def list_inputs(self, recursive: bool = True, exclude: Store | None = None,
                    hidden: list[str] | None = None) -> tuple[list[str], list[str]]:
        """(supported, unsupported) relative paths, sorted, as `io.list_inputs` (which serves local
        ones); the hidden names skipped are appended to `hidden`."""
        if self.local:
            return list_inputs(self.root, recursive, exclude=exclude.root if exclude and exclude.local else None,
                               hidden=hidden)
        if self.fs.isfile(self.root):
            name = PurePosixPath(self.root).name
            return ([name], []) if PurePosixPath(name).suffix.lower() in SUPPORTED_SUFFIXES else ([], [name])
        skip = None
        if exclude is not None and not exclude.local and type(exclude.fs) is type(self.fs):
            skip = str(exclude.root).rstrip("/") + "/"
        found = self.fs.find(self.root, maxdepth=None if recursive else 1)
        ok, bad, seen = [], [], set()
        base = PurePosixPath(self.root)
        for p in found:
            if skip and (p + "/").startswith(skip):
                continue
            rel = PurePosixPath(p).relative_to(base)
            if any(part.startswith(".") for part in rel.parts):
                seen.add(hidden_name(rel.parts, False))
                continue
            sort_input(rel.as_posix(), ok, bad)
        if hidden is not None:
            hidden += sorted(seen)
        return sorted(ok), sorted(bad)

    def input_path(self, rel: str) -> Any:
        """The input file (the root itself when the run's input is one file)."""
        if self.local:
            return self.root if self.root.is_file() else self.root / rel
        return self.root if self.fs.isfile(self.root) else self.path(rel)

    def input_stat(self, rel: str) -> str:
        """A cheap fingerprint of an input (size and modification time, or the object's ETag): a
        run hashes the content again only when it changed."""
        p = self.input_path(rel)
        if self.local:
            st = os.stat(p)
            return f"{st.st_size}:{st.st_mtime_ns}"
        info = self.fs.info(p)
        stamp = next((info[k] for k in ("mtime", "LastModified", "updated", "ETag", "created") if info.get(k)), "")
        return f"{info.get('size')}:{stamp}"

    def input_stats(self, rels: list[str]) -> dict[str, str]:
        """`input_stat` of many inputs (a local folder: one `os.stat` each, no Path per file)."""
        if not self.local or self.root.is_file():
            return {rel: self.input_stat(rel) for rel in rels}
        root = str(self.root)
        stats = {}
        for rel in rels:
            st = os.stat(f"{root}/{rel}")
            stats[rel] = f"{st.st_size}:{st.st_mtime_ns}"
        return stats

    def read_input_bytes(self, rel: str) -> bytes:
        """An input's bytes by a recorded relative path: a plain relative path (checked as `inside`
        does), which may be a symlink, as a listed input may be."""
        self._plain(rel)
        p = self.input_path(rel)
        return p.read_bytes() if self.local else self.fs.cat_file(p)

    def input_sha256(self, rel: str) -> str:
        h = hashlib.sha256()
        p = self.input_path(rel)
        with (open(p, "rb") if self.local else self.fs.open(p, "rb")) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def read_input(self, rel: str, max_side: int | None):
        """`io.read_image` of an input (a remote one through a local temporary copy)."""
        p = self.input_path(rel)
        if self.local:
            return read_image(p, max_side)
        fd, tmp = tempfile.mkstemp(suffix=PurePosixPath(rel).suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(self.fs.cat_file(p))
            return read_image(Path(tmp), max_side)
        finally:
            os.unlink(tmp)

    def contains(self, other: Store) -> bool:
        """Whether `other` is this location or lies inside it."""
        if self.local != other.local:
            return False
        if self.local:
            a, b = self.root.resolve(), other.root.resolve()
            return a == b or a in b.parents
        return type(self.fs) is type(other.fs) and (
            other.root == self.root or str(other.root).startswith(str(self.root).rstrip("/") + "/"))
