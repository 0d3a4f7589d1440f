"""Images (Pillow): dimensions, EXIF essentials and a WebP thumbnail.

The pixel count is checked from the header, before any pixel is decoded, so a small file
that claims a gigantic canvas (a decompression bomb) costs nothing. Only the formats in
`limits.image_formats` are opened: Pillow would otherwise try each of its decoders on the
bytes, rarely used ones included.
"""

import io
import warnings
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError

from ..failures import FailureCode
from .base import ProcessingError, ProcessingSource, Result

EXIF_MAKE, EXIF_MODEL, EXIF_DATETIME, EXIF_ORIENTATION = 271, 272, 306, 274
EXIF_IFD, EXIF_DATETIME_ORIGINAL = 0x8769, 36867
EXIF_DATE_FORMAT = "%Y:%m:%d %H:%M:%S"
DAMAGED = "The image is damaged or truncated and cannot be read."


def exif_fields(image: Image.Image) -> dict:
    exif = image.getexif()
    camera = " ".join(str(exif.get(tag, "")).strip("\x00 ") for tag in (EXIF_MAKE, EXIF_MODEL))
    taken = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
    try:
        taken_at = datetime.strptime(str(taken).strip("\x00 "), EXIF_DATE_FORMAT).isoformat()
    except (TypeError, ValueError):
        taken_at = None
    orientation = exif.get(EXIF_ORIENTATION)
    return {
        "camera": camera.strip() or None,
        "taken_at": taken_at,
        "orientation": int(orientation) if isinstance(orientation, int) else None,
    }


def thumbnail_of(image: Image.Image, longest_side: int) -> bytes:
    image.seek(0)
    image.draft("RGB", (longest_side, longest_side))  # JPEG: decode at a reduced scale
    thumb = ImageOps.exif_transpose(image)
    thumb.thumbnail((longest_side, longest_side), reducing_gap=3.0)
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert(
            "RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB"
        )
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80)
    return out.getvalue()


def process(source: ProcessingSource) -> Result:
    limits = source.limits
    source.stream.seek(0)
    source.report_progress(0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(source.stream, formats=limits.image_formats)
            width, height = image.size
            if width * height > limits.max_image_pixels:
                raise ProcessingError(
                    f"The image is {width}×{height} pixels, more than the "
                    f"{limits.max_image_pixels:,} we accept (it may be a decompression bomb).",
                    FailureCode.TOO_COMPLEX,
                )
            fields = {
                "format": image.format,
                "width": width,
                "height": height,
                "mode": image.mode,
                "animated": bool(getattr(image, "is_animated", False)),
                "frames": int(getattr(image, "n_frames", 1)),
                **exif_fields(image),
            }
            thumbnail = thumbnail_of(image, limits.thumbnail_size)
        except ProcessingError:
            raise
        except UnidentifiedImageError:
            raise ProcessingError(
                "This file is not an image we can read: we accept "
                f"{', '.join(limits.image_formats)}.",
                FailureCode.UNSUPPORTED,
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ProcessingError(
                "The image is too large to process safely.", FailureCode.TOO_COMPLEX
            ) from None
        except (OSError, ValueError, SyntaxError, EOFError):
            raise ProcessingError(DAMAGED, FailureCode.DAMAGED) from None
    source.report_progress(1.0)
    return Result(fields=fields, thumbnail=thumbnail)
