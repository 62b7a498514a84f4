"""`augment report`: the page's data, thumbnails made once, and the page in a real browser
(headless Chromium driven over its DevTools pipe; skipped with the reason when no browser is found)."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import make_packshot

REPO = Path(__file__).resolve().parents[1]
PRESET = """
version: 1
variants: 2
output: {format: jpg, annotations: [coco, yolo]}
qa: {flag_only: [], max_enlargement: 1.3}
steps:
  - segment: {backend: alpha, class_name: cup}
  - background:
      kind: {choice: [solid, gradient]}
      canvas: {size: 160}
      scale: 0.9
"""


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    from product_augment.runner import RunOptions, run

    inp = tmp_path / "in"
    inp.mkdir()
    for i, r in enumerate((30, 70, 35)):  # the small ones are enlarged past 1.3x: rejected
        img, mask = make_packshot(160, 200, radius=r, fg=[(190, 40, 30), (30, 90, 180), (40, 140, 60)][i])
        Image.fromarray(np.dstack([img, mask.astype(np.uint8) * 255]), "RGBA").save(inp / f"p{i}.png")
    p = tmp_path / "preset.yaml"
    p.write_text(PRESET)
    out = tmp_path / "out"
    s = run(p, RunOptions(input_dir=inp, output_dir=out))
    assert s.ok and s.qa == {"reject": 4, "keep": 2}
    return out


def page_data(path: Path) -> dict:
    text = path.read_text()
    blob = re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.DOTALL).group(1)
    return json.loads(blob.replace("<\\/", "</"))


def test_report_lists_every_output_and_makes_thumbnails_once(run_dir):
    from product_augment.report import write_report

    r = write_report(run_dir)
    page = run_dir / "report" / "index.html"
    assert r.outputs == 6 and r.thumbs_made == 6 and page.exists()
    d = page_data(page)
    assert sorted(i["v"] for i in d["items"]) == ["keep"] * 2 + ["reject"] * 4
    rejected = [i for i in d["items"] if i["v"] == "reject"]
    assert all(i["src"] and (run_dir / "report" / "thumbs" / f"{i['src']}.jpg").exists() for i in rejected)
    assert all(i["r"][0].startswith("enlargement ") for i in rejected)
    assert {c for i in d["items"] for c in i["ch"]} <= {"background#0 (solid)", "background#1 (gradient)"}
    assert d["classes"] == [["cup", 3, 2, 0, 4]]
    steps = {row[0] for row in d["times"]}
    assert {"segment", "background", "qa", "write"} <= steps
    assert "max_enlargement: 1.3" in page.read_text()           # the run's preset
    for i in d["items"]:
        for suffix in (".jpg", ".o.png"):
            assert (run_dir / "report" / "thumbs" / f"{i['t']}{suffix}").stat().st_size > 0
    again = write_report(run_dir)
    assert again.thumbs_made == 0 and page_data(page)["items"] == d["items"]


def test_report_of_a_folder_that_is_no_run(tmp_path):
    from click.testing import CliRunner

    from product_augment.cli.main import main

    r = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert r.exit_code == 1 and "not a run folder" in r.output


# ---------------------------------------------------------------- in a browser

def find_browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """Chromium's DevTools protocol over --remote-debugging-pipe (JSON messages ended by NUL on
    fds 3 and 4): no websocket, no extra package."""

    def __init__(self, browser: str, profile: Path):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # the browser reads commands on its fd 3 and answers on fd 4; in the child our two ends are
        # moved out of the way first (either may already be 3 or 4), then onto 3 and 4
        def onto_3_and_4() -> None:
            import fcntl
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 32)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 32)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
             f"--user-data-dir={profile}", "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=onto_3_and_4, close_fds=False)  # noqa: PLW1509 - the test starts no threads
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self._read(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)
        raise TimeoutError(method)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e.get("method") == method:
                    self.events.remove(e)
                    return e
            self.events.append(self._read(deadline))
        raise TimeoutError(method)

    def _read(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no answer from the browser")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed its DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def evaluate(self, expr: str):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (TimeoutError, RuntimeError, OSError):  # it may be gone already: closed below anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


def test_report_in_a_real_browser(run_dir, tmp_path):
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium found (apt-get install chromium; CI installs it): the page is not "
                    "checked in a browser")
    from product_augment.report import write_report

    write_report(run_dir)
    url = (run_dir / "report" / "index.html").resolve().as_uri()
    dt = DevTools(browser, tmp_path / "profile")
    try:
        target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        dt.session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            dt.send(f"{domain}.enable")
        dt.send("Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 1100, "deviceScaleFactor": 1,
                                                       "mobile": False})
        dt.send("Page.navigate", {"url": url})
        dt.wait_event("Page.loadEventFired")
        # every thumbnail of the sheet (in view) loads and decodes
        assert dt.evaluate("Promise.all([...document.querySelectorAll('#grid img')].map(i => i.decode()"
                           ".then(() => i.naturalWidth > 0, () => false))).then(ok => ok.length === 6 && ok.every(x => x))")
        cards = "document.querySelectorAll('#grid .card').length"
        assert dt.evaluate(cards) == 6
        # each rejected output beside its input photo
        assert dt.evaluate("[...document.querySelectorAll('#rejected .rej')].map(r => r.querySelectorAll("
                           "'img[alt^=input]').length + r.querySelectorAll('.pic').length).join()") == "2,2,2,2"
        select = ("(() => {{ const s = document.getElementById('{0}'); s.value = '{1}'; "
                  "s.dispatchEvent(new Event('change')); }})()")
        dt.evaluate(select.format("f-verdict", "reject"))
        assert dt.evaluate(cards) == 4
        assert dt.evaluate("[...document.querySelectorAll('#grid .card')].every(c => c.dataset.verdict === 'reject')")
        dt.evaluate(select.format("f-verdict", ""))
        dt.evaluate(select.format("f-choice", "background#0 (solid)"))
        solid = dt.evaluate(cards)
        dt.evaluate(select.format("f-choice", "background#1 (gradient)"))
        assert solid + dt.evaluate(cards) == 6 and 0 < solid < 6
        dt.evaluate(select.format("f-choice", ""))
        mask_shown = "getComputedStyle(document.querySelector('#grid .ov.m')).display"
        assert dt.evaluate(mask_shown) == "none"
        dt.evaluate("document.getElementById('t-mask').click(); document.getElementById('t-edge').click()")
        assert dt.evaluate(mask_shown) == "block"
        # the overlay sprite (tint | edge) loads at twice the thumbnail's width
        assert dt.evaluate("(() => { const d = document.querySelector('#grid .ov.m'); const i = new Image(); "
                           "i.src = getComputedStyle(d).backgroundImage.slice(5, -2); return i.decode().then("
                           "() => i.naturalWidth === 2 * parseInt(d.style.width)); })()")
        time.sleep(0.3)
        errors = [e for e in dt.events if e.get("method") == "Runtime.exceptionThrown"
                  or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
                  or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
        assert errors == []
        # the header names this test's temporary folders: a fixed line keeps the picture the same
        # from run to run (docs/img/report.png changes only when the page does)
        dt.evaluate("document.querySelector('.meta').textContent = '6 outputs, 0 failed · preset "
                    "tests/test_report.py · input 3 synthetic photos'; document.activeElement.blur()")
        shot = dt.send("Page.captureScreenshot", {"format": "png"})["data"]
        png = base64.b64decode(shot)
        new = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        assert new.shape == (1100, 1200, 3) and new.std() > 10  # a page, not a blank
        out = REPO / "docs" / "img" / "report.png"
        # saved when the page looks different (a few focus-ring pixels vary from run to run)
        old = np.asarray(Image.open(out).convert("RGB")) if out.exists() else None
        if old is None or old.shape != new.shape or (np.abs(old.astype(int) - new).sum(2) > 0).mean() > 1e-3:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(png)
    finally:
        dt.close()
