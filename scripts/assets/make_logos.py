"""Build the shipped logos/stickers in logos/ (RGBA PNG, longest side <= 256 px).

    python scripts/assets/make_logos.py [--openclipart DIR] [--out logos] [--sheet docs/img/logos.png]

Two sources (see LICENSES/ASSETS.md):
  * badges drawn here with Pillow and the shipped DejaVu Sans Bold (this project's own work);
  * a hand-picked set of public-domain Open Clip Art Library images from the Debian package
    openclipart-png (pass its extracted usr/share/openclipart/png folder with --openclipart).
"""
from __future__ import annotations

import math
from pathlib import Path

import click
from PIL import Image, ImageDraw, ImageFont

FONT = Path(__file__).resolve().parents[2] / "src/product_augment/assets/fonts/DejaVuSans-Bold.ttf"
S = 512  # drawing size; saved at 256 (2x supersampling)

OPENCLIPART = {  # relative path → shipped name
    "signs_and_symbols/awards/ribbon.png": "oca-award-ribbon.png",
    "signs_and_symbols/awards/trophy.png": "oca-trophy.png",
    "signs_and_symbols/awards/banner_01.png": "oca-banner.png",
    "signs_and_symbols/recycle.png": "oca-recycle-green.png",
    "signs_and_symbols/recycling_symbol_a.j._as_01.png": "oca-recycle-black.png",
    "signs_and_symbols/heart_highlight_jon_phil_01.png": "oca-heart.png",
    "signs_and_symbols/thumb_up_nicu_buculei_01.png": "oca-thumb-up.png",
    "shapes/star_double_tom_webb_.png": "oca-star-double.png",
    "shapes/callouts/stared.png": "oca-starburst-callout.png",
    "shapes/stars/estrella_02.png": "oca-star-gold.png",
    "decorations/sakura_01.png": "oca-sakura.png",
    "decorations/evergreen_wreath_with_large_holly_01.png": "oca-wreath.png",
}


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def centered_text(d: ImageDraw.ImageDraw, xy, text: str, size: int, fill, spacing: float = 0.1,
                  max_w: float | None = None) -> None:
    lines = text.split("\n")
    f = font(size)
    while max_w is not None and max(d.textlength(line, font=f) for line in lines) > max_w and size > 8:
        size -= 2
        f = font(size)
    heights = [f.getbbox(line)[3] - f.getbbox(line)[1] for line in lines]
    total = sum(heights) + spacing * size * (len(lines) - 1)
    y = xy[1] - total / 2
    for line, h in zip(lines, heights):
        x0, y0, x1, _ = f.getbbox(line)
        d.text((xy[0] - (x1 - x0) / 2 - x0, y - y0), line, font=f, fill=fill)
        y += h + spacing * size


def star_points(cx, cy, r_out, r_in, n, rot=-math.pi / 2):
    pts = []
    for i in range(2 * n):
        r = r_out if i % 2 == 0 else r_in
        a = rot + i * math.pi / n
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def canvas(w=S, h=S):
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    return img, ImageDraw.Draw(img)


def starburst(text, color, text_color=(255, 255, 255), n=18):
    img, d = canvas()
    d.polygon(star_points(S / 2, S / 2, S * 0.49, S * 0.40, n), fill=color)
    centered_text(d, (S / 2, S / 2), text, int(S * 0.2), text_color, max_w=S * 0.62)
    return img


def seal(text, color, ring=(255, 255, 255), text_color=(255, 255, 255)):
    img, d = canvas()
    d.ellipse((4, 4, S - 4, S - 4), fill=color)
    d.ellipse((S * 0.07, S * 0.07, S * 0.93, S * 0.93), outline=ring, width=int(S * 0.015))
    d.ellipse((S * 0.11, S * 0.11, S * 0.89, S * 0.89), outline=ring, width=int(S * 0.006))
    centered_text(d, (S / 2, S / 2), text, int(S * 0.15), text_color, max_w=S * 0.66)
    return img


def rosette(text, color, text_color=(255, 255, 255), ribbon=(170, 20, 30)):
    img, d = canvas()
    for dx in (-1, 1):  # two ribbon tails
        x = S / 2 + dx * S * 0.16
        d.polygon([(x - S * 0.1, S * 0.55), (x + S * 0.1, S * 0.55), (x + S * 0.1 + dx * S * 0.05, S * 0.98),
                   (x + dx * S * 0.03, S * 0.88), (x - S * 0.1 + dx * S * 0.05, S * 0.98)], fill=ribbon)
    pts = []
    n = 24
    for i in range(n * 8):
        a = 2 * math.pi * i / (n * 8)
        r = S * 0.34 + S * 0.02 * math.cos(n * a)
        pts.append((S / 2 + r * math.cos(a), S * 0.4 + r * math.sin(a)))
    d.polygon(pts, fill=color)
    d.ellipse((S / 2 - S * 0.27, S * 0.4 - S * 0.27, S / 2 + S * 0.27, S * 0.4 + S * 0.27),
              outline=text_color, width=int(S * 0.012))
    centered_text(d, (S / 2, S * 0.4), text, int(S * 0.12), text_color, max_w=S * 0.44)
    return img


