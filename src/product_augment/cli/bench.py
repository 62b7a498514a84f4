"""`augment bench`: the U-Net benchmark (base vs augmented data and the control arms)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

DEFAULT_CONFIG = Path("configs/bench/default.yaml")
ARM_HELP = ("base, base-steps, base-long, classical, copy-paste, augmented, augmented+classical; the cause arms "
            "geometry, appearance, bg-<kind>, shadow-<kind>, no-logo; `main` = the config's arms, `causes` = its "
            "cause arms")


@click.group(invoke_without_command=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_CONFIG,
              show_default=True, help="Bench config: base set, augmentation preset, test sets, arms, profiles.")
@click.option("--profile", help="quick (tests, < 1 min), default (2 CPU cores), medium (1,500 images at 128 px, "
                                "hours, in the background), paper (GPU); default: the config's `profile`.")
@click.option("--seeds", type=click.IntRange(1), help="Number of seeds (0..N-1); default: the profile's.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto uses a CUDA GPU when torch sees one.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder (results.json, report.md, curves.png, data/); default runs/bench/unet-<profile>.")
@click.option("--ablate", type=click.Choice(["background", "shadow", "logo"]),
              help="Turn one augmentation family off (drops that step from the preset).")
@click.option("--arms", help=f"Comma-separated arms to run ({ARM_HELP}); default: main.")
@click.option("--workers", type=click.IntRange(1), help="Pipeline workers for the augmented set.")
@click.option("--threads", type=click.IntRange(1), help="Torch CPU threads per training process (default: the "
                                                       "profile's).")
@click.option("--jobs", type=click.IntRange(1), help="Training processes side by side (default: the profile's).")
@click.option("--pad", type=click.Choice(["replicate", "constant"]),
              help="Override the config's resize fill: replicate (edge pixels) or constant (black bars).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="tqdm bars on stderr.")
@click.option("--restart", is_flag=True, help="Start over instead of resuming the results.json in --out.")
@click.pass_context
def bench(ctx, config_path, profile, seeds, device, out, ablate, arms, workers, threads, jobs, pad,
          progress, restart) -> None:
    """The U-Net benchmark: does this tool's augmentation help a segmenter? Trains every arm for
    every seed, evaluates on the test sets, writes results.json, report.md and curves.png. A rerun
    with the same --out resumes: the runs results.json holds are not run again.

    `augment bench unet` is the older two-arm command on ready folders."""
    if ctx.invoked_subcommand is not None:
        return
    from ..bench.profiles import BenchConfigError, load_bench_config
    from ..bench.report import markdown
    from ..bench.run import run_bench

    try:
        cfg = load_bench_config(config_path)
    except BenchConfigError as e:
        raise click.ClickException(str(e)) from None
    if pad:
        cfg.pad = pad
    arm_list = [a.strip() for a in arms.split(",") if a.strip()] if arms else None
    command = "augment " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        res = run_bench(cfg, profile=profile, seeds=seeds, device=device, out_dir=out, ablate=ablate,
                        arms=arm_list, workers=workers, threads=threads, jobs=jobs, log=click.echo, progress=progress,
                        command=command, restart=restart)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise click.ClickException(str(e)) from None
    click.echo("")
    click.echo(markdown(res))
    click.echo(f"({res['seconds']} s; results in {res['out']})")


@bench.command()
@click.option("--base", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True,
              help="Base training set (COCO folder or images/+masks/ folder), e.g. data/sets/catalog/train.")
@click.option("--augmented", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Augmented copies of the base set (an `augment run` output folder).")
@click.option("--test", "tests", multiple=True, required=True, metavar="NAME=DIR",
              help="Test set(s) as name=folder; repeatable.")
@click.option("--size", default=128, show_default=True, help="Training/eval resolution.")
@click.option("--steps", default=1500, show_default=True, help="Optimiser steps per model.")
@click.option("--batch", default=16, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--limit", type=int, help="Use at most N images of the base set.")
@click.option("--widths", default="16,32,64,128", show_default=True, help="U-Net channels per level.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/bench/unet"),
              show_default=True, help="Output folder (results.json, report.md).")
def unet(base, augmented, tests, size, steps, batch, seed, limit, widths, device, out):
    """Two arms on ready folders: base vs base+augmented, same number of steps, one seed."""
    from ..bench.profiles import BenchConfig
    from ..bench.report import markdown
    from ..bench.run import run_bench

    test_specs = []
    for t in tests:
        name, sep, d = t.partition("=")
        if not sep or not Path(d).is_dir():
            raise click.BadParameter(f"{t!r}: expected NAME=DIR with an existing folder", param_hint="--test")
        test_specs.append({"name": name, "path": str(Path(d).resolve())})
    cfg = BenchConfig.model_validate({
        "version": 1, "base": {"path": str(Path(base).resolve())}, "preset": "-", "val": [], "tests": test_specs,
        "arms": ["base", "augmented"] if augmented else ["base"], "profile": "cli",
        "profiles": {"cli": {"size": size, "base_images": limit, "batch": batch, "seeds": 1,
                             "widths": [int(w) for w in widths.split(",")], "lr": 2e-3}}})
    command = "augment " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    res = run_bench(cfg, device=device, out_dir=out, augmented_dir=augmented, steps=steps, first_seed=seed,
                    log=click.echo, command=command, restart=True)
    click.echo(markdown(res))
    click.echo(f"({res['seconds']} s; results in {out})")
