"""Reading image files into fixed-size uint8 arrays, reporting the ones that fail."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ferlab.checks import check_choice
from ferlab.data.dataset import FaceDataset, Problem
from ferlab.errors import DataError, OptionError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"})
"""Extensions the dataset readers take for images (class folders); the application reads any
file Pillow can open, whatever its name (see `ferlab.app.predict.image_files`)."""
COLORS = ("gray", "rgb")
BoxXYWH = tuple[float, float, float, float]
"""A face box ``(x, y, width, height)`` in pixels of the source image."""


class ImageReadError(Exception):
    """An image file could not be turned into an array; the message says why."""


class ImageWarning(UserWarning):
    """Something to know about an image that was read: its file's name, then what (see `read_image`)."""


class ImageTooLarge(ImageReadError):
    """An image has more pixels than allowed; found from its header, before decoding."""


UNSAFE_FORMATS = ("EPS",)
"""Pillow formats ferlab never reads: EPS hands the file to the Ghostscript program."""


@functools.cache
def readable_formats() -> tuple[str, ...]:
    """The Pillow formats `read_image` tries by default (every format Pillow opens but
    `UNSAFE_FORMATS`): the same set for `ferlab predict`, `ferlab.analyze` and `ferlab serve`.
    Worked out once per process, not per image."""
    Image.init()
    return tuple(sorted(set(Image.OPEN) - set(UNSAFE_FORMATS)))


def read_image(
    path: Path | BinaryIO,
    size: tuple[int, int] | None = None,
    color: str = "gray",
    box: BoxXYWH | None = None,
    max_pixels: int | None = None,
    formats: Sequence[str] | None = None,
) -> np.ndarray:
    """Read one image (a file, or a binary file object) as uint8 ``(H, W)`` (gray) or ``(H, W, 3)`` (rgb),
    cropped to ``box`` if given.

    A file of several pages or frames (TIFF, GIF, WebP...) is read at its first, with an `ImageWarning`
    saying so; Pillow's own warnings (such as corrupt EXIF data) come as `ImageWarning` naming the file.
    ``size`` is ``(height, width)`` to resize to, None to keep the image's own. EXIF rotation is
    applied; 16-bit images are scaled to 8 bits; palette, CMYK and alpha images are converted.
    ``max_pixels`` refuses larger images (`ImageTooLarge`) before their pixels are decoded, as
    Pillow's decompression-bomb limit always does; ``formats`` names the Pillow formats tried (e.g. ``("PNG", "JPEG")``;
    default `readable_formats`), chosen by content, not by file name. Raises `ImageReadError`.
    """
    formats = readable_formats() if formats is None else formats  # readable_formats loads every plugin
    pages = 1
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=formats) as opened:
                if max_pixels is not None and opened.width * opened.height > max_pixels:
                    raise ImageTooLarge(f"too many pixels ({opened.width}x{opened.height}, at most {max_pixels:,})")
                pages = getattr(opened, "n_frames", 1)
                image = ImageOps.exif_transpose(opened)
                image = _to_8bit(image).convert("L" if color == "gray" else "RGB")
    except FileNotFoundError:
        raise ImageReadError("file not found") from None
    except UnidentifiedImageError:
        raise ImageReadError("not a readable image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLarge(f"too many pixels ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(f"unreadable image ({error})") from None
    name = path if isinstance(path, Path) else getattr(path, "name", "image")
    for warning in caught:
        warnings.warn(ImageWarning(f"{name}: {str(warning.message).strip()}"), stacklevel=2)
    if pages > 1:
        warnings.warn(ImageWarning(f"{name}: {pages} pages or frames; only the first is read"), stacklevel=2)
    if box is not None:
        image = image.crop(_clamped_box(box, image.size))
    if size is not None:
        image = _resize(image, size)
    return np.asarray(image, dtype=np.uint8)


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to ``(height, width)`` the readers' way: Pillow's bilinear filter (antialiased when shrinking)."""
    return image.resize((size[1], size[0]), Image.Resampling.BILINEAR)


def resize_pixels(pixels: np.ndarray, size: tuple[int, int], color: str = "gray") -> np.ndarray:
    """uint8 pixels (gray or RGB) converted to ``color`` and resized to ``size`` exactly as
    `read_image` converts and resizes a file: the application's crop of a whole-image face is
    the training crop of a dataset image."""
    check_choice(color, COLORS, "color mode")
    image = Image.fromarray(np.ascontiguousarray(pixels)).convert("L" if color == "gray" else "RGB")
    return np.asarray(_resize(image, size), dtype=np.uint8)


def resize_dataset(dataset: FaceDataset, size: tuple[int, int]) -> FaceDataset:
    """``dataset`` with every image resized to ``(height, width)`` by `resize_pixels`; the
    dataset itself when its images have that size already."""
    if dataset.image_size == tuple(size):
        return dataset
    color = "gray" if dataset.channels == 1 else "rgb"
    images = [resize_pixels(image, size, color) for image in dataset.images]
    shape = (len(dataset), *size, *dataset.images.shape[3:])
    return replace(dataset, images=np.stack(images) if images else np.zeros(shape, dtype=np.uint8))


def _to_8bit(image: Image.Image) -> Image.Image:
    """8-bit image modes as they are; 16- and 32-bit integer images scaled from 65535 (or
    their 8-bit range); float images scaled from 0..1 when that is their range, else from
    0..255, or from their maximum past that (so float data is never clipped to black)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return Image.fromarray(_scaled_to_8bit(np.asarray(image), integer=image.mode != "F"))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba)
    return image


