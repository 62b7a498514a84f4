"""Reviewed tables that map source assets to the 21 product classes.

Sweet Home 3D catalogue entries are matched on their exact (lower-case) English name, optionally
restricted to catalogue categories (e.g. "bamboo" is a pot plant in "Living room" but a tree in
"Exterior"). Anything not listed is not used. Names that were considered and left out on purpose
are in ``SH3D_EXCLUDED`` with the reason, so a later review does not add them back by accident.
"""
from __future__ import annotations

from ..classes import CLASS_ID

# class name -> (catalogue names, allowed categories or None for any)
SH3D_TABLE: dict[str, list[tuple[tuple[str, ...], tuple[str, ...] | None]]] = {
    "shoe": [(("sneakers", "woman shoes", "slippers", "bootie", "mocassin"), None)],
    "handbag": [(("handbag",), None)],
    "backpack": [(("backpack",), None)],
    "suitcase": [(("suitcase",), None)],
    "bottle": [
        (("baby bottle", "yogurt bottle", "flacon", "cosmetics pot", "milk", "beer bottle", "wine bottle",
          "medicine bottle", "bottle", "spray bottle", "old jar"), None),
    ],
    "cup": [
        (("coffee cup", "plastic cup", "cocktail glass", "beer glass", "coffee mug", "cup", "bowl"), None),
        (("glass",), ("Kitchen",)),
    ],
    "phone": [(("apple iphone", "phone", "mobile phone", "wireless phone", "tablet"), None)],
    "laptop": [(("laptop", "apple ibook"), None)],
    "headphones": [(("headphones", "speaker", "mp3 station", "mp3 base", "mini stereo"), None)],
    "watch": [(("watch", "clock", "cuckoo clock"), None)],
    "camera": [(("camera", "reflex camera"), None)],
    "glasses": [(("sunglasses",), None), (("glasses",), ("Miscellaneous",))],
    "chair": [
        (("armchair", "oak chair", "chair", "stool", "folding chair", "osaka chair", "chair with cushion",
          "winchester armchair", "child chair", "bar chair", "modern armchair", "plastic chair", "cafe chair",
          "bar stool", "teck chair", "ryokan chair", "rattan armchair", "children chair", "class seat",
          "baby high chair"), None),
    ],
    "sofa": [
        (("sofa", "corner sofa", "couch", "futon couch", "winchester sofa", "clear sofa", "sofa 2 seats",
          "sofa 3 seats", "burlap sofa", "rattan sofa", "convertible sofa bz", "bench", "painted bench",
          "concrete bench", "wood bank", "little bank"), None),
    ],
    "lamp": [(("lamp", "desk lamp", "little lamp", "pedestal vase lamp", "camping lamp"), None)],
    "toy": [
        (("rocking horse", "puzzle", "teddy bear", "toy train", "xylophone", "wood toy", "car model",
          "rubik's cube", "soccer ball", "basketball", "chessboard", "doll", "doll house"), None),
        (("biplane",), ("Bedroom",)),
    ],
    "clothing": [
        (("folded clothes", "dress", "short", "trousers", "jacket", "skirt", "suit", "hanging clothes"), None),
    ],
    "hat": [(("cap", "hat"), None)],
    "television": [(("tv", "tv 16:9", "wall flat tv"), None)],
    "appliance": [
        (("mixer", "oven", "double oven", "small oven", "microwave", "toaster", "blender", "coffee maker",
          "coffee brewer", "coffee machine", "espresso kettle", "fridge", "refrigerator", "large fridge",
          "washing machine", "clothes washing machine", "dryer machine", "sandwich maker", "deep fryer",
          "table fan", "chest freezer", "kitchen scale", "electronic scale", "induction cooker 2 zones"), None),
    ],
    "plant": [
        (("decorative plant", "spider plant", "succulent plant", "tulips", "white lily", "little plant", "plant",
          "cactus", "orchids", "indoor plant", "spathiphyllum", "yucca", "bonsai tree", "flowers", "vase"), None),
        (("bamboo", "ficus"), ("Living room",)),
    ],
}

# Considered and left out: name -> reason.
SH3D_EXCLUDED: dict[str, str] = {
    "briefcase": "between handbag and suitcase",
    "trunck": "a storage trunk, not luggage",
    "apple imac 1998": "all-in-one computer, looks like a monitor (laptop vs television)",
    "apple imac 2004": "all-in-one computer, looks like a monitor (laptop vs television)",
    "screen": "projection screen",
    "surveillance camera": "not a photo/video camera product",
    "cctv": "not a photo/video camera product",
    "helmet": "between hat and sports gear",
    "glove": "accessory, not one of the clothing shapes",
    "puff": "pouf: between chair and sofa",
    "armchair ottoman": "footrest, not a chair",
    "piano bench": "between stool and bench",
    "japanese lantern": "decorative lantern rather than a lamp",
    "radio": "between speaker and appliance",
    "stereo amplifier": "hi-fi box, not a speaker",
    "christmas tree": "seasonal, not a potted plant",
    "punching ball": "sports gear",
    "keyboard": "a music keyboard",
    "coffee press": "between cup and appliance",
    "teapot": "between cup and appliance",
    "creamer": "between cup and bottle",
    "deck chair": "lounger",
    "relax chair": "lounger",
    "beach chair": "lounger",
}

# Individual catalogue ids left out although their name matches: id -> reason.
SH3D_EXCLUDED_IDS: dict[str, str] = {
    "Blend Swap CC-0#lamp2": "named 'Lamp' but a ceiling chandelier",
}

