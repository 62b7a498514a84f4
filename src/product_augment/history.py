"""A run folder's history: manifest parts (the write-ahead log) over a compacted SQLite index.

Every shard writes its part (`parts/rNNNNN-<id>.jsonl`) after its outputs, as before: a part is the
durable "done" mark. Parts are not parsed again night after night: once more than
`compact_parts` of them wait (at the start of a run, or while it runs), they are **compacted** into
`history.db` (SQLite, stdlib): one transaction applies them in name order (the latest entry of each
output name wins; a `removed` entry deletes its name) and records their names, the commit is made
durable, and only then are the part files deleted. A kill at any point leaves either the parts (the
transaction rolled back by SQLite's journal) or the committed rows and parts whose names the
database already holds (ignored, deleted at the next compaction): the history reads the same.

The history is the database's rows overlaid with the parts not yet compacted (the *tail*, at most
`compact_parts` of them, parsed into memory). Every part of the tail is newer than every row: a
compaction always takes every part on disk, and a run's parts hold distinct names. The main
process therefore holds the tail and what it asks for (a batch of rows at a time), never the whole
history: lookups go by name or by source in batches, and the views stream the rows in name order.

A remote (fsspec) output keeps its parts; its database is a local temporary file rebuilt from them
on each run (no compaction is written back).
"""
from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Self

from .jobs import parts as J
from .storage import Store

DB = J.HISTORY_DB
COMPACT_PARTS = 256   # parts waiting before they are compacted into the database
_BATCH = 500          # names per SQL lookup
_SCHEMA = 1


@dataclass(frozen=True)
class Rec:
    """What planning needs of an output name's latest entry (its full JSON stays in the database)."""

    job: str | None
    status: str
    error: str
    files_json: str   # the entry's output files as a JSON list, parsed only when asked (`files`)
    preset: str | None

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(json.loads(self.files_json))


def _rec(e: dict) -> Rec:
    return Rec(J.entry_job_id(e), e.get("status", ""), e.get("error", "") or "", json.dumps(J.output_files(e)),
               e.get("preset_sha256"))


def _dumps(e: dict) -> str:
    return json.dumps(e, separators=(",", ":"))


