"""The product's class from its cut-out: an ImageNet classifier whose categories are mapped to the 21 classes."""
