import io

import numpy as np
import pytest
from PIL import Image

from product_augment.io import ImageReadError, encode_image, list_inputs, read_image, write_atomic


def _rgb(h=20, w=30):
    return (np.arange(h * w * 3) % 251).astype(np.uint8).reshape(h, w, 3)


def test_zero_byte_truncated_garbage_and_bomb(tmp_path):
    (tmp_path / "zero.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"^file is empty \(0 bytes\)$"):
        read_image(tmp_path / "zero.jpg")
    buf = io.BytesIO()
    Image.fromarray(_rgb(200, 200)).save(buf, "JPEG")
    (tmp_path / "trunc.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="^image file is truncated$"):
        read_image(tmp_path / "trunc.jpg")
    (tmp_path / "garbage.png").write_bytes(b"%PDF-1.4 not an image" * 10)
    with pytest.raises(ImageReadError, match=r"not a readable image"):
        read_image(tmp_path / "garbage.png")
    Image.new("1", (3000, 3000)).save(tmp_path / "bomb.png")
    with pytest.raises(ImageReadError, match=r"3000×3000 = 9 MP, above the 1 MP limit"):
        read_image(tmp_path / "bomb.png", max_pixels=1_000_000)


def test_colour_modes(tmp_path):
    g = (np.arange(400) % 256).astype(np.uint8).reshape(20, 20)
    Image.fromarray(g, "L").save(tmp_path / "gray.png")
    rgb, a = read_image(tmp_path / "gray.png")
    assert rgb.shape == (20, 20, 3) and a is None and (rgb[..., 0] == g).all() and (rgb[..., 2] == g).all()

    g16 = (np.arange(400, dtype=np.uint16) * 160).reshape(20, 20)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    rgb, _ = read_image(tmp_path / "g16.png")
    assert rgb.dtype == np.uint8 and rgb[19, 19, 0] == round(399 * 160 / 65535 * 255)

    rgba = np.dstack([_rgb(), np.full((20, 30), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    rgb, a = read_image(tmp_path / "rgba.png")
    assert (rgb == rgba[..., :3]).all() and np.allclose(a, 128 / 255)

    pal = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    rgb, a = read_image(tmp_path / "pal.png")
    assert a is not None and a.min() == 0 and a.max() == 1

    Image.fromarray(_rgb()).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    rgb, _ = read_image(tmp_path / "cmyk.jpg")
    assert rgb.shape == (20, 30, 3) and np.abs(rgb.astype(int) - _rgb()).mean() < 12


def test_exif_orientation_applied(tmp_path):
    img = Image.fromarray(_rgb(20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    rgb, _ = read_image(tmp_path / "rot.jpg")
    assert rgb.shape == (30, 20, 3)


def test_downscale_to_max_side(tmp_path):
    Image.fromarray(_rgb(100, 400)).save(tmp_path / "wide.png")
    rgb, _ = read_image(tmp_path / "wide.png", max_side=200)
    assert rgb.shape == (50, 200, 3)


def test_list_inputs(tmp_path):
    for rel in ["a.jpg", "b/c.PNG", "b/d.heic", ".hidden.png", "notes.txt", "e.webp", "f.GIF"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    ok, bad = list_inputs(tmp_path)
    assert ok == ["a.jpg", "b/c.PNG", "e.webp", "f.GIF"] and bad == ["b/d.heic"]
    ok, _ = list_inputs(tmp_path, recursive=False)
    assert ok == ["a.jpg", "e.webp", "f.GIF"]


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 30), c) for c in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(tmp_path / "anim.gif") as im:
        assert im.n_frames == 3  # really animated
    rgb, a = read_image(tmp_path / "anim.gif")
    assert rgb.shape == (30, 40, 3) and a is None
    assert np.abs(rgb.astype(int) - (200, 30, 30)).max() <= 4  # the first frame, not a later one
    # a transparent GIF keeps its transparency as alpha
    p = Image.new("P", (20, 10), 1)
    p.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    p.paste(0, (0, 0, 10, 10))
    p.save(tmp_path / "transp.gif", transparency=0)
    rgb, a = read_image(tmp_path / "transp.gif")
    assert a is not None and a[:, :10].max() == 0 and a[:, 10:].min() == 1


def test_write_atomic_and_encode_roundtrip(tmp_path):
    rgb = _rgb()
    alpha = np.linspace(0, 1, 600, dtype=np.float32).reshape(20, 30)
    write_atomic(tmp_path / "x" / "o.png", encode_image(rgb, alpha, "png"))
    back = np.asarray(Image.open(tmp_path / "x" / "o.png"))
    assert back.shape == (20, 30, 4) and (back[..., :3] == rgb).all()
    assert np.abs(back[..., 3] / 255.0 - alpha).max() <= 0.5 / 255 + 1e-6
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["o.png"]  # no temp file left


def test_write_atomic_gives_the_usual_file_mode(tmp_path):
    import os

    from product_augment.io import write_atomic

    mask = os.umask(0o022)
    os.umask(mask)
    write_atomic(tmp_path / "a" / "f.bin", b"x")
    assert (tmp_path / "a" / "f.bin").read_bytes() == b"x"
    assert (tmp_path / "a" / "f.bin").stat().st_mode & 0o777 == 0o666 & ~mask
    assert not list((tmp_path / "a").glob(".*.tmp"))
    from product_augment.io import TEMP_PREFIX
    assert TEMP_PREFIX.startswith(".augment")


def test_odd_name_catches_every_line_breaking_character():
    """Every character that splits a line (for `str.splitlines`, as loaders read train.txt) or is a
    control character makes a name odd; ordinary names, spaces and accents included, are fine."""
    from product_augment.io import odd_name

    for o in range(0x3000):
        c = chr(o)
        if len(f"a{c}b.png".splitlines()) > 1 or o < 32 or 127 <= o < 160:
            assert odd_name(f"sub/a{c}b.png") is not None, hex(o)
    for fine in ("sub/a b.png", "café crème.jpg", "x_jpg.webp", "日本.png"):
        assert odd_name(fine) is None


def _reference_read(path, max_side):
    """The reader before issue 27: Pillow decodes the whole photo, then the INTER_AREA shrink."""
    from PIL import ImageOps

    from product_augment.io import shrunk

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        return shrunk(np.asarray(im), max_side)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_large_jpeg_reads_the_pixels_pillow_read(tmp_path, orientation):
    """A JPEG above the working size (below twice it) is decoded by OpenCV straight into one array:
    the same bytes as Pillow's decode and the shrink, for every EXIF orientation, grey ones too."""
    rng = np.random.default_rng(orientation)
    img = (rng.random((90, 130, 3)) * 255).astype(np.uint8)
    img[20:60, 30:100] = (200, 40, 90)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(img).save(tmp_path / "big.jpg", exif=exif, quality=90)
    got, alpha = read_image(tmp_path / "big.jpg", 100)
    want = _reference_read(tmp_path / "big.jpg", 100)
    assert alpha is None and got.shape == want.shape and (got == want).all()
    Image.fromarray(img[..., 1]).save(tmp_path / "grey.jpg", exif=exif, quality=90)
    got, _ = read_image(tmp_path / "grey.jpg", 100)
    assert (got == _reference_read(tmp_path / "grey.jpg", 100)).all()


def test_a_jpeg_twice_the_working_size_is_decoded_smaller(tmp_path):
    """libjpeg's DCT scaling: a photo at least twice the working size is decoded at a half (a
    quarter, an eighth), then shrunk; the result is the working size and close to the full decode."""
    yy, xx = np.mgrid[:800, :1200]
    img = np.dstack([(xx * 255 // 1200), (yy * 255 // 800), np.full_like(xx, 128)]).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "huge.jpg", quality=95)
    got, _ = read_image(tmp_path / "huge.jpg", 256)
    want = _reference_read(tmp_path / "huge.jpg", 256)
    assert got.shape == want.shape == (171, 256, 3)
    assert np.abs(got.astype(int) - want).mean() < 1.0


def test_a_24_megapixel_jpeg_is_read_within_its_rgb_bytes(tmp_path):
    """Reading a 6000×4000 JPEG at the default working size (4096) grows the process by about twice
    the decoded RGB (the decode, the shrunk copy, OpenCV's buffers: 142 MB measured); Pillow's path
    took 322 MB (its 4-byte buffer, a copy for the EXIF transpose, tobytes' chunks and their join)."""
    import subprocess
    import sys

    yy, xx = np.mgrid[:4000, :6000]
    img = np.dstack([(xx % 251), (yy % 241), ((xx + yy) % 239)]).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "p24.jpg", quality=85)
    del img, yy, xx
    code = ("import sys; from pathlib import Path; import numpy, cv2, PIL.Image\n"
            "from product_augment.io import read_image\n"
            "def hwm():  # this process image's peak (ru_maxrss would keep the forking parent's)\n"
            "    return next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM'))\n"
            "base = hwm()\n"
            "rgb, _ = read_image(Path(sys.argv[1]), 4096)\n"
            "print(rgb.shape, (hwm() - base) / 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p24.jpg")], capture_output=True,
                         text=True, check=True).stdout.split(")")
    grew = float(out[1])
    rgb_mb = 6000 * 4000 * 3 / 2**20  # 68.7 MB
    assert out[0].startswith("(2731, 4096, 3") and grew < 2.3 * rgb_mb, grew  # was 4.7× (322 MB)
