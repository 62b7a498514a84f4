"""product-augment: new, realistic, annotated images from e-commerce product photos.

The public API (docs/API.md): `load_preset`, `Augmenter`, `Result`, `preset_names`, `cache_masks`
and the errors `PresetError`, `SampleError`, `ImageReadError`; integrations in
`product_augment.integrations.albumentations` and `product_augment.integrations.torch`. The names
are imported on first use, so `import product_augment` (and the CLI's start) stays light.
"""

__version__ = "0.1.0"

__all__ = ["Augmenter", "ImageReadError", "PresetError", "Result", "SampleError", "cache_masks",
           "load_preset", "preset_names"]


def __getattr__(name: str):
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'product_augment' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
