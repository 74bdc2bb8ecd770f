"""load_image: every mode Pillow reads becomes the 8-bit RGB picture a person sees."""


import numpy as np
import pytest
from PIL import Image, ImageCms

from svd_attention_lab.engine import PreviewError, load_image, prepare_image

RED = (220, 30, 40)


def saved(image: Image.Image, fmt: str, tmp_path, **options) -> str:
    path = tmp_path / f"image.{fmt.lower()}"
    image.save(path, fmt, **options)
    return str(path)


def left_red_right_blue(mode_image=None) -> Image.Image:
    image = Image.new("RGB", (40, 20), (30, 60, 200))
    image.paste(RED, (0, 0, 20, 20))
    return image


def pixel(image: Image.Image, xy=(5, 5)) -> tuple[int, int, int]:
    return image.getpixel(xy)


def close(a, b, tolerance=3) -> bool:
    return all(abs(int(x) - int(y)) <= tolerance for x, y in zip(a, b))


def test_exif_orientation_is_applied(tmp_path):
    """A phone photo held upright: stored landscape, tagged orientation 6 (rotate 90° clockwise to view)."""
    stored = left_red_right_blue()  # 40 wide, 20 high; red on the left
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = load_image(saved(stored, "JPEG", tmp_path, exif=exif, quality=95))
    assert loaded.size == (20, 40)  # upright: portrait
    assert close(pixel(loaded, (10, 5)), RED, 12)  # the stored left edge is now the top
    assert close(pixel(loaded, (10, 35)), (30, 60, 200), 12)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_areas_become_white_not_black(tmp_path, mode):
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    rgba.paste((*RED, 255), (0, 0, 10, 20))
    if mode == "LA":
        image = rgba.convert("LA")
    elif mode == "P":
        image = rgba.convert("P")  # a palette PNG with a transparent index
        image.info["transparency"] = image.getpixel((15, 5))
    else:
        image = rgba
    loaded = load_image(saved(image, "PNG", tmp_path,
                              **({"transparency": image.info["transparency"]} if mode == "P" else {})))
    assert pixel(loaded, (15, 5)) == (255, 255, 255)
    assert pixel(loaded, (5, 5)) != (255, 255, 255)


def test_sixteen_bit_greyscale_is_scaled_not_clipped_to_white(tmp_path):
    grey16 = Image.fromarray(np.full((8, 8), 128 * 257, np.uint16))
    assert grey16.mode == "I;16"
    loaded = load_image(saved(grey16, "PNG", tmp_path))
    assert pixel(loaded) == (128, 128, 128)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Image.new("1", (8, 8), 1), (255, 255, 255)),
        (lambda: Image.new("L", (8, 8), 77), (77, 77, 77)),
        (lambda: Image.new("RGB", (8, 8), RED), RED),
        (lambda: Image.new("RGB", (8, 8), RED).convert("P", palette=Image.Palette.ADAPTIVE), RED),
        (lambda: Image.new("CMYK", (8, 8), (0, 255, 255, 0)), (255, 0, 0)),
        (lambda: Image.new("YCbCr", (8, 8), (76, 85, 255)), (254, 0, 0)),
        (lambda: Image.new("HSV", (8, 8), (0, 255, 255)), (255, 0, 0)),
        (lambda: Image.new("LAB", (8, 8), (136, 208, 195)), (250, 3, 11)),  # CIELAB red, through a real transform
        (lambda: Image.fromarray(np.full((8, 8), 0.5, np.float32)), (128, 128, 128)),  # float in [0, 1]
        (lambda: Image.fromarray(np.full((8, 8), 1000 * 257 // 1000 * 100, np.int32)),
         (100, 100, 100)),  # 32-bit I, 16-bit data
        (lambda: Image.frombytes("I;16B", (8, 8), np.full((8, 8), 40000, ">u2").tobytes()), (156, 156, 156)),
        (lambda: Image.new("RGBa", (8, 8), (110, 15, 20, 128)), (237, 142, 147)),  # premultiplied, half transparent
    ],
    ids=["1", "L", "RGB", "P", "CMYK", "YCbCr", "HSV", "LAB", "F", "I", "I;16B", "RGBa"],
)
def test_every_mode_comes_out_as_the_colour_it_shows(make, expected):
    loaded = load_image(make())
    assert loaded.mode == "RGB"
    assert close(pixel(loaded), expected), pixel(loaded)


@pytest.mark.parametrize("fmt, mode", [("TIFF", "F"), ("TIFF", "I;16"), ("TIFF", "CMYK"), ("JPEG", "CMYK"),
                                       ("TIFF", "LAB"), ("WEBP", "RGBA"), ("GIF", "P"), ("BMP", "1")])
def test_files_of_each_mode_read_back(tmp_path, fmt, mode):
    if mode == "F":
        image = Image.fromarray(np.full((8, 8), 0.25, np.float32))
    elif mode == "I;16":
        image = Image.fromarray(np.full((8, 8), 64 * 257, np.uint16))
    elif mode == "LAB":
        image = Image.new("LAB", (8, 8), (136, 208, 195))
    else:
        image = Image.new("RGB", (8, 8), RED).convert(mode, palette=Image.Palette.ADAPTIVE)
    loaded = load_image(saved(image, fmt, tmp_path))
    assert loaded.mode == "RGB" and loaded.size == (8, 8)
    expected = {"F": (64, 64, 64), "I;16": (64, 64, 64), "LAB": (250, 3, 11), "1": (0, 0, 0)}.get(mode, RED)
    assert close(pixel(loaded), expected, 14), (fmt, mode, pixel(loaded))


def test_an_embedded_colour_profile_is_honoured(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    loaded = load_image(saved(Image.new("RGB", (8, 8), RED), "PNG", tmp_path, icc_profile=srgb))
    assert close(pixel(loaded), RED, 2)
    broken = load_image(saved(Image.new("RGB", (8, 8), RED), "PNG", tmp_path, icc_profile=b"not a profile"))
    assert pixel(broken) == RED


def test_animated_files_give_their_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in (RED, (0, 200, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert close(pixel(load_image(str(path))), RED, 14)


@pytest.mark.parametrize(
    "source, message",
    [
        (lambda p: (p.write_bytes(b"GIF89a broken"), str(p))[1], "cannot read the image"),
        (lambda p: (p.write_bytes(b""), str(p))[1], "cannot read the image"),
        (lambda p: np.zeros((4, 4, 2), np.uint8), "image array must be"),
        (lambda p: 42, "expected an image, got int"),
    ],
)
def test_unreadable_images_are_refused_with_a_reason(tmp_path, source, message):
    with pytest.raises(PreviewError, match=message):
        load_image(source(tmp_path / "bad.png"))


def test_prepare_image_fits_after_loading(tmp_path):
    image = Image.new("RGBA", (100, 50), (0, 0, 0, 0))
    fitted = prepare_image(saved(image, "PNG", tmp_path), 64, 64)
    assert fitted.size == (64, 64) and pixel(fitted) == (255, 255, 255)
