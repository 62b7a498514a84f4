"""`augment`: a thin command line over the library."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from .. import __version__
from ..formats import ANNOTATION_FORMATS

# Subcommand groups that live in their own modules, imported only when used (keeps --help fast).
LAZY_GROUPS = {
    "data": ("product_augment.cli.data", "data", "Build the cutout bank and scene data sets."),
    "train": ("product_augment.cli.train", "train", "Train the project's models."),
    "eval": ("product_augment.cli.evaluate", "evaluate", "Evaluate trained models."),
    "export": ("product_augment.cli.export", "export", "Export a run's dataset (coco, yolo) or a model (onnx, segmenter)."),
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
    if p.is_file() or p.parent != Path("."):
        return p
    from ..resources import asset_dir

    name = p.name if p.suffix in (".yaml", ".yml") else p.name + ".yaml"
    for root in dict.fromkeys((shipped_configs_dir(), asset_dir("configs"))):  # ./configs first, then shipped
        cand = root / name
        if cand.is_file():
            return cand
    return p


def is_packaged(path: Path) -> bool:
    """Whether a preset file is the installed package's own copy (inside site-packages)."""
    from ..resources import _PACKAGE

    try:
        path.resolve().relative_to(_PACKAGE)
    except ValueError:
        return False
    return True


def _load_or_exit(path: Path, overrides: dict | None = None):
    from ..api import load_preset  # the public API's loader (files; shipped names)
    from ..presets.errors import PresetError
    try:
        return load_preset(path, overrides)
    except PresetError as e:
        click.echo(str(e), err=True)
        sys.exit(2)


@main.command()
@click.option("--config", "config", required=True, type=click.Path(path_type=Path),
              callback=lambda _ctx, _param, value: preset_path(value),
              help="Preset YAML file, or a shipped preset's name (see `augment presets`).")
@click.option("--input", "input_dir", help="Input folder, image or fsspec URL such as s3://bucket/photos "
              "(default: the preset's input.dir).")
@click.option("--output", "output_dir", help="Output folder or fsspec URL (default: the preset's output.dir).")
@click.option("--variants", type=click.IntRange(1, 10_000), help="Variants per input image.")
@click.option("--seed", type=int, help="Seed (default: the preset's).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: what fits the job: one per 48 jobs (inputs × variants), "
                   "at most the cores; one worker for a dozen images); with --executor ray and no "
                   "--ray-address, the CPUs of the local Ray instance (default: all cores).")
@click.option("--limit", type=click.IntRange(1), help="Process only the first N inputs.")
@click.option("--format", "formats", default=None,
              help="Annotation formats, comma-separated: coco,yolo (default: the preset's).")
@click.option("--dry-run", is_flag=True, help="Print the resolved pipeline and inputs, write nothing.")
@click.option("--overwrite", is_flag=True, help="Delete earlier outputs in --output first.")
@click.option("--mode", type=click.Choice(["resume", "incremental"]), default="resume", show_default=True,
              help="resume: finish what is not done yet; incremental: only inputs new or changed (by content "
                   "hash) since the last run, and no retry of inputs that failed unchanged. Neither removes "
                   "earlier outputs it does not plan (another batch, an input gone, a lower --balance "
                   "target): the dataset keeps them (see --prune).")
@click.option("--prune", is_flag=True, help="Remove the outputs of earlier runs that this run does not plan "
              "(inputs gone from --input, variants above a lower --balance target), with a count; "
              "not with --limit.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a process pool here; ray: a Ray cluster (pip install 'product-augment[ray]').")
@click.option("--ray-address", default=None, help="Ray cluster to join (auto: the one this machine is in); "
              "default: a local Ray instance with --workers CPUs.")
@click.option("--shard-size", type=click.IntRange(1), default=16, show_default=True,
              help="Jobs per shard (one manifest part, one batched model call).")
@click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Retries of a job (or shard) after a transient failure.")
@click.option("--balance", "balance_spec", default=None, metavar="target=N[,min=M,max=K,CLASS=N]",
              help="Class-balanced expansion: variants per input so that each class reaches N images.")
@click.option("--max-failures", type=click.IntRange(0), default=0, show_default=True,
              help="Exit 0 when at most this many inputs failed (1 above it).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: only on a terminal).")
