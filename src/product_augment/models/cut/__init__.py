"""CutNet: the product's full-image cut (a class-agnostic salient-product matte) beside YOLACT's instances."""
