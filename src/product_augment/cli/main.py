"""`augment`: a thin command line over the library."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from .. import __version__

# Subcommand groups that live in their own modules, imported only when used (keeps --help fast).
LAZY_GROUPS = {
    "data": ("product_augment.cli.data", "data", "Build the cutout bank and scene data sets."),
    "train": ("product_augment.cli.train", "train", "Train the project's models."),
    "eval": ("product_augment.cli.evaluate", "evaluate", "Evaluate trained models."),
    "bench": ("product_augment.cli.bench", "bench", "Benchmarks: the U-Net base-vs-augmented study."),
}


class AugmentGroup(click.Group):
    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *LAZY_GROUPS])

    def get_command(self, ctx, name):
        if name in LAZY_GROUPS:
            module, attr, _ = LAZY_GROUPS[name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(n, self.commands[n].get_short_help_str(60)) for n in sorted(self.commands)]
        rows += [(n, h) for n, (_, _, h) in LAZY_GROUPS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


@click.group(cls=AugmentGroup)
@click.version_option(__version__, prog_name="augment")
def main() -> None:
    """Turn product photos into new, realistic, fully annotated images."""


def shipped_configs_dir() -> Path:
    """The presets folder: $AUGMENT_CONFIGS, ./configs, or the shipped presets (the package's copy
    when installed from a wheel, the repository's configs/ in an editable install)."""
    from ..resources import asset_dir

    env = os.environ.get("AUGMENT_CONFIGS")
    if env:
        return Path(env)
    if Path("configs").is_dir():
        return Path("configs")
    return asset_dir("configs")


def preset_path(value: Path | str | None) -> Path | None:
    """``--config``: a preset file, or the name of a shipped preset (``catalog-white``) when no such
    file exists."""
    if value is None:
        return None
    p = Path(value)
    if p.exists() or p.parent != Path(".") or p.suffix not in ("", ".yaml", ".yml"):
        return p
    from ..resources import asset_dir

    for root in dict.fromkeys((shipped_configs_dir(), asset_dir("configs"))):  # ./configs first, then shipped
        cand = root / (p.name if p.suffix else p.name + ".yaml")
        if cand.is_file():
            return cand
    return p


def _load_or_exit(path: Path, overrides: dict | None = None):
    from ..presets.errors import PresetError
    from ..presets.loader import load_preset
    try:
        return load_preset(path, overrides)
    except PresetError as e:
        click.echo(str(e), err=True)
        sys.exit(2)


@main.command()
@click.option("--config", "config", required=True, type=click.Path(path_type=Path, dir_okay=False),
              callback=lambda _ctx, _param, value: preset_path(value),
              help="Preset YAML file, or a shipped preset's name (see `augment presets`).")
@click.option("--input", "input_dir", type=click.Path(path_type=Path), help="Input folder or image "
              "(default: the preset's input.dir).")
@click.option("--output", "output_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder (default: the preset's output.dir).")
@click.option("--variants", type=click.IntRange(1, 10_000), help="Variants per input image.")
@click.option("--seed", type=int, help="Seed (default: the preset's).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: all cores).")
@click.option("--limit", type=click.IntRange(1), help="Process only the first N inputs.")
@click.option("--format", "formats", default=None,
              help="Annotation formats, comma-separated: coco,yolo (default: the preset's).")
@click.option("--dry-run", is_flag=True, help="Print the resolved pipeline and inputs, write nothing.")
@click.option("--overwrite", is_flag=True, help="Delete earlier outputs in --output first.")
def run(config, input_dir, output_dir, variants, seed, workers, limit, formats, dry_run, overwrite):
    """Run a preset over a folder of product photos."""
    from ..runner import RunError, RunOptions
    from ..runner import plan as plan_run
    from ..runner import run as run_batch

    overrides = {}
    if variants is not None:
        overrides["variants"] = variants
    if seed is not None:
        overrides["seed"] = seed
    if formats is not None:
        fmts = [f.strip() for f in formats.split(",") if f.strip()]
        bad = [f for f in fmts if f not in ("coco", "yolo")]
        if bad or not fmts:
            raise click.BadParameter(f"{', '.join(bad) or 'nothing'}: formats are coco, yolo",
                                     param_hint="--format")
        overrides["output.annotations"] = fmts
    preset = _load_or_exit(config, overrides)  # the one load: CLI options folded in
    m = preset.model
    input_dir = input_dir or preset.resolve(m.input.dir)
    output_dir = output_dir or preset.resolve(m.output.dir)
    if input_dir is None:
        raise click.UsageError("no input: pass --input or set input.dir in the preset")
    if output_dir is None:
        raise click.UsageError("no output: pass --output or set output.dir in the preset")
    opts = RunOptions(input_dir=Path(input_dir), output_dir=Path(output_dir),
                      workers=workers or os.cpu_count() or 1, limit=limit, overwrite=overwrite)
    if dry_run:
        click.echo(f"preset   {preset.path}  (sha256 {preset.sha256[:12]})")
        click.echo(f"seed {m.seed}, variants {m.variants}, output {output_dir} "
                   f"[{m.output.format}; {', '.join(m.output.annotations)}]")
        for i, (name, cfg) in enumerate(preset.step_configs):
            click.echo(f"steps[{i}] {name}: {_describe(cfg)}")
        try:
            tasks, unsupported = plan_run(preset, opts)
        except RunError as e:
            click.echo(f"input    {input_dir}: {e}")
            return
        limited = f" (--limit {limit})" if limit is not None else ""
        click.echo(f"input    {input_dir}: {len(tasks) // m.variants} images{limited}, "
                   f"{len(unsupported)} unsupported files → {len(tasks)} outputs")
        return
    from tqdm import tqdm

    # on a terminal: a bar with the planned count, percentage and ETA; off a terminal: nothing
    bar = tqdm(unit="img", desc="augment", dynamic_ncols=True, disable=None)
    failed = 0

    def start(total: int) -> None:
        bar.reset(total=total)

    def progress(entry):
        nonlocal failed
        failed += entry["status"] != "ok"
        bar.update(1)
        bar.set_postfix(failed=failed)

    try:
        summary = run_batch(preset, opts, progress, on_start=start)
    except RunError as e:
        bar.close()
        raise click.ClickException(str(e))
    bar.close()
    rate = summary.done / summary.seconds if summary.seconds else 0.0
    click.echo(f"{summary.done} written, {summary.resumed} already done, {len(summary.failed)} failed "
               f"of {summary.total} in {summary.seconds:.1f} s ({rate:.2f} img/s) → {output_dir}")
    for item, reason in summary.failed:
        click.echo(f"FAILED {item}: {reason}", err=True)
    if summary.failed:
        sys.exit(1)


def _describe(cfg) -> str:
    from ..presets.loader import _Choice
    if isinstance(cfg, _Choice):
        w = cfg.weights or [1] * len(cfg.alternatives)
        return "choice of " + " | ".join(f"{_describe(a)} ×{x:g}" for a, x in zip(cfg.alternatives, w))
    d = cfg.model_dump(mode="json", exclude_defaults=False, warnings=False)
    return ", ".join(f"{k}={v}" for k, v in d.items())


@main.command()
def presets():
    """List the shipped presets."""
    import yaml
    root = shipped_configs_dir()
    files = sorted(root.glob("*.yaml"))
    if not files:
        raise click.ClickException(f"no presets found in {root}")
    width = max(len(f.stem) for f in files)
    for f in files:
        try:
            desc = (yaml.safe_load(f.read_text()) or {}).get("description", "")
        except yaml.YAMLError:
            desc = "(invalid YAML)"
        click.echo(f"{f.stem:<{width}}  {str(desc).strip().splitlines()[0] if desc else ''}")


@main.command()
@click.argument("preset", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
def validate(preset):
    """Check presets without reading any image."""
    from ..presets.errors import PresetError
    from ..presets.loader import load_preset
    bad = 0
    for p in preset:
        try:
            pr = load_preset(p)
            click.echo(f"ok {p}: {len(pr.step_configs)} steps ({', '.join(n for n, _ in pr.step_configs)})")
        except PresetError as e:
            bad += 1
            click.echo(str(e), err=True)
    if bad:
        sys.exit(2)


if __name__ == "__main__":
    main()
