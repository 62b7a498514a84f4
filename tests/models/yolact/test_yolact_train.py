import json

from click.testing import CliRunner

from product_augment.cli.evaluate import evaluate
from product_augment.models.yolact.train import DataSection, ModelSection, TrainConfig, TrainSection, train


def _cfg(data, out, iterations):
    return TrainConfig(
        model=ModelSection(input_size=64, num_prototypes=4, fpn_channels=16, proto_channels=16, head_channels=16),
        data=DataSection(train=[str(data)], val=str(data), val_limit=2),
        train=TrainSection(batch_size=2, iterations=iterations, warmup_iters=1, eval_every_iters=100,
                           log_every_iters=1, threads=1, backbone_weights=None),
        out_dir=str(out))


def test_train_resume_and_eval_cli(tmp_path, synthetic_set):
    out = tmp_path / "run"
    train(_cfg(synthetic_set, out, 2), progress=False)
    state = json.loads((out / "last.json").read_text())["train_state"]
    assert state["iteration"] == 2
    train(_cfg(synthetic_set, out, 3), resume=True, progress=False)
    assert json.loads((out / "last.json").read_text())["train_state"]["iteration"] == 3
    assert "resumed from" in (out / "train.log").read_text()
    res = CliRunner().invoke(evaluate, ["segmenter", "--weights", str(out / "last.safetensors"),
                                        "--data", str(synthetic_set), "--limit", "2",
                                        "--out", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    assert "top_product_mean_iou" in json.loads((tmp_path / "m.json").read_text())


def test_fine_tune_starts_from_init_weights(tmp_path, synthetic_set):
    import pytest
    from safetensors.torch import load_file

    first = train(_cfg(synthetic_set, tmp_path / "a", 2), progress=False)
    cfg = _cfg(synthetic_set, tmp_path / "b", 1)
    cfg.train.init_weights = str(first)
    cfg.train.lr = 0.0  # no update: the fine-tuned model must equal its start point exactly
    second = train(cfg, progress=False)
    a, b = load_file(str(first)), load_file(str(second))
    model_keys = [k for k in a if k.startswith("model.")]
    assert model_keys and all((a[k] == b[k]).all() for k in model_keys)
    assert json.loads((tmp_path / "b" / "last.json").read_text())["train_state"]["iteration"] == 1
    assert "fine-tuning from" in (tmp_path / "b" / "train.log").read_text()

    bad = _cfg(synthetic_set, tmp_path / "c", 1)
    bad.model.num_prototypes = 8
    bad.train.init_weights = str(first)
    with pytest.raises(ValueError, match="architecture differs"):
        train(bad, progress=False)
