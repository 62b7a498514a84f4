"""Readable preset errors: file, field path and a did-you-mean suggestion."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path


class PresetError(ValueError):
    """A preset that cannot be used. `str()` lists every problem, one per line."""

    def __init__(self, path: Path | str, problems: Sequence[str]):
        self.path = str(path)
        self.problems = list(problems)
        super().__init__("\n".join(f"{self.path}: {p}" for p in self.problems))


def did_you_mean(word: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def format_loc(loc: Sequence[object]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