class History:
    """Open with `History.open(out, writable)`; close with `close()` (or use as a context manager)."""

    def __init__(self, out: Store, con: sqlite3.Connection, path: str, persistent: bool,
                 compact_parts: int, writable: bool):
        self.out, self.con, self.path = out, con, path
        self.persistent, self.compact_parts, self.writable = persistent, compact_parts, writable
        self.tail: dict[str, dict] = {}        # name -> latest entry of the uncompacted parts (a removal kept)
        self.tail_parts: list[str] = []        # uncompacted part names, oldest first
        self._ingested = {r[0] for r in con.execute("SELECT name FROM parts")}
        row = con.execute("SELECT value FROM meta WHERE key='last_run'").fetchone()
        self.last_run = int(row[0]) if row else 0

    # ------------------------------------------------------------- open / close
    @classmethod
    def open(cls, out: Store, writable: bool = True, compact_parts: int = COMPACT_PARTS) -> History:
        """The history of a run folder. `writable`: the run's own (may compact); otherwise a reader's
        (export, report): nothing is written, a missing database is an empty one."""
        persistent = out.local and (writable or (out.root / DB).is_file())
        if persistent:
            path = str(out.inside(DB))
            os.makedirs(os.path.dirname(path), exist_ok=True)
        else:
            fd, path = tempfile.mkstemp(prefix=".augment-history.", suffix=".db")
            os.close(fd)
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA journal_mode=DELETE")
        if con.execute("PRAGMA user_version").fetchone()[0] == 0:
            con.executescript(f"""
                BEGIN;
                CREATE TABLE IF NOT EXISTS entries(id TEXT PRIMARY KEY, job TEXT, status TEXT, error TEXT,
                    preset TEXT, source TEXT, stat TEXT, sha TEXT, files TEXT, entry TEXT);
                CREATE INDEX IF NOT EXISTS by_source ON entries(source);
                CREATE TABLE IF NOT EXISTS parts(name TEXT PRIMARY KEY);
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
                PRAGMA user_version={_SCHEMA};
                COMMIT;""")
        h = cls(out, con, path, persistent, compact_parts, writable)
        h._read_tail()
        if h._ingested and persistent and writable:  # a compaction killed before it deleted its parts
            h._forget_parts()
        return h

    def close(self) -> None:
        self.con.close()
        if not self.persistent:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_tail(self) -> None:
        names = [n for n in J.part_names(self.out) if n not in self._ingested]
        if names and (not self.persistent or (self.writable and len(names) > self.compact_parts)):
            self._compact(names)  # a temporary database (remote, or a reader's) takes every part
            names = []
        for n in names:
            self._add_tail(n, J.parse_lines(self.out.read_bytes(f"{J.PARTS}/{n}")))
        runs = [int(J.PART_RE.match(n).group(1)) for n in J.part_names(self.out)]
        self.last_run = max([self.last_run, *runs])

    def _add_tail(self, name: str, entries: Iterable[dict]) -> None:
        for e in entries:
            self.tail.pop(e["id"], None)  # re-inserted last: the tail's order is the history's
            self.tail[e["id"]] = e
        self.tail_parts.append(name)

    # ------------------------------------------------------------- writing
    @property
    def next_run(self) -> int:
        return self.last_run + 1

    def add_part(self, name: str, entries: list[dict]) -> None:
        """A part this run wrote (already on disk): into the tail; compacted when the tail is long."""
        self._add_tail(name, entries)
        run = J.PART_RE.match(name)
        if run:
            self.last_run = max(self.last_run, int(run.group(1)))
        if len(self.tail_parts) > self.compact_parts and (self.writable or not self.persistent):
            self._compact(self.tail_parts)

    def compact(self) -> None:
        """Every uncompacted part into the database (then their files deleted)."""
        if self.tail_parts:
            self._compact(self.tail_parts)

    def _compact(self, names: list[str]) -> None:
        names = list(names)
        cur = self.con.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for n in names:
                for e in J.parse_lines(self.out.read_bytes(f"{J.PARTS}/{n}")):
                    self._apply(cur, e)
                cur.execute("INSERT OR IGNORE INTO parts(name) VALUES (?)", (n,))
            run = max([self.last_run, *(int(J.PART_RE.match(n).group(1)) for n in names)])
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('last_run', ?)", (str(run),))
            gen = cur.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(int(gen[0]) + 1 if gen else 1),))
            cur.execute("COMMIT")  # durable (synchronous=FULL): only now are the parts deleted
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self.last_run = run
        self._ingested.update(names)
        self.tail, self.tail_parts = {}, []
        if self.persistent and self.writable:
            self._forget_parts()

    def _forget_parts(self) -> None:
        """Delete the compacted part files, then their names (a kill in between: deleted next time)."""
        names = sorted(self._ingested)
        for n in names:
            self.out.remove(f"{J.PARTS}/{n}")
        with self.con:
            self.con.execute("BEGIN")
            self.con.executemany("DELETE FROM parts WHERE name=?", ((n,) for n in names))
        self._ingested = set()

    @staticmethod
    def _apply(cur: sqlite3.Cursor, e: dict) -> None:
        if e.get("status") == J.REMOVED:
            cur.execute("DELETE FROM entries WHERE id=?", (e["id"],))
            return
        r = _rec(e)
        cur.execute("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (e["id"], r.job, r.status, r.error, r.preset, e.get("source"), e.get("source_stat"),
                     e.get("source_sha256"), r.files_json, _dumps(e)))

    # ------------------------------------------------------------- reading
    @property
    def empty(self) -> bool:
        return not self.tail and self.con.execute("SELECT 1 FROM entries LIMIT 1").fetchone() is None

    def get_many(self, ids: Iterable[str]) -> dict[str, Rec]:
        """The latest entry (as a `Rec`) of each name that has one."""
        found: dict[str, Rec] = {}
        ask = []
        for i in ids:
            if i in self.tail:
                e = self.tail[i]
                if e.get("status") != J.REMOVED:
                    found[i] = _rec(e)
            else:
                ask.append(i)
        for k in range(0, len(ask), _BATCH):
            chunk = ask[k:k + _BATCH]
            q = f"SELECT id, job, status, error, files, preset FROM entries WHERE id IN ({','.join('?' * len(chunk))})"
            for i, job, status, error, files, preset in self.con.execute(q, chunk):
                found[i] = Rec(job, status or "", error or "", files, preset)
        return found

    def entry(self, i: str) -> dict | None:
        if i in self.tail:
            e = self.tail[i]
            return None if e.get("status") == J.REMOVED else e
        row = self.con.execute("SELECT entry FROM entries WHERE id=?", (i,)).fetchone()
        return json.loads(row[0]) if row else None

    def known_hashes(self, sources: list[str]) -> dict[tuple[str, str], str]:
        """(source, source_stat) -> source_sha256 recorded for these sources (latest entries)."""
        known: dict[tuple[str, str], str] = {}
        for k in range(0, len(sources), _BATCH):
            chunk = sources[k:k + _BATCH]
            q = f"SELECT source, stat, sha FROM entries WHERE source IN ({','.join('?' * len(chunk))}) " \
                f"AND stat IS NOT NULL AND sha IS NOT NULL"
            for src, st, sha in self.con.execute(q, chunk):
                known[(src, st)] = sha
        wanted = set(sources) if self.tail else ()
        for e in self.tail.values():
            if e.get("source") in wanted and e.get("source_stat") and e.get("source_sha256"):
                known[(e["source"], e["source_stat"])] = e["source_sha256"]
        return known

    def seen_sources(self, sources: list[str]) -> set[str]:
        """Which of these sources (input paths) any entry names, asked in batches (a removed
        name's entry no longer counts once compacted)."""
        seen: set[str] = set()
        for k in range(0, len(sources), _BATCH):
            chunk = sources[k:k + _BATCH]
            q = f"SELECT DISTINCT source FROM entries WHERE source IN ({','.join('?' * len(chunk))})"
            seen.update(src for (src,) in self.con.execute(q, chunk))
        if self.tail:
            wanted = set(sources)
            seen.update(e["source"] for e in self.tail.values() if e.get("source") in wanted)
        return seen

    def unseen_first(self, relpaths: list[str]) -> tuple[list[str], int]:
        """The inputs in plan order and how many lead it: those no entry names first (a night's new
        photos behind a large catalogue start at once), then the others, each group in listing order."""
        if self.empty:
            return relpaths, 0
        seen = self.seen_sources(relpaths)
        if len(seen) == len(relpaths):
            return relpaths, 0
        unseen = [r for r in relpaths if r not in seen]
        return unseen + [r for r in relpaths if r in seen], len(unseen)

    def content_hashes(self, inputs: Any, relpaths: list[str]) -> tuple[dict, dict]:
        """SHA-256 and stat stamp of every input (a `Store`); an input whose size and modification
        time match an earlier entry's keeps that entry's hash without being read (asked in batches)."""
        hashes, stats = {}, {}
        for k in range(0, len(relpaths), 2000):
            chunk = relpaths[k:k + 2000]
            known = self.known_hashes(chunk)
            for rel, st in inputs.input_stats(chunk).items():
                stats[rel] = st
                hashes[rel] = known.get((rel, st)) or inputs.input_sha256(rel)
        return hashes, stats

    def ok_presets(self) -> set[str]:
        got = {r[0] for r in self.con.execute("SELECT DISTINCT preset FROM entries WHERE status='ok'")}
        got |= {e.get("preset_sha256") for e in self.tail.values() if e.get("status") == "ok"}
        return got

    def files_of_ok(self, skip: set[str] | frozenset = frozenset()) -> Iterator[tuple[str, tuple[str, ...]]]:
        """(name, files) of every latest `ok` entry but the names in `skip`, in name order."""
        for i, e in self._merged(self.con.execute(
                "SELECT id, files FROM entries WHERE status='ok' ORDER BY id"), lambda row: row[1]):
            if i in skip:
                continue
            if isinstance(e, dict):
                if e.get("status") == "ok":
                    yield i, tuple(J.output_files(e))
            else:
                yield i, tuple(json.loads(e))

    def names(self) -> Iterator[str]:
        """Every output name of the history, in order."""
        for i, _ in self._merged(self.con.execute("SELECT id FROM entries ORDER BY id"), lambda row: None):
            yield i

    def latest(self) -> Iterator[tuple[str, dict, str | None]]:
        """(name, entry, its JSON line or None) of every latest entry, in name order, streamed."""
        for i, e in self._merged(self.con.execute("SELECT id, entry FROM entries ORDER BY id"), lambda row: row[1]):
            if isinstance(e, dict):
                yield i, e, None
            else:
                yield i, json.loads(e), e

    def _merged(self, rows: Iterable[tuple], value) -> Iterator[tuple[str, Any]]:
        """Rows (sorted by id) overlaid with the tail (its entries win; a removal hides the row)."""
        tail = sorted(self.tail)
        t = 0
        for row in rows:
            i = row[0]
            while t < len(tail) and tail[t] < i:
                e = self.tail[tail[t]]
                if e.get("status") != J.REMOVED:
                    yield tail[t], e
                t += 1
            if t < len(tail) and tail[t] == i:
                e = self.tail[tail[t]]
                if e.get("status") != J.REMOVED:
                    yield i, e
                t += 1
                continue
            yield i, value(row)
        for k in tail[t:]:
            e = self.tail[k]
            if e.get("status") != J.REMOVED:
                yield k, e

    # ------------------------------------------------------------- the views' stamp
    def stamp_parts(self) -> list:
        """What identifies the history's content: the database's generation and the tail's parts."""
        gen = self.con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        tail = []
        for n in sorted(self.tail_parts):  # as a later open lists them (a run adds them as they finish)
            p = self.out.path(f"{J.PARTS}/{n}")
            st = os.stat(p) if self.out.local else None
            tail.append([n, st.st_size if st else 0, st.st_mtime_ns if st else 0])
        return [gen[0] if gen else "0", tail]

    def get_meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        if self.writable:
            self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
