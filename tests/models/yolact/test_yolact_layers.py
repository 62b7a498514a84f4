import torch
from torch import nn

from product_augment.models.yolact.layers import WSConv2d, conv_factory
from product_augment.models.yolact.spec import YolactConfig


def test_ws_weight_is_standardized_per_filter():
    torch.manual_seed(0)
    conv = WSConv2d(16, 8, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(5).add_(3)  # far from standardized on purpose
    w = conv.standardized_weight()
    assert torch.allclose(w.mean(dim=(1, 2, 3)), torch.zeros(8), atol=1e-5)
    assert torch.allclose(w.std(dim=(1, 2, 3), unbiased=False), torch.ones(8), atol=1e-3)


def test_ws_recomputed_every_forward():
    torch.manual_seed(0)
    conv = WSConv2d(4, 4, 3, padding=1, bias=False)
    x = torch.randn(1, 4, 8, 8)
    y0 = conv(x)
    with torch.no_grad():
        conv.weight.mul_(7).add_(2)  # an affine change per filter is removed by standardization
    assert torch.allclose(conv(x), y0, rtol=1e-2, atol=1e-2)  # equal up to eps
    with torch.no_grad():
        conv.weight[0, 0, 0, 0] += 10
    assert not torch.allclose(conv(x), y0, rtol=1e-2, atol=1e-2)


def test_conv_factory_is_one_switch():
    ws = conv_factory(YolactConfig(conv="ws", norm="gn"))(8, 16)
    plain = conv_factory(YolactConfig(conv="plain", norm="bn"))(8, 16)
    assert isinstance(ws[0], WSConv2d) and isinstance(ws[1], nn.GroupNorm)
    assert type(plain[0]) is nn.Conv2d and isinstance(plain[1], nn.BatchNorm2d)
    assert ws[0].bias is None
    bare = conv_factory(YolactConfig(conv="plain", norm="none"))(8, 16, act=False)
    assert len(bare) == 1 and bare[0].bias is not None