def _scaled_to_8bit(pixels: np.ndarray, integer: bool) -> np.ndarray:
    """Pixels as uint8, scaled as `_to_8bit` says (NaN and infinities become 0)."""
    array = np.nan_to_num(pixels.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(array.max()) if array.size else 0.0
    if integer:
        peak = 65535.0 if top > 255 else 255.0
    else:
        peak = 1.0 if top <= 1.0 else 255.0 if top <= 255.0 else top
    return np.clip(np.round(array * (255.0 / peak)), 0, 255).astype(np.uint8)


IMAGE_ARRAY_CHANNELS = (1, 3, 4)


def array_to_rgb(pixels: np.ndarray) -> np.ndarray:
    """An image array as RGB uint8 ``(H, W, 3)``, converted as an image file is by `read_image`.

    Takes ``(H, W)`` or ``(H, W, C)`` with C of `IMAGE_ARRAY_CHANNELS` (gray, RGB, RGBA: alpha over white),
    uint8 or float (scaled from 0..1 when that is their range, else from 0..255 or their maximum; NaN and
    infinities are black). Raises a one-line `OptionError` for any other shape or dtype, or an empty array.
    """
    array = np.asarray(pixels)
    shape = tuple(array.shape)
    if array.ndim not in (2, 3) or (array.ndim == 3 and shape[2] not in IMAGE_ARRAY_CHANNELS):
        raise OptionError(f"image array of shape {shape}: expected (H, W), or (H, W, C) with C = 1, 3 or 4")
    if array.size == 0:
        raise OptionError(f"image array of shape {shape}: it is empty")
    if array.dtype.kind == "f":
        array = _scaled_to_8bit(array, integer=False)
    elif array.dtype != np.uint8:
        raise OptionError(f"image array of dtype {array.dtype}: expected uint8 or float")
    if array.ndim == 3 and shape[2] == 1:
        array = array[:, :, 0]
    image = _to_8bit(Image.fromarray(np.ascontiguousarray(array)))
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _clamped_box(box: BoxXYWH, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    x, y, width, height = box
    left, top = max(0, int(round(x))), max(0, int(round(y)))
    right, bottom = min(image_size[0], int(round(x + width))), min(image_size[1], int(round(y + height)))
    if right - left < 1 or bottom - top < 1:
        raise ImageReadError(f"face box {tuple(box)} lies outside the {image_size[0]}x{image_size[1]} image")
    return left, top, right, bottom


def read_images(
    items: Sequence[tuple[Path, BoxXYWH | None]],
    size: tuple[int, int],
    color: str = "gray",
    strict: bool = False,
    workers: int = 4,
) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    """Read many images (threads), skipping the ones that fail.

    Returns ``(images, ok, problems)``: the stacked arrays of the images that were read,
    a boolean mask over ``items`` saying which, and one `Problem` per skipped file. With
    ``strict=True`` the first failure raises `DataError` instead.
    """
    check_choice(color, COLORS, "color mode")

    def attempt(item: tuple[Path, BoxXYWH | None]) -> np.ndarray | str:
        try:
            return read_image(item[0], size, color, item[1])
        except ImageReadError as error:
            return str(error)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(attempt, items))
    ok = np.array([not isinstance(result, str) for result in results], dtype=bool)
    problems = [Problem(str(item[0]), result) for item, result in zip(items, results) if isinstance(result, str)]
    if strict and problems:
        raise DataError(str(problems[0]))
    shape = (0, *size) if color == "gray" else (0, *size, 3)
    images = np.stack([r for r in results if not isinstance(r, str)]) if ok.any() else np.empty(shape, np.uint8)
    return images, ok, problems
