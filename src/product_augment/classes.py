"""The 21 product classes: one table, ids 1..21 (0 is background)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProductClass:
    id: int
    name: str
    description: str


PRODUCT_CLASSES: tuple[ProductClass, ...] = (
    ProductClass(1, "shoe", "shoes, sneakers, boots, sandals"),
    ProductClass(2, "handbag", "handbags, purses, clutches, tote bags"),
    ProductClass(3, "backpack", "backpacks and rucksacks"),
    ProductClass(4, "suitcase", "suitcases, trolleys, travel cases"),
    ProductClass(5, "bottle", "bottles, flasks, jars, cosmetics containers"),
    ProductClass(6, "cup", "cups, mugs, glasses for drinks, bowls"),
    ProductClass(7, "phone", "mobile phones, landline phones, tablets"),
    ProductClass(8, "laptop", "laptops and notebooks, computers"),
    ProductClass(9, "headphones", "headphones, headsets, speakers"),
    ProductClass(10, "watch", "wrist watches, clocks"),
    ProductClass(11, "camera", "photo and video cameras"),
    ProductClass(12, "glasses", "eyeglasses and sunglasses"),
    ProductClass(13, "chair", "chairs, stools, armchairs"),
    ProductClass(14, "sofa", "sofas, couches, benches"),
    ProductClass(15, "lamp", "table, floor and desk lamps"),
    ProductClass(16, "toy", "toys, plush animals, balls, games"),
    ProductClass(17, "clothing", "shirts, dresses, trousers, jackets"),
    ProductClass(18, "hat", "hats and caps"),
    ProductClass(19, "television", "televisions and monitors"),
    ProductClass(20, "appliance", "iron, kettle, toaster, microwave, coffee machine, washing machine"),
    ProductClass(21, "plant", "potted plants and vases"),
)

CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in PRODUCT_CLASSES)
CLASS_ID: dict[str, int] = {c.name: c.id for c in PRODUCT_CLASSES}
NUM_CLASSES = len(PRODUCT_CLASSES)


def coco_categories() -> list[dict]:
    """COCO `categories` entries for the 21 product classes."""
    return [{"id": c.id, "name": c.name, "supercategory": "product"} for c in PRODUCT_CLASSES]

# Used when a backend cannot tell the class (provided mattes, classical matting) and the preset
# names none: the instance is annotated as a generic product.
GENERIC_PRODUCT = ProductClass(22, "product", "a product whose class is not known")


def class_id(name: str) -> int:
    """Id of a class name (one of the 21, or 'product' for the generic class)."""
    if name == GENERIC_PRODUCT.name:
        return GENERIC_PRODUCT.id
    try:
        return CLASS_ID[name]
    except KeyError:
        raise ValueError(f"unknown class {name!r}; classes are {', '.join(CLASS_NAMES)} or 'product'") from None


def class_name(cid: int) -> str:
    if cid == GENERIC_PRODUCT.id:
        return GENERIC_PRODUCT.name
    return PRODUCT_CLASSES[cid - 1].name