def run(config, input_dir, output_dir, variants, seed, workers, limit, formats, dry_run, overwrite, mode,
        prune, executor, ray_address, shard_size, retries, balance_spec, max_failures, progress):
    """Run a preset over a folder of product photos."""
    from ..executors import default_workers
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
        bad = [f for f in fmts if f not in ANNOTATION_FORMATS]
        if bad or not fmts:
            raise click.BadParameter(f"{', '.join(bad) or 'nothing'}: formats are {', '.join(ANNOTATION_FORMATS)}",
                                     param_hint="--format")
        overrides["output.annotations"] = fmts
    preset = _load_or_exit(config, overrides)  # the one load: CLI options folded in
    m = preset.model
    if is_packaged(preset.path) and (input_dir is None or output_dir is None):
        # a shipped preset's own folders are relative to it, i.e. inside the installed package
        raise click.UsageError("a shipped preset run from an installed package needs --input and --output")
    input_dir = input_dir or preset.resolve(m.input.dir)
    output_dir = output_dir or preset.resolve(m.output.dir)
    if input_dir is None:
        raise click.UsageError("no input: pass --input or set input.dir in the preset")
    if output_dir is None:
        raise click.UsageError("no output: pass --output or set output.dir in the preset")
    balance = None
    if balance_spec is not None:
        from ..balance import parse_balance
        try:
            balance = parse_balance(balance_spec)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--balance") from None
    opts = RunOptions(input_dir=_location(input_dir), output_dir=_location(output_dir),
                      workers=workers, limit=limit, overwrite=overwrite, mode=mode,
                      executor=executor, ray_address=ray_address, shard_size=shard_size, retries=retries,
                      balance=balance, prune=prune)
    if dry_run:
        click.echo(f"preset   {preset.path}  (sha256 {preset.sha256[:12]})")
        click.echo(f"seed {m.seed}, variants {m.variants}, output {output_dir} "
                   f"[{m.output.format}; {', '.join(m.output.annotations)}]")
        for i, (name, cfg) in enumerate(preset.step_configs):
            click.echo(f"steps[{i}] {name}: {_describe(cfg)}")
        try:
            planned = plan_run(preset, opts)  # the run's own planner: --limit and --balance applied
        except (RunError, ImportError, TimeoutError) as e:
            click.echo(f"input    {input_dir}: {e}")
            return
        limited = f" (--limit {limit})" if limit is not None else ""
        n_workers = workers or default_workers(len(planned.inputs) * m.variants)
        click.echo(f"input    {input_dir}: {len(planned.inputs)} images{limited}, "
                   f"{len(planned.unsupported)} unsupported files → {len(planned.jobs)} outputs "
                   f"({n_workers} worker{'s' if n_workers != 1 else ''})")
        if planned.classes_before is not None:
            click.echo("class        inputs  outputs")
            for name in sorted(set(planned.classes_before) | set(planned.classes_after or {})):
                click.echo(f"{name:<12} {planned.classes_before.get(name, 0):>6}  "
                           f"{(planned.classes_after or {}).get(name, 0):>7}")
        return
    from tqdm import tqdm

    # on a terminal: a bar with the planned count, percentage and ETA; off a terminal: nothing
    bar = tqdm(unit="img", desc="augment", dynamic_ncols=True, disable=None if progress is None else not progress)
    failed = 0

    def start(total: int) -> None:  # the plan is complete (shards may have finished already)
        bar.total = total
        bar.refresh()

    def on_entry(entry):
        nonlocal failed
        failed += entry["status"] != "ok"
        bar.update(1)
        bar.set_postfix(failed=failed)

    try:
        summary = run_batch(preset, opts, on_entry, on_start=start)
    except (RunError, ImportError, TimeoutError) as e:
        bar.close()
        raise click.ClickException(str(e)) from None
    bar.close()
    rate = summary.done / summary.seconds if summary.seconds else 0.0
    extra = f", {summary.known_failed} failed before (unchanged)" if summary.known_failed else ""
    extra += f", {summary.replaced} replaced" if summary.replaced else ""
    extra += f", {summary.removed} pruned (not planned)" if prune else ""
    click.echo(f"{summary.done} written, {summary.resumed} already done, {len(summary.failed)} failed{extra} "
               f"of {summary.total} in {summary.seconds:.1f} s ({rate:.2f} img/s) → {output_dir}")
    if summary.hidden:
        shown = ", ".join(map(repr, summary.hidden[:5])) + (", ..." if len(summary.hidden) > 5 else "")
        click.echo(f"{len(summary.hidden)} hidden skipped (names starting with '.'): {shown}")
    if summary.qa:
        parts = []
        for v in ("keep", "flag", "reject"):
            n = summary.qa.get(v, 0)
            why = summary.qa_reasons.get(v, {})
            detail = f" ({', '.join(f'{k} {c}' for k, c in sorted(why.items(), key=lambda kv: -kv[1]))})" if why else ""
            parts.append(f"{n} { {'keep': 'kept', 'flag': 'flagged', 'reject': 'rejected'}[v]}{detail}")
        click.echo(f"quality gate: {', '.join(parts)}")
    if summary.executor != "local":
        click.echo(f"executor {summary.executor}: start-up {summary.startup_seconds:.1f} s")
    if summary.classes_before is not None:
        click.echo("class        inputs  outputs")
        for name in sorted(set(summary.classes_before) | set(summary.classes_after or {})):
            click.echo(f"{name:<12} {summary.classes_before.get(name, 0):>6}  "
                       f"{(summary.classes_after or {}).get(name, 0):>7}")
    for item, reason in summary.failed:
        click.echo(f"FAILED {item}: {reason}", err=True)
    if len(summary.failed) > max_failures:
        sys.exit(1)


def _location(value: str | Path) -> Path | str:
    """A folder or file path, or an fsspec URL (kept as text: a Path would fold its //)."""
    value = str(value)
    return value if "://" in value else Path(value)


@main.command("report")
@click.argument("run_dir")
@click.option("--input", "input_dir", default=None,
              help="Where the input photos are (default: the input run.json names), for the rejected ones.")
@click.option("--page-size", type=click.IntRange(10, 2000), default=120, show_default=True,
              help="Outputs per page of the contact sheet.")
@click.option("--rebuild", is_flag=True, help="Make every thumbnail again (they are a cache).")
def report(run_dir, input_dir, page_size, rebuild):
    """Write RUN_DIR/report/index.html: a static page (no server, no network) with the outputs,
    their masks and edges, the quality gate's verdicts, per-class counts, step times and the preset."""
    from ..report import ReportError, write_report

    try:
        r = write_report(_location(run_dir), _location(input_dir) if input_dir else None, page_size,
                         rebuild=rebuild)
    except ReportError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{r.outputs} outputs, {r.thumbs_made} new thumbnails, {r.bytes / 1e6:.1f} MB, "
               f"{r.seconds:.1f} s → {r.path}")


def _describe(cfg) -> str:
    from ..steps.choice import Choice
    if isinstance(cfg, Choice):
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
@click.argument("preset", nargs=-1, required=True, type=click.Path(path_type=Path),
                callback=lambda _ctx, _param, values: tuple(preset_path(v) for v in values))
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
