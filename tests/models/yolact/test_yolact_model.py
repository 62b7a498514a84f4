import torch

from product_augment.models.yolact.loss import crop_to_boxes
from product_augment.models.yolact.model import Yolact


def test_output_shapes(small_cfg):
    model = Yolact(small_cfg).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 96, 96) * 255)
    # 96 px: P3..P7 grids 12, 6, 3, 2, 1 → 194 cells × 3 anchors
    a = (144 + 36 + 9 + 4 + 1) * 3
    assert out["cls"].shape == (2, a, 22)
    assert out["box"].shape == (2, a, 4)
    assert out["coef"].shape == (2, a, 8)
    assert out["coef"].abs().max() <= 1
    assert out["protos"].shape == (2, 24, 24, 8)
    assert out["anchors"].shape == (a, 4)
    dets = model.detect(out, score_threshold=0.0, max_dets=5)
    assert len(dets) == 2 and dets[0].boxes.shape[1] == 4 and dets[0].classes.min() >= 1


def test_training_outputs_semantic(small_cfg):
    out = Yolact(small_cfg).train()(torch.rand(1, 3, 96, 96) * 255)
    assert out["seg"].shape == (1, 21, 12, 12)


def test_crop_to_boxes():
    m = torch.ones(1, 10, 10)
    c = crop_to_boxes(m, torch.tensor([[2.0, 3.0, 6.0, 8.0]]))
    assert c.sum() == 4 * 5 and c[0, 3, 2] == 1 and c[0, 2, 2] == 0
    soft = crop_to_boxes(m, torch.tensor([[2.0, 3.0, 6.0, 8.0]]), soft_px=1.0)
    assert torch.allclose(soft, c)  # pixel centres lie 0.5 px inside → full weight at 1 px ramp
