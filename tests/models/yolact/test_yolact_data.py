import numpy as np

from product_augment.models.yolact.data import CocoSegDataset, Letterbox, augment, boxes_from_masks
from product_augment.sample import mask_box


def test_dataset_items(synthetic_set):
    ds = CocoSegDataset(synthetic_set, 64, augment=True)
    img, t = ds[0]
    assert img.shape == (3, 64, 64) and img.max() <= 255
    assert t.masks.shape[1:] == (64, 64) and t.labels.min() >= 1
    assert len(t.boxes) == len(t.labels) == len(t.masks)
    assert (t.boxes >= 0).all() and (t.boxes <= 1).all()
    img2, _ = ds[0]  # cached + same (seed, epoch, index) → same augmentation
    assert (img == img2).all()


def test_letterbox_top_left():
    lb = Letterbox.for_shape(50, 100, 64)
    assert (lb.new_w, lb.new_h) == (64, 32)
    out = lb.image(np.zeros((50, 100, 3), np.uint8))
    assert (out[:32] == 0).all() and (out[32:] == 127).all()


def test_augment_moves_image_and_masks_together():
    img = np.zeros((64, 64, 3), np.uint8)
    img[10:30, 20:40] = 255
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 10:30, 20:40] = 1
    for seed in range(5):
        a_img, a_mask = augment(img, mask, np.random.default_rng(seed))
        bright = a_img.mean(-1) > 200
        assert np.logical_xor(bright, a_mask[0] > 0).mean() < 0.03


def test_boxes_from_masks_are_mask_boxes_of_the_kept_masks():
    masks = np.zeros((3, 20, 30), np.uint8)
    masks[0, 2:5, 3:9] = 1
    masks[1, 0, 0] = 1  # one pixel: below min_pixels
    masks[2, 10:20, 25:30] = 1
    boxes, keep = boxes_from_masks(masks, min_pixels=2)
    assert keep.tolist() == [0, 2] and boxes.dtype == np.float32
    assert boxes.tolist() == [list(mask_box(masks[0])), list(mask_box(masks[2]))] == [[3, 2, 9, 5], [25, 10, 30, 20]]
