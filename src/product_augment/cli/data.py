"""`augment data`: fetch asset sources, render the cutout bank, build COCO scene sets."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

# Library modules are imported inside the commands so `augment --help` stays instant.

_cache_opt = click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
                          help="Download/unpack folder (default: ~/.cache/product-augment).")
_bank_opt = click.option("--bank", "bank_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                         help="Cutout bank folder (default: data/bank).")
_sets_opt = click.option("--out", "sets_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                         help="Scene sets folder (default: data/sets).")
_seed_opt = click.option("--seed", type=int, default=0, show_default=True)


def _defaults(cache, bank_dir, sets_dir):
    from ..data import build, sources

    return (Path(cache) if cache else sources.DEFAULT_CACHE, Path(bank_dir) if bank_dir else build.DEFAULT_BANK,
            Path(sets_dir) if sets_dir else build.DEFAULT_SETS)


@click.group()
def data() -> None:
    """Build the cutout bank and the synthetic scene data sets."""


@data.command()
@_cache_opt
def fetch(cache: Path | None) -> None:
    """Download and unpack the asset packages (apt-get download, npm pack)."""
    from ..data import mapping, sources

    cache, _, _ = _defaults(cache, None, None)
    try:
        where = sources.fetch_all(cache)
    except sources.SourceError as e:
        raise click.ClickException(str(e)) from e
    for name, path in where.items():
        click.echo(f"{name:>7}: {path}")
    entries = sources.load_catalog(cache)
    used = [e for e in entries if mapping.sh3d_class(e.name, e.category, e.id) is not None]
    click.echo(f"furniture catalogue: {len(entries)} models, {len(used)} mapped to product classes")


@data.command()
@_cache_opt
@_bank_opt
@click.option("--views", type=int, default=32, show_default=True, help="Rendered viewpoints per 3D model.")
@click.option("--size", type=int, default=448, show_default=True, help="Render size in pixels.")
@click.option("--limit", type=int, default=None, help="Only the first N mapped models (for trials).")
@click.option("--no-emoji", is_flag=True, help="Skip the emoji sources.")
@_seed_opt
def bank(cache, bank_dir, views: int, size: int, limit: int | None, no_emoji: bool, seed: int) -> None:
    """Render the 3D models into RGBA cutouts and add the emoji; resumable."""
    from ..data import bank as bank_lib
    from ..data import mapping, sources

    cache, bank_dir, _ = _defaults(cache, bank_dir, None)
    where = sources.fetch_all(cache)
    entries = [e for e in sources.load_catalog(cache) if mapping.sh3d_class(e.name, e.category, e.id) is not None]
    if limit is not None:
        entries = entries[:limit]
    t0 = time.time()
    cutouts = bank_lib.build_bank(bank_dir, entries, views, None if no_emoji else where["fluent"],
                                  None if no_emoji else where["noto"], size=size, seed=seed,
                                  progress=lambda m: click.echo(m))
    click.echo(bank_lib.format_report(bank_lib.count_report(cutouts, bank_lib.bank_splits(bank_dir, cutouts))))
    click.echo(f"bank: {bank_dir} ({len(cutouts)} cutouts, {time.time() - t0:.0f} s)")


@data.command()
@_bank_opt
@_sets_opt
@click.option("--plan", type=click.Choice(["quick", "full"]), default="full", show_default=True,
              help="Image counts per style and split (see data/build.py PLANS).")
@click.option("--style", type=click.Choice(["catalog", "wild", "both"]), default="both", show_default=True)
@click.option("--size", type=int, default=512, show_default=True)
@click.option("--textures", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Texture photos for backgrounds (default: repo textures/; procedural noise if empty).")
@click.option("--train", "n_train", type=int, default=None, help="Override the plan's train image count.")
@click.option("--val", "n_val", type=int, default=None, help="Override the plan's val image count.")
@click.option("--test", "n_test", type=int, default=None, help="Override the plan's test image count.")
@click.option("--sheets/--no-sheets", default=True, help="Write docs/img/data_{catalog,wild}.png contact sheets.")
@click.option("--ready", is_flag=True, help="Write data/READY listing the sets when done.")
@_seed_opt
def scenes(bank_dir, sets_dir, plan: str, style: str, size: int, textures, n_train, n_val, n_test, sheets: bool,
           ready: bool, seed: int) -> None:
    """Compose cutouts into COCO scene sets (split by source object); resumable."""
    from ..data import bank as bank_lib
    from ..data import build, preview

    _, bank_dir, sets_dir = _defaults(None, bank_dir, sets_dir)
    if not (bank_dir / "bank.jsonl").exists():
        raise click.ClickException(f"no bank at {bank_dir}: run `augment data bank` first")
    cutouts = bank_lib.load_bank(bank_dir)
    overrides = {"train": n_train, "val": n_val, "test": n_test}
    chosen = {k: {s: (overrides[s] if overrides[s] is not None else n) for s, n in v.items()}
              for k, v in build.PLANS[plan].items() if style in ("both", k)}
    summary = build.build_scene_sets(bank_dir, cutouts, sets_dir, chosen, seed=seed, size=size,
                                     textures_dir=textures or build.DEFAULT_TEXTURES,
                                     progress=lambda m: click.echo(m))
    click.echo(build.format_scene_summary(summary))
    (sets_dir / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    if sheets:
        for st in chosen:
            split = next((s for s in ("train", "val", "test") if f"{st}/{s}" in summary), None)
            if split:
                path = preview.contact_sheet(sets_dir / st / split, build.REPO_ROOT / "docs/img" / f"data_{st}.png",
                                             count=16, tile=256)
                click.echo(f"contact sheet: {path}")
    if ready:
        note = (f"COCO instance-segmentation sets ({plan} plan), {size}x{size} JPEG, categories 1..21 from "
                "product_augment.classes. Each annotations.json's file_name is relative to its own folder "
                "(images/...). Splits are disjoint by source object. Built by `augment data scenes`; see docs/DATA.md.")
        click.echo(f"ready marker: {build.write_ready(sets_dir.parent, summary, note)}")


@data.command("build")
@_cache_opt
@_bank_opt
@_sets_opt
@click.option("--views", type=int, default=32, show_default=True)
@click.option("--plan", type=click.Choice(["quick", "full"]), default="full", show_default=True)
@_seed_opt
@click.pass_context
def build_all(ctx, cache, bank_dir, sets_dir, views: int, plan: str, seed: int) -> None:
    """fetch + bank + scenes (both styles) in one go."""
    ctx.invoke(fetch, cache=cache)
    ctx.invoke(bank, cache=cache, bank_dir=bank_dir, views=views, size=448, limit=None, no_emoji=False, seed=seed)
    ctx.invoke(scenes, bank_dir=bank_dir, sets_dir=sets_dir, plan=plan, style="both", size=512, textures=None,
               n_train=None, n_val=None, n_test=None, sheets=True, ready=True, seed=seed)


@data.command("shadow-pairs")
@_cache_opt
@_bank_opt
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: data/shadow_pairs).")
@click.option("--method", type=click.Choice(["fast", "render"]), default="fast", show_default=True,
              help="fast: the bank's views, every light computed by projecting the mesh onto the ground "
                   "(~0.5 s a view for 3 lights); render: pyrender shadow maps (~9 s a pair).")
@click.option("--lights", type=int, default=3, show_default=True, help="fast: lights (pairs) per bank view.")
@click.option("--limit", type=int, default=None, help="fast: only the first N bank views (for trials).")
@click.option("--redo-ao", "redo_ao", default="", show_default=True,
              help="fast: comma-separated splits whose ambient occlusion is recomputed (pairs built "
                   "before the near-field occlusion), e.g. train,val,test.")
@click.option("--count", type=int, default=500, show_default=True, help="render: number of pairs.")
@click.option("--size", type=int, default=384, show_default=True, help="render: image size.")
@_seed_opt
def shadow_pairs(cache, bank_dir, out_dir, method: str, lights: int, limit: int | None, redo_ao: str,
                 count: int, size: int, seed: int) -> None:
    """Object RGBA + floor-shadow matte pairs for the learned shadow; resumable."""
    from ..data import build, mapping, sources

    cache, bank_dir, _ = _defaults(cache, bank_dir, None)
    out_dir = out_dir or build.DEFAULT_DATA / "shadow_pairs"
    entries = [e for e in sources.load_catalog(cache) if mapping.sh3d_class(e.name, e.category, e.id) is not None]
    t0 = time.time()
    if method == "render":
        from ..data.shadow_pairs import build_shadow_pairs

        n = build_shadow_pairs(entries, out_dir, count, size=size, seed=seed,
                               progress=lambda m: click.echo(m) if m.startswith("pair") and "00/" in m else None)
        click.echo(f"{n} pairs in {out_dir} ({time.time() - t0:.0f} s)")
        return
    from ..data.shadow_pairs import build_fast_shadow_pairs, pack_pairs, recompute_ambient_occlusion

    if not (bank_dir / "bank.jsonl").exists():
        raise click.ClickException(f"no bank at {bank_dir}: run `augment data bank` first")
    stats = build_fast_shadow_pairs(bank_dir, entries, out_dir, lights_per_view=lights, seed=seed, limit=limit,
                                    progress=lambda m: click.echo(m, err=True))
    splits = tuple(s for s in redo_ao.split(",") if s)
    if splits:
        stats["redone_ao_views"] = recompute_ambient_occlusion(bank_dir, entries, out_dir, splits, seed=seed,
                                                               progress=lambda m: click.echo(m, err=True))
    for split in ("train", "val", "test"):
        click.echo(f"packed {pack_pairs(out_dir, split)}")
    stats_path = out_dir / "stats.json"
    runs = json.loads(stats_path.read_text()) if stats_path.exists() else []
    runs = runs if isinstance(runs, list) else [runs]
    stats_path.write_text(json.dumps([*runs, {**stats, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}], indent=1))
    click.echo(f"{stats['pairs']} pairs in {out_dir}: {stats['new_views']} views computed now in "
               f"{stats['seconds']:.0f} s ({stats['pairs_per_s']} pairs/s), {stats['skipped_views']} skipped")


@data.command()
@_cache_opt
@click.option("--out", "photobank_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Photo bank folder (default: data/photobank).")
def photobank(cache, photobank_dir) -> None:
    """Cut-outs of photographed objects (Tux Paint stamps, GPL-2, training use only) → data/photobank."""
    from ..data import build
    from ..data import photobank as pb

    cache, _, _ = _defaults(cache, None, None)
    out = photobank_dir or build.DEFAULT_DATA / "photobank"
    cutouts = pb.build_photobank(cache, out)
    splits = pb.load_splits(out)
    counts: dict[tuple[str, str], int] = {}
    for c in cutouts:
        key = (c.class_name, splits[c.split_key])
        counts[key] = counts.get(key, 0) + 1
    for (cls, split), n in sorted(counts.items()):
        click.echo(f"{cls:>10} {split:>5}: {n}")
    click.echo(f"photo bank: {out} ({len(cutouts)} photographed objects)")


@data.command()
@_bank_opt
@click.option("--photobank", "photobank_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Photo bank folder (default: data/photobank).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: data/sets/shop/<split>).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), required=True)
@click.option("--count", type=int, required=True)
@click.option("--render-share", type=click.FloatRange(0, 1), default=None,
              help="Share of products drawn from the 3D-render bank (default: 0.4 for train, 0 for val/test: "
                   "the real-photo sets show photographed objects only).")
@click.option("--props", "prop_p", type=click.FloatRange(0, 1), default=0.25, show_default=True,
              help="Probability of 1–2 props at the frame's edge.")
@click.option("--masks/--no-masks", default=None, help="Also write masks/<stem>.png of the product "
              "(default: on for val/test).")
@_seed_opt
def shop(bank_dir, photobank_dir, out_dir, split: str, count: int, render_share, prop_p: float, masks, seed: int) -> None:
    """Shop-style photos of one product (white, sweep, plinth, colour, lifestyle) as COCO + masks; resumable."""
    from ..data import backdrops as bg
    from ..data import bank as bank_lib
    from ..data import build
    from ..data import photobank as pb
    from ..data import shop as shop_lib

    _, bank_dir, sets_dir = _defaults(None, bank_dir, None)
    pdir = photobank_dir or build.DEFAULT_DATA / "photobank"
    if not (pdir / "bank.jsonl").exists():
        raise click.ClickException(f"no photo bank at {pdir}: run `augment data photobank` first")
    share = (0.4 if split == "train" else 0.0) if render_share is None else render_share
    psplits = pb.load_splits(pdir)
    sources, weights = [], []
    photos = tuple(c for c in bank_lib.load_bank(pdir) if psplits[c.split_key] == split)
    if share < 1:
        sources.append(shop_lib.Source(pdir, photos, max_upscale=1.6))
        weights.append(1 - share)
    if share > 0:
        if not (bank_dir / "bank.jsonl").exists():
            raise click.ClickException(f"no bank at {bank_dir}: run `augment data bank` first (or --render-share 0)")
        cut = bank_lib.load_bank(bank_dir)
        bsplits = bank_lib.bank_splits(bank_dir, cut)
        sources.append(shop_lib.Source(bank_dir, tuple(c for c in cut if bsplits[c.split_key] == split)))
        weights.append(share)
    out = out_dir or sets_dir / "shop" / split
    t0 = time.time()
    coco = shop_lib.build_shop_split(sources, weights, out, split, count, seed=seed,
                                     textures=bg.list_textures(build.DEFAULT_TEXTURES),
                                     backdrops=bg.list_textures(build.REPO_ROOT / "backgrounds"), prop_p=prop_p,
                                     masks=split != "train" if masks is None else masks)
    click.echo(f"shop/{split}: {len(coco['images'])} images, {len(coco['annotations'])} instances in {out} "
               f"({time.time() - t0:.0f} s)")
