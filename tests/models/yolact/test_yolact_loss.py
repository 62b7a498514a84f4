import torch

from product_augment.models.yolact.data import CocoSegDataset, collate
from product_augment.models.yolact.loss import match, yolact_loss
from product_augment.models.yolact.model import Yolact


def test_match_forces_best_anchor():
    anchors = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]])
    gt = torch.tensor([[0.0, 0.0, 0.3, 0.3]])  # IoU < 0.5 with both, but must get one positive
    gt_idx, state = match(anchors, gt, 0.5, 0.4)
    assert state.tolist() == [0, 1] and gt_idx[1] == 0


def test_loss_decreases_on_tiny_set(synthetic_set, small_cfg):
    torch.manual_seed(0)
    ds = CocoSegDataset(synthetic_set, small_cfg.input_size, augment=False)
    images, targets = collate([ds[i] for i in range(4)])
    model = Yolact(small_cfg).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], 2e-3)
    first = None
    for _ in range(8):
        losses = yolact_loss(model(images), targets, small_cfg.num_classes, small_cfg.box_variances)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        first = first if first is not None else {k: v.item() for k, v in losses.items()}
    assert losses["total"].item() < 0.7 * first["total"]
    assert losses["mask"].item() < first["mask"]
