"""The bench's progress bars (tqdm on stderr)."""
from __future__ import annotations

import sys


class _progress_bar:
    """tqdm over a run's steps with the running loss and the last validation IoU (stderr)."""

    def __init__(self, desc: str, enabled: bool, unit: str = "step"):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=desc, unit=unit, file=sys.stderr, leave=True, dynamic_ncols=True)
        self.val = None

    def postfix(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def update(self, state: dict) -> None:
        if self.bar is None:
            return
        if self.bar.total is None:
            self.bar.total = state["total"]
        if state.get("epoch_end"):
            self.val = state.get("val_iou")
            post = {"epoch": state["epoch"], "loss": f"{state['loss']:.3f}"}
            if self.val is not None:
                post["val_IoU"] = f"{self.val:.3f}"
            self.bar.set_postfix(post, refresh=True)
            return
        self.bar.update(state["step"] - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