# Emoji code points (lower-case hex, as in the Fluent 3D file names, without fe0f) -> class name.
EMOJI_TABLE: dict[str, tuple[str, ...]] = {
    "shoe": ("1f45e", "1f45f", "1f460", "1f461", "1f462", "1f97e", "1f97f", "1fa70", "1fa74"),
    "handbag": ("1f45b", "1f45c", "1f45d"),
    "backpack": ("1f392",),
    "suitcase": ("1f9f3",),
    "bottle": ("1f37c", "1f37e", "1f9f4", "1fad9"),
    "cup": ("2615", "1f375", "1f964", "1f37a", "1f95b", "1f377", "1f378", "1f943", "1f963", "1f9c9", "1f379"),
    "phone": ("1f4f1", "260e"),
    "laptop": ("1f4bb",),
    "headphones": ("1f3a7",),
    "watch": ("231a", "23f0", "1f570"),
    "camera": ("1f4f7", "1f4f8", "1f4f9", "1f3a5"),
    "glasses": ("1f453", "1f576", "1f97d"),
    "chair": ("1fa91",),
    "toy": ("1f9f8", "1fa80", "1f3b2", "1f9e9", "1fa86", "1f3ae", "26bd", "1f3c0", "1f3c8", "1f3be", "1f3d0",
            "1fa81", "1fa85"),
    "clothing": ("1f455", "1f454", "1f456", "1f457", "1f458", "1f97b", "1fa71", "1fa72", "1fa73", "1f45a",
                 "1f9e5", "1f97c", "1f9e6", "1f9e3"),
    "hat": ("1f3a9", "1f452", "1f9e2", "1f393", "26d1", "1fa96"),
    "television": ("1f4fa",),
    "plant": ("1fab4", "1f3fa"),
}

# Typical real-world height in cm of each class, used for relative scale in "wild" scenes when the
# source has no physical size (emoji).
TYPICAL_HEIGHT_CM: dict[str, float] = {
    "shoe": 12, "handbag": 28, "backpack": 45, "suitcase": 65, "bottle": 25, "cup": 10, "phone": 15,
    "laptop": 24, "headphones": 20, "watch": 6, "camera": 10, "glasses": 5, "chair": 90, "sofa": 85,
    "lamp": 50, "toy": 25, "clothing": 60, "hat": 15, "television": 60, "appliance": 45, "plant": 60,
}


def sh3d_class(name: str, category: str, entry_id: str | None = None) -> int | None:
    """Class id of a catalogue entry, or None when it is not a product we use."""
    key = name.strip().lower()
    if key in SH3D_EXCLUDED or entry_id in SH3D_EXCLUDED_IDS:
        return None
    for cls, rules in SH3D_TABLE.items():
        for names, categories in rules:
            if key in names and (categories is None or category in categories):
                return CLASS_ID[cls]
    return None


def emoji_class(codepoints: str) -> int | None:
    """Class id of an emoji given as hex code points joined by '-' (fe0f ignored)."""
    key = "-".join(cp for cp in codepoints.lower().split("-") if cp != "fe0f")
    for cls, cps in EMOJI_TABLE.items():
        if key in cps:
            return CLASS_ID[cls]
    return None


# --------------------------------------------------------------------------- Tux Paint photo stamps
# Photographed stamps of Debian tuxpaint-stamps-default (GPL-2; training only, see data/photobank.py)
# that show one of the 21 classes. Every other selected photograph is a generic "product".
TUXPAINT_CLASS: dict[str, str] = {
    "mug": "cup", "glass": "cup",
    "kettle": "appliance",
    "camera_35mm": "camera",
    "basketball": "toy", "football": "toy", "cricketball": "toy", "soccer": "toy", "tennis_ball": "toy",
    "australian_rules_football": "toy", "rubberduck": "toy", "German_Christmas_toy": "toy",
    "edward_bear": "toy",
    "tree336": "plant", "holm_oak": "plant", "liberia-palm": "plant", "thyme": "plant", "lavender": "plant",
    "lettuce_bolted": "plant", "Christmas_Tree_photo": "plant", "holly_leaves": "plant",
}
# Plain-coloured photographs that the flatness test would call drawings.
TUXPAINT_FORCED: frozenset[str] = frozenset({"mug", "glass", "birch", "rubberduck", "Lightbulb", "toilet",
                                             "wheelie_bin", "highlighter", "cymbal_crash", "avocado",
                                             "eggplant"})
# Drawings, signs, fireworks and things no shop sells that pass the flatness test.
TUXPAINT_EXCLUDED: frozenset[str] = frozenset({
    "grave-a", "grave-b", "grave-c", "grave-d", "grave-e", "grave-f", "grave-g", "grave-h", "grave-i",
    "grave-j", "fireworks", "fireworks2", "confetti", "party-horn-in", "party-horn-out", "party-hat",
    "bunny", "bunny-egg", "bunny-head", "chick", "chick-in-egg", "chick-hatched", "bluebird", "butterfly",
    "menorah", "skull", "ghost", "bow", "stocking", "xmas_tp_bulb", "Santa", "santahat", "inukshuk-photo",
    "rugby_goal_posts", "railroad_crossing", "school_sign", "toilets", "no_uturn", "xing_school",
    "xing_school_mirror", "xing_ped", "dead_end_sign", "give_way_sign", "no_entry_sign", "checkeredflag",
    "blue-and-yellowflag", "measuring_tape_mirror", "dumper_mirror", "sedan_police_mirror", "bear",
    "bandage_adhesive", "pizza", "tooth", "clothespin_new", "button",
})
