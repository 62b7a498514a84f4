"""annotations.coco_index: pycocotools' index of an in-memory dataset, silently."""
import numpy as np

from product_augment.annotations import coco_index, mask_to_rle


def test_coco_index_prints_nothing(capsys):
    mask = np.zeros((8, 10), bool)
    mask[2:5, 3:7] = True
    api = coco_index({"images": [{"id": 1, "height": 8, "width": 10, "file_name": "a.png"}],
                      "categories": [{"id": 1, "name": "mug"}],
                      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": mask_to_rle(mask),
                                       "area": 12, "bbox": [3, 2, 4, 3], "iscrowd": 0}]})
    assert api.getAnnIds(imgIds=1) == [1] and np.array_equal(api.annToMask(api.anns[1]).astype(bool), mask)
    assert capsys.readouterr().out == ""
