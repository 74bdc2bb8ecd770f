"""Read any image Pillow reads as the 8-bit RGB picture a person sees, then fit it to the render size."""

from __future__ import annotations

import hashlib
import io
import os

import numpy as np
from PIL import Image, ImageCms, ImageOps

from ._errors import PreviewError

MAX_IMAGE_PIXELS = 40_000_000  # larger uploads are refused before decoding (decompression bombs)
BACKGROUND = (255, 255, 255)  # what transparent areas become


def load_image(image: Image.Image | np.ndarray | str | os.PathLike) -> Image.Image:
    """An 8-bit RGB image, as it looks: EXIF orientation applied, transparency on white, 16-bit and
    float pixels scaled (not clipped), CMYK / LAB / YCbCr / HSV / palette / 1-bit converted,
    an embedded ICC profile honoured. Animated files give their first frame."""
    if isinstance(image, (str, os.PathLike)):
        try:
            with Image.open(image) as opened:
                _check_pixels(opened.size)
                opened.seek(0)
                opened.load()
                image = opened.copy()
                image.info = dict(opened.info)
                exif = opened.getexif()
        except PreviewError:
            raise
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise PreviewError(f"cannot read the image: {unreadable(image, exc)}") from None
        image = _oriented(image, exif)
    elif isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or image.dtype != np.uint8 or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise PreviewError(f"image array must be uint8 HxW or HxWxC (C = 1, 3 or 4), "
                               f"got {image.dtype} {image.shape}")
        image = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image)
    elif isinstance(image, Image.Image):
        image = _oriented(image, image.getexif())
    else:
        raise PreviewError(f"expected an image, got {type(image).__name__}")
    _check_pixels(image.size)
    return _to_rgb(image)


def unreadable(path: str | os.PathLike, exc: Exception) -> str:
    """Why a file is not an image, in plain words: never its path on the server nor an exception's name."""
    try:
        with open(path, "rb") as f:
            head = f.read(512).lstrip()
    except OSError:
        return "the file could not be opened"
    if head[:5] == b"<?xml" or b"<svg" in head[:512].lower():
        return "SVG is not supported: upload a PNG, JPEG or WebP image"
    if isinstance(exc, Image.UnidentifiedImageError) or not head:
        return "not an image Pillow can read (PNG, JPEG, WebP, GIF, BMP, TIFF, ...)"
    if isinstance(exc, Image.DecompressionBombError):
        return f"the image is too large to decode (over {MAX_IMAGE_PIXELS // 1_000_000} megapixels)"
    return "the image file is damaged or cut short"


def _oriented(image: Image.Image, exif: Image.Exif) -> Image.Image:
    if exif.get(0x0112, 1) == 1:  # Orientation: 1 = as stored
        return image
    image.getexif()[0x0112] = exif[0x0112]
    return ImageOps.exif_transpose(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _scaled_to_8_bit(image)
    if mode == "LAB":  # Pillow's plain convert() copies the channels; go through CIELAB properly
        transform = ImageCms.buildTransform(ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
        return ImageCms.applyTransform(image, transform)
    if mode in ("La", "RGBa"):  # premultiplied alpha
        image = image.convert("RGBA")
        mode = "RGBA"
    profile = image.info.get("icc_profile")
    if profile and mode in ("RGB", "RGBA", "CMYK", "L"):
        image = _to_srgb(image, profile)
        mode = image.mode
    if mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _to_srgb(image: Image.Image, icc_profile: bytes) -> Image.Image:
    """Apply an embedded colour profile; a broken profile is ignored rather than refused."""
    out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image


def _scaled_to_8_bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit integer pixels by their bit depth, float pixels from [0, 1] (or their own range)."""
    values = np.asarray(image).astype(np.float64)  # (H, W)
    if image.mode == "F":
        values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
        unit = values.size == 0 or (values.min() >= 0.0 and values.max() <= 1.0)
        low, high = (0.0, 1.0) if unit else (values.min(), values.max())
    elif image.mode.startswith("I;16") or (values.size and values.min() >= 0 and values.max() <= 65535):
        low, high = 0.0, 65535.0  # 16-bit samples (Pillow opens some 16-bit files as mode I)
    else:
        low, high = values.min(), values.max()
    scaled = (values - low) / max(high - low, 1e-12) * 255.0
    return Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8), "L").convert("RGB")


def _check_pixels(size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise PreviewError(f"image is {size[0]}x{size[1]}; images over {MAX_IMAGE_PIXELS // 1_000_000} "
                           "megapixels are refused")
    if min(size) < 1:
        raise PreviewError("image is empty")


def prepare_image(image: Image.Image | np.ndarray | str | os.PathLike, width: int, height: int) -> Image.Image:
    """RGB image of exactly ``width`` x ``height``: read as ``load_image`` does, resized to cover, centre-cropped."""
    return ImageOps.fit(load_image(image), (width, height), Image.Resampling.LANCZOS)


def crop_note(original: tuple[int, int], size: tuple[int, int]) -> str:
    """How ``prepare_image`` fits an image of ``original`` size to ``size``: empty when only resized."""
    (iw, ih), (tw, th) = original, size
    if abs(iw / ih - tw / th) <= 0.01 * tw / th:
        return ""
    kept = (round(ih * tw / th), ih) if iw / ih > tw / th else (iw, round(iw * th / tw))
    return (f"The {iw}×{ih} input was centre-cropped to the render's shape (its middle {kept[0]}×{kept[1]} "
            f"pixels), then resized to {tw}×{th}.")


def image_hash(image: Image.Image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()
