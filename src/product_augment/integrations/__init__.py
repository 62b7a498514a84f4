"""Optional integrations with other libraries (each needs its extra installed):

* `product_augment.integrations.albumentations`: `ProductAugment`, a DualTransform for `A.Compose`
  (`pip install 'product-augment[albumentations]'`);
* `product_augment.integrations.torch`: `ProductDataset`, a PyTorch dataset of fresh variants
  (`pip install 'product-augment[train]'`).
"""
