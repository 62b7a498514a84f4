import torch

from product_augment.bench.unet import (
    UNetBenchConfig,
    evaluate_unet,
    format_table,
    load_coco_set,
    run_unet_bench,
    train_unet,
)
from product_augment.models.unet.model import UNet
from product_augment.runner import RunOptions, run


def test_unet_shapes():
    assert UNet()(torch.zeros(2, 3, 64, 48)).shape == (2, 64, 48)


def test_bench_end_to_end_on_runner_output(tmp_path, input_dir, classical_preset, capsys):
    out = tmp_path / "coco"
    run(classical_preset, RunOptions(input_dir=input_dir, output_dir=out, variants=2, seed=7))
    x, y = load_coco_set(out, 32)
    assert x.shape == (8, 32, 32, 3) and y.shape == (8, 32, 32) and 0.05 < y.mean() < 0.6
    cfg = UNetBenchConfig(size=32, steps=60, batch=8, lr=5e-3, threads=1)
    model = train_unet(x, y, cfg)
    m = evaluate_unet(model, x, y)
    assert m["n"] == 8 and m["miou"] > 0.6  # a disc on a plain background is learnable in 60 steps
    capsys.readouterr()
    res = run_unet_bench(out, out, {"same": out}, UNetBenchConfig(size=32, steps=2, batch=4))
    assert capsys.readouterr().out == ""  # the library logs only through `log`, never print
    assert res["train_images"] == {"base": 8, "base+augmented": 16}
    assert format_table(res).splitlines()[0] == "| training data | images | mIoU same |"