def price_tag(text, color, text_color=(255, 255, 255)):
    w, h = S, int(S * 0.5)
    img, d = canvas(w, h)
    notch = h * 0.5
    d.polygon([(0, h / 2), (notch, 4), (w - 4, 4), (w - 4, h - 4), (notch, h - 4)], fill=color)
    r = h * 0.07
    d.ellipse((notch * 0.55 - r, h / 2 - r, notch * 0.55 + r, h / 2 + r), fill=(0, 0, 0, 0))
    centered_text(d, (notch + (w - notch) / 2, h / 2), text, int(h * 0.42), text_color,
                  max_w=(w - notch) * 0.8)
    return img


def pill(text, color, text_color=(255, 255, 255)):
    w, h = S, int(S * 0.34)
    img, d = canvas(w, h)
    d.rounded_rectangle((2, 2, w - 2, h - 2), radius=h // 2, fill=color)
    d.rounded_rectangle((h * 0.12, h * 0.12, w - h * 0.12, h - h * 0.12), radius=int(h * 0.38),
                        outline=text_color, width=max(2, int(h * 0.03)))
    centered_text(d, (w / 2, h / 2), text, int(h * 0.36), text_color, max_w=w * 0.78)
    return img


def hexagon(text, color, text_color=(255, 255, 255)):
    img, d = canvas()
    pts = [(S / 2 + S * 0.48 * math.cos(math.pi / 6 + i * math.pi / 3),
            S / 2 + S * 0.48 * math.sin(math.pi / 6 + i * math.pi / 3)) for i in range(6)]
    d.polygon(pts, fill=color)
    inner = [(S / 2 + (x - S / 2) * 0.86, S / 2 + (y - S / 2) * 0.86) for x, y in pts]
    d.line(inner + [inner[0]], fill=text_color, width=int(S * 0.014), joint="curve")
    centered_text(d, (S / 2, S / 2), text, int(S * 0.2), text_color, max_w=S * 0.6)
    return img


def banner(text, color, text_color=(255, 255, 255), fold=(120, 10, 20)):
    w, h = S, int(S * 0.36)
    img, d = canvas(w, h)
    e = w * 0.1
    d.polygon([(0, h * 0.3), (e * 1.6, h * 0.3), (e * 1.6, h), (0, h), (e * 0.6, h * 0.65)], fill=fold)
    d.polygon([(w, h * 0.3), (w - e * 1.6, h * 0.3), (w - e * 1.6, h), (w, h), (w - e * 0.6, h * 0.65)],
              fill=fold)
    d.rectangle((e, 0, w - e, h * 0.72), fill=color)
    centered_text(d, (w / 2, h * 0.36), text, int(h * 0.36), text_color, max_w=w * 0.7)
    return img


def own_set() -> dict[str, Image.Image]:
    return {
        "badge-starburst-sale.png": starburst("SALE", (214, 40, 40)),
        "badge-starburst-50.png": starburst("−50%", (245, 196, 48), (30, 30, 30), n=22),
        "badge-seal-eco.png": seal("ECO", (46, 125, 70)),
        "badge-seal-premium.png": seal("PREMIUM\nQUALITY", (24, 44, 92), ring=(214, 180, 90),
                                       text_color=(236, 210, 140)),
        "badge-seal-bio.png": seal("100%\nBIO", (110, 160, 60)),
        "badge-rosette-top.png": rosette("TOP\nRATED", (200, 150, 40)),
        "badge-tag-new.png": price_tag("NEW", (20, 20, 20)),
        "badge-tag-sale.png": price_tag("−20%", (214, 40, 40)),
        "badge-pill-shipping.png": pill("FREE SHIPPING", (15, 118, 110)),
        "badge-hex-vegan.png": hexagon("VEGAN", (70, 140, 60)),
        "badge-banner-bestseller.png": banner("BESTSELLER", (214, 40, 40)),
    }


def save_small(img: Image.Image, path: Path, max_side: int = 256) -> None:
    bbox = img.getchannel("A").getbbox()
    if bbox:
        img = img.crop(bbox)
    img.thumbnail((max_side, max_side), Image.LANCZOS)
    img.save(path, optimize=True)


def contact_sheet(folder: Path, path: Path, thumb: int = 128, cols: int = 8) -> None:
    files = sorted(folder.glob("*.png"))
    rows = -(-len(files) // cols)
    sheet = Image.new("RGB", (cols * thumb, rows * (thumb + 14)), (226, 232, 226))
    d = ImageDraw.Draw(sheet)
    for i, f in enumerate(files):
        im = Image.open(f).convert("RGBA")
        im.thumbnail((thumb - 10, thumb - 10))
        r, c = divmod(i, cols)
        x, y = c * thumb + (thumb - im.width) // 2, r * (thumb + 14) + (thumb - im.height) // 2
        sheet.paste(im, (x, y), im)
        d.text((c * thumb + 2, r * (thumb + 14) + thumb), f.stem[:20], fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


@click.command(help=__doc__)
@click.option("--out", type=click.Path(path_type=Path), default=Path("logos"), show_default=True)
@click.option("--openclipart", type=click.Path(path_type=Path), default=None, help="extracted usr/share/openclipart/png")
@click.option("--sheet", type=click.Path(path_type=Path), default=Path("docs/img/logos.png"), show_default=True)
def main(out: Path, openclipart: Path | None, sheet: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, img in own_set().items():
        save_small(img, out / name)
    if openclipart is not None:
        for rel, name in OPENCLIPART.items():
            save_small(Image.open(openclipart / rel).convert("RGBA"), out / name)
    contact_sheet(out, sheet)
    print(f"logos written to {out}; contact sheet {sheet}")


if __name__ == "__main__":
    main()
