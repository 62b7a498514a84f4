import pytest

from product_augment.models.yolact.spec import YolactConfig


@pytest.fixture(scope="session")
def synthetic_set(tmp_path_factory):
    from product_augment.models.yolact.synthetic import make_synthetic_coco

    return make_synthetic_coco(tmp_path_factory.mktemp("syn"), 8, seed=0, size=(72, 96))


@pytest.fixture
def small_cfg() -> YolactConfig:
    return YolactConfig(input_size=96, num_prototypes=8, fpn_channels=32, proto_channels=32, head_channels=32)
