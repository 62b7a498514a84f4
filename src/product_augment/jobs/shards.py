"""Jobs and shards: the unit of work every executor runs the same way.

* A **job** is one (input, variant): output name `<relpath without suffix>__vNN` and a stable id,
  `job_id(relpath, content SHA-256, preset SHA-256, variant)`. The same input bytes under the same
  preset give the same id (and the same pictures) on every machine.
* A **shard** is a list of jobs (all the variants of a few inputs together), run by
  `worker.process_shard`; its manifest part is `parts/rNNNNN-<shard id>.jsonl`.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..io import path_suffix
from .layout import PARTS


def job_id(relpath: str, source_sha256: str, preset_sha256: str, variant: int) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in (relpath, source_sha256, preset_sha256, str(int(variant))):
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Job:
    item_id: str          # output base name: "<relpath without suffix>__vNN"
    relpath: str
    variant: int
    source_sha256: str
    job_id: str
    source_stat: str = ""  # size and modification time when planned (a later run's cheap change check)


def output_bases(relpaths: list[str]) -> dict[str, str]:
    """Deterministic output base names, one per input and all distinct (linear in the inputs).

    An input's name without its suffix; inputs differing only by suffix keep it in their name
    (``x.jpg`` → ``x_jpg``); a name that still collides with another input's (``x.jpg`` → ``x_jpg``
    beside ``x_jpg.webp``) gets 8 hex digits of a hash of its relative path. Names are compared
    ignoring case (``X.jpg`` and ``x.png`` would share a file on a case-insensitive disk).
    """
    bases = [r[: len(r) - len(path_suffix(r))] for r in relpaths]  # Path.with_suffix(""), as strings
    counts = Counter(b.casefold() for b in bases)
    names = {rel: (rel.replace(".", "_") if counts[base.casefold()] > 1 else base)
             for rel, base in zip(relpaths, bases)}
    taken = Counter(n.casefold() for n in names.values())
    for rel, base in zip(relpaths, bases):
        if taken[names[rel].casefold()] > 1 and names[rel] != base:
            names[rel] = f"{names[rel]}_{hashlib.sha1(rel.encode()).hexdigest()[:8]}"
    if len({n.casefold() for n in names.values()}) != len(names):  # pragma: no cover - a hash collision
        raise ValueError("output names collide; rename the inputs")
    return names


def make_jobs(relpaths: list[str], variants: Mapping[str, int] | int, hashes: Mapping[str, str],
              preset_sha256: str, stats: Mapping[str, str] | None = None,
              bases: Mapping[str, str] | None = None) -> list[Job]:
    """Every (input, variant) as a job, inputs in the given order, variants ascending. `bases`: the
    output names of all the run's inputs (`output_bases`), when `relpaths` is a part of them."""
    bases = output_bases(relpaths) if bases is None else bases
    jobs = []
    for rel in relpaths:
        n = variants if isinstance(variants, int) else variants[rel]
        sha = hashes[rel]
        st = (stats or {}).get(rel, "")
        jobs += [Job(f"{bases[rel]}__v{v:02d}", rel, v, sha, job_id(rel, sha, preset_sha256, v), st)
                 for v in range(n)]
    return jobs


@dataclass(frozen=True)
class Shard:
    run: int
    jobs: tuple[Job, ...]

    @property
    def shard_id(self) -> str:
        h = hashlib.blake2b(digest_size=10)
        for j in self.jobs:
            h.update(j.job_id.encode() + b"\0")
        return h.hexdigest()

    @property
    def part(self) -> str:
        return f"{PARTS}/r{self.run:05d}-{self.shard_id}.jsonl"

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(j.relpath for j in self.jobs))


def make_shards(jobs: Iterable[Job], size: int, run: int) -> list[Shard]:
    """Consecutive jobs in shards of about `size`; the variants of one input stay together (so its
    image is read and segmented once) unless it alone has more than `size`."""
    return list(iter_shards(jobs, size, run))


FLUSH = object()  # in a job stream: close the shard being filled now (a planning step is over)


def iter_shards(jobs: Iterable[Job | object], size: int, run: int) -> Iterator[Shard]:
    """`make_shards` as a stream: each shard as soon as its jobs are known (the same shards, except
    that a `FLUSH` in the stream closes the current shard early)."""
    cur: list[Job] = []
    for j in jobs:
        if j is FLUSH:
            if cur:
                yield Shard(run, tuple(cur))
                cur = []
            continue
        if cur and len(cur) >= size and (j.relpath != cur[-1].relpath or len(cur) >= 2 * size):
            yield Shard(run, tuple(cur))
            cur = []
        cur.append(j)
    if cur:
        yield Shard(run, tuple(cur))
