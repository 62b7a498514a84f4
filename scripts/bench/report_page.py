"""How fast `augment report`'s page opens in headless Chromium, for a run of N outputs.

    python scripts/bench/report_page.py RUN_DIR [--copies K]

With --copies K the run folder's manifest is repeated K times under new output names in a scratch
folder (same pictures, so the thumbnails are shared) to make a large run cheaply; the report is
written there and the page opened: seconds to the load event, to the first page of thumbnails
drawn, and for a filter change and a page turn. Uses the DevTools pipe driver of tests/test_report.py.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--copies", default=1, show_default=True)
def main(run_dir: Path, copies: int) -> None:
    from tests.test_report import DevTools, find_browser

    from product_augment.report import write_report

    browser = find_browser()
    if browser is None:
        raise click.ClickException("no Chromium found")
    scratch = Path(tempfile.mkdtemp(prefix="report-page-"))
    try:
        work = run_dir
        if copies > 1:
            work = scratch / "run"
            (work / "parts").mkdir(parents=True)
            for name in ("images", "masks", "rejected"):
                if (run_dir / name).exists():
                    (work / name).symlink_to((run_dir / name).resolve())
            if (run_dir / "report").exists():
                shutil.copytree(run_dir / "report" / "thumbs", work / "report" / "thumbs")
            from product_augment.export import read_latest
            from product_augment.storage import Store
            latest = read_latest(Store(run_dir))
            lines = []
            for k in range(copies):
                for e in latest.values():
                    lines.append(json.dumps({**e, "id": f"c{k:03d}/{e['id']}"}))
            (work / "parts" / "r00001-copies.jsonl").write_text("\n".join(lines) + "\n")
            if (run_dir / "run.json").exists():
                shutil.copy(run_dir / "run.json", work / "run.json")
        t0 = time.perf_counter()
        r = write_report(work)
        print(f"report of {r.outputs} outputs: {time.perf_counter() - t0:.1f} s, {r.thumbs_made} new thumbnails, "
              f"page {(work / 'report' / 'index.html').stat().st_size / 1e6:.1f} MB")
        dt = DevTools(browser, scratch / "profile")
        try:
            target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            dt.session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            dt.send("Page.enable")
            dt.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1000, "deviceScaleFactor": 1,
                                                           "mobile": False})
            t0 = time.perf_counter()
            dt.send("Page.navigate", {"url": (work / "report" / "index.html").resolve().as_uri()})
            dt.wait_event("Page.loadEventFired", timeout=120)
            loaded = time.perf_counter() - t0
            # the thumbnails in view (the others load lazily, when scrolled to)
            drawn = dt.evaluate("(() => { const v = [...document.querySelectorAll('#grid img')].filter(i => "
                                "i.getBoundingClientRect().top < innerHeight); return Promise.all(v.map(i => "
                                "i.decode().catch(() => 0))).then(() => v.length); })()")
            shown = time.perf_counter() - t0
            t1 = time.perf_counter()
            dt.evaluate("(() => { const s = document.getElementById('f-verdict'); s.value = 'flag'; "
                        "s.dispatchEvent(new Event('change')); return document.querySelectorAll('#grid .card').length; })()")
            filt = time.perf_counter() - t1
            t1 = time.perf_counter()
            dt.evaluate("document.getElementById('next').click()")
            turn = time.perf_counter() - t1
            print(f"page: load event {loaded:.2f} s, the {drawn} thumbnails in view drawn {shown:.2f} s, "
                  f"filter {filt * 1000:.0f} ms, page turn {turn * 1000:.0f} ms")
        finally:
            dt.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
