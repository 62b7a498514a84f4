"""`augment train segmenter|refiner`: train the YOLACT product segmenter and its mask refiner."""
from __future__ import annotations

import click


@click.group()
def train() -> None:
    """Train the project's models."""


@train.command()
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Training YAML, e.g. configs/train/yolact.yaml.")
@click.option("--resume", is_flag=True, help="Continue from <out>/last.safetensors if it exists.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder for checkpoints and logs (default: out_dir in the config).")
def segmenter(config_path: str, resume: bool, device: str, out_dir: str | None) -> None:
    """Train YOLACT (WS+GN, EfficientNet-Lite0) on COCO set dirs."""
    from ..models.yolact.train import load_train_config
    from ..models.yolact.train import train as run_training

    try:
        cfg = load_train_config(config_path)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    last = run_training(cfg, resume=resume, device=device, out_dir=out_dir)
    click.echo(f"last checkpoint: {last}")


@train.command()
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Training YAML, e.g. configs/train/refiner.yaml.")
@click.option("--resume", is_flag=True, help="Continue from <out>/last.safetensors if it exists.")
def refiner(config_path: str, resume: bool) -> None:
    """Train the segmenter's mask refiner (full-resolution edges) on COCO set dirs."""
    from ..models.yolact.refiner_train import load_config
    from ..models.yolact.refiner_train import train as run_training

    try:
        cfg = load_config(config_path)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"last checkpoint: {run_training(cfg, resume=resume)}")


@train.command()
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Training YAML, e.g. configs/train/shadow.yaml.")
@click.option("--resume", is_flag=True, help="Continue from <out>/last.safetensors if it exists.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Overrides the config's device.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder for checkpoints (default: out_dir in the config).")
def shadow(config_path: str, resume: bool, device: str | None, out_dir: str | None) -> None:
    """Train the learned shadow network (ShadowNet) on `augment data shadow-pairs` pairs."""
    from ..models.shadow.train import load_config
    from ..models.shadow.train import train as run_training

    try:
        cfg = load_config(config_path)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"last checkpoint: {run_training(cfg, resume=resume, device=device, out_dir=out_dir, log=click.echo)}")


@train.command("export-shadow")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_stem", default="weights/shadow_net", show_default=True,
              help="Writes <stem>.safetensors, <stem>.json and <stem>.onnx.")
@click.option("--metrics", "metrics_json", type=click.Path(exists=True, dir_okay=False), default=None,
              help="`augment eval shadow --out` JSON to record in the sidecar.")
def export_shadow(checkpoint: str, out_stem: str, metrics_json: str | None) -> None:
    """Ship a ShadowNet checkpoint: model-only safetensors, JSON sidecar and the ONNX network."""
    from ..models.shadow.export import export

    for path in export(checkpoint, out_stem, metrics_json):
        click.echo(str(path))


if __name__ == "__main__":
    train()
