#!/usr/bin/env python3
"""Extract files from a Qt binary resource file (``.rcc``), e.g. gcompris' ``categorization.rcc``.

    python3 scripts/data/extract_rcc.py RCC OUT [--glob '*/images/*'] [--flat --prefix gc_] [--list]

Standard library only. Reads the rcc format versions 1-3 (header ``qres``, tree of 14/22-byte nodes,
names as UTF-16BE, payloads raw, qCompress'ed (zlib) or zstd'ed; zstd needs the ``zstandard`` module).
Without ``--flat`` files keep their resource path under OUT; with ``--flat`` they are written as
OUT/<prefix><basename>, and two different files with one basename are an error.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import struct
import sys
import zlib

COMPRESSED, DIRECTORY, COMPRESSED_ZSTD = 0x01, 0x02, 0x04


def entries(buf: bytes):
    """Yield (path, payload bytes) for every file in the resource."""
    if buf[:4] != b"qres":
        raise ValueError("not a Qt rcc file (no 'qres' magic)")
    version, tree, data, names = struct.unpack(">IIII", buf[4:20])
    node_size = 14 if version < 2 else 22

    def name_at(off: int) -> str:
        (n,) = struct.unpack(">H", buf[names + off : names + off + 2])
        return buf[names + off + 6 : names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(index: int, prefix: str):
        base = tree + index * node_size
        name_off, flags = struct.unpack(">IH", buf[base : base + 6])
        name = "" if index == 0 else name_at(name_off)
        path = f"{prefix}/{name}" if prefix else name
        if flags & DIRECTORY:
            count, first = struct.unpack(">II", buf[base + 6 : base + 14])
            for child in range(first, first + count):
                yield from walk(child, path)
            return
        (off,) = struct.unpack(">I", buf[base + 10 : base + 14])
        (size,) = struct.unpack(">I", buf[data + off : data + off + 4])
        payload = buf[data + off + 4 : data + off + 4 + size]
        if flags & COMPRESSED:
            payload = zlib.decompress(payload[4:])  # qCompress: 4-byte big-endian length, then zlib
        elif flags & COMPRESSED_ZSTD:
            import zstandard

            payload = zstandard.ZstdDecompressor().decompress(payload)
        yield path, payload

    yield from walk(0, "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rcc")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--glob", default="*", help="only resource paths matching this (fnmatch)")
    ap.add_argument("--flat", action="store_true", help="write OUT/<prefix><basename>")
    ap.add_argument("--prefix", default="")
    ap.add_argument("--list", action="store_true", help="only list the matching paths and sizes")
    a = ap.parse_args()
    with open(a.rcc, "rb") as f:
        buf = f.read()
    written: dict[str, bytes] = {}
    for path, payload in entries(buf):
        if not fnmatch.fnmatch(path, a.glob):
            continue
        if a.list or not a.out:
            print(f"{len(payload)}\t{path}")
            continue
        rel = a.prefix + os.path.basename(path) if a.flat else path
        if rel in written:
            if written[rel] != payload:
                print(f"error: two different files named {rel}", file=sys.stderr)
                return 1
            continue
        written[rel] = payload
        dest = os.path.join(a.out, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(payload)
    if a.out and not a.list:
        print(f"{len(written)} files -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
