"""product-augment: new, realistic, annotated images from e-commerce product photos."""

__version__ = "0.1.0"
