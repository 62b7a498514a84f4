"""Class names for the pool's photos from their product names (issue 20's class lever).

    python scripts/data/pool_classes.py data/real/pool [--sheet-dir runs/pool/classes]

Each photo's file name (the product's name in its demo store) is matched against keywords of the 21
classes, first match wins; no match or a listed exception → no class. The result
(``DIR/classes.json``, {stem: class}) was checked by eye on one contact sheet per class
(``--sheet-dir``); names found wrong there are listed in ``WRONG``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import click
import cv2
import numpy as np

# order matters: the first class whose pattern matches names the photo
KEYWORDS: tuple[tuple[str, str], ...] = (
    ("backpack", r"backpack|rucksack"),
    ("suitcase", r"suitcase|luggage|trolley"),
    ("headphones", r"headphone|headset|earbud|earphone|speaker|airpods"),
    ("glasses", r"sunglass|eyeglass|glasses|eyewear|spectacle|wayfarer|rayban|sunnies|prizm"),
    ("watch", r"watch|clock|forerunner|fenix|vivoactive|smart.?band|seiko|tissot|certina|chronograph"),
    ("camera", r"camera|nikon|canon|d300|eos|camcorder|gopro"),
    ("television", r"television|\btv\b|monitor|syncmaster|cinema|thunderbolt.?display"),
    ("laptop", r"laptop|notebook|macbook|vaio|ideapad|imac|desktop|computer|xps|nitro|legion|predator|chromebook|aspire|inspiron|dell.?g5|yoga.?duet"),
    ("phone", r"phone|htc|treo|redmi|poco|galaxy|tablet|samsung.?tab|smart.?tab|ipad"),
    ("shoe", r"shoe|sneaker|boot|sandal|clog|loafer|high.?heel|trainer(?!-hs-ball)|slipper|footwear|moccasin|flip.?flop|turf|runner|plimsoll|allstar|schuh|superstar|dash.?force|blanace"),
    ("handbag", r"handbag|purse|clutch|tote|satchel|shoulder.?bag|bag\b|bag[-_]"),
    ("hat", r"\bhat\b|hat[-_]|[-_]hat|\bcap\b|cap[-_]|[-_]cap\b|beanie|fedora"),
    ("appliance", (r"iron\b|kettle|toaster|microwave|coffee.?(maker|machine)|blender|mixer|washing|fridge|vacuum|"
                  r"hair.?dryer|juicer|espresso|air.?fryer|food.?processor|steamer|[-_]fan\b|[-_]fan[-_]|humidifier|"
                  r"air.?purifier|straightener|trimmer|shaver|multigroom")),
    ("clothing", (r"shirt|t-?shirt|\btee\b|tee[-_]|[-_]tee|dress|jacket|hoodie|sweatshirt|jersey|shorts|pants|"
                 r"trousers|jeans|sweater|coat|polo|skirt|blouse|cardigan|kit|top[-_]|[-_]top\b|legging|vest|socks|neck.?warmer")),
    ("chair", r"chair|stool|armchair"),
    ("sofa", r"sofa|couch|bench|settee|loveseat"),
    ("lamp", r"lamp|lantern|work.?light|floodlight|spotlight|flashlight|headlamp"),
    ("cup", r"\bcup\b|cup[-_]|[-_]cup|mug|bowl|tumbler|teacup"),
    ("bottle", r"bottle|flask|\bjar\b|jar[-_]|perfume|lotion|shampoo|thermos|serum|cream|cologne"),
    ("plant", r"plant|vase|cactus|succulent|flower.?pot|planter"),
    ("toy", r"\btoy|lego|ball\b|ball[-_]|plush|teddy|puzzle|doll|adidasball|mikasa|spalding"),
)
# stem → why the keyword's class is wrong (found on the by-eye check)
WRONG: dict[str, str] = {
    **{f"simpl_Phones_Images_{u}": "a laptop in the store's phones & tablets category" for u in (
        "25d3da45-b57b-40b6-8f41-2fc5170cb6b7", "7da07700-9a17-498b-ba58-526559343878",
        "bffb6f2c-8a3f-4fdd-817d-09a9f18cd190", "fefe68b9-aee8-4e7d-a49a-17f805555591")},
    "oro_images_2WE71-Mobile-Phone-Card-Reader": "a card reader, not a phone",
    "grandnode_product_predator_1": "a football boot (Adidas Predator), not a laptop",
    "smartstore_AcerAspireOne_1": "a laptop sleeve", "smartstore_AcerAspireOne_2": "a laptop sleeve",
    "solidus_solidus_notebook": "a paper notebook held in a hand",
}


def class_of(stem: str) -> str | None:
    name = stem.lower().replace("_", "-")
    for cls, pat in KEYWORDS:
        if re.search(pat, name):
            return cls
    return None


@click.command()
@click.argument("pool", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sheet-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def main(pool: Path, sheet_dir: Path | None) -> None:
    out = {}
    for p in sorted((pool / "images").iterdir()):
        c = class_of(p.stem)
        if c and p.stem not in WRONG:
            out[p.stem] = c
    (pool / "classes.json").write_text(json.dumps(out, indent=1, sort_keys=True))
    counts = {c: sum(1 for v in out.values() if v == c) for c, _ in KEYWORDS}
    click.echo(f"{len(out)} of {len(list((pool / 'images').iterdir()))} photos named: {counts}")
    if sheet_dir:
        sheet_dir.mkdir(parents=True, exist_ok=True)
        for c, _ in KEYWORDS:
            stems = [s for s, v in out.items() if v == c]
            if not stems:
                continue
            tiles = []
            for s in stems[:80]:
                im = cv2.imread(str(next((pool / "images").glob(s + ".*"))))
                t = cv2.resize(im, (120, 120))
                cv2.putText(t, s[-20:], (1, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 0, 255), 1)
                tiles.append(t)
            while len(tiles) % 10:
                tiles.append(np.zeros_like(tiles[0]))
            cv2.imwrite(str(sheet_dir / f"{c}.jpg"),
                        np.concatenate([np.concatenate(tiles[i:i + 10], 1) for i in range(0, len(tiles), 10)], 0))


if __name__ == "__main__":
    main()
