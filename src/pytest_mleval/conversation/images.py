"""A case's images: local files (relative to the eval file) or ``data:`` URLs, read once.

Never fetched from the network: an ``http(s)://`` image is an error of its case, as is a file
that is missing, unreadable or not an image. The bytes travel inside the request as a
``data:`` URL, so the request's cache key covers them; results keep the source, type, size and
SHA-256 (and the data URL of a small image, for the report's thumbnail).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "IMAGE_REF_PREFIX",
    "MAX_IMAGE_BYTES",
    "THUMBNAIL_MAX_BYTES",
    "ImageError",
    "ImageRef",
    "image_part",
    "load_image",
    "without_image_data",
]

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""Largest image a case may send (OpenAI's own limit per image)."""

THUMBNAIL_MAX_BYTES = 512 * 1024
"""Images up to this size are kept whole in the results, for the report's thumbnail."""

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_DATA_URL = re.compile(r"^data:(image/[\w.+-]+);base64,(.*)$", re.DOTALL)


class ImageError(ValueError):
    """An image that cannot be sent: the message names its source."""


@dataclass(frozen=True)
class ImageRef:
    """One image of a case, read and checked.

    Attributes:
        source: as the eval file wrote it (a path, or ``data:...`` shortened for display).
        mime: ``image/png``, ``image/jpeg``, ``image/gif`` or ``image/webp``.
        sha256: hex digest of the image bytes.
        size: number of bytes.
        data_url: the bytes as a ``data:`` URL (what the request carries).
    """

    source: str
    mime: str
    sha256: str
    size: int
    data_url: str

    def record(self) -> dict[str, Any]:
        """What the results keep: the data URL only for an image small enough to show."""
        return {
            "source": self.source,
            "mime": self.mime,
            "sha256": self.sha256,
            "size": self.size,
            "data_url": self.data_url if self.size <= THUMBNAIL_MAX_BYTES else None,
        }


def _sniff(data: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def load_image(source: str, base_dir: Path | None) -> ImageRef:
    """Read one image: a file path (relative to ``base_dir``) or a base64 ``data:`` URL.

    Raises:
        ImageError: the image is a network URL, missing, unreadable, too large or not a PNG,
            JPEG, GIF or WebP image; the message names ``source``.
    """
    text = str(source).strip()
    if re.match(r"^[a-zA-Z][\w+.-]*://", text):
        raise ImageError(
            f"image {text!r}: images are never fetched from the network; save it next to the "
            "eval file and give its path (or a data: URL)"
        )
    if text.startswith("data:"):
        m = _DATA_URL.match(text)
        if m is None:
            raise ImageError(f"image {text[:40]!r}…: write data URLs as data:image/TYPE;base64,…")
        try:
            data = base64.b64decode(m.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise ImageError(f"image {text[:40]!r}…: its base64 data does not decode") from None
        shown = f"{text[:32]}…" if len(text) > 32 else text
        return _checked(shown, data)
    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ImageError(
                f"image {text!r}: {size:,} bytes is over the {MAX_IMAGE_BYTES:,} limit"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"image {text!r} not found (looked at {path})") from None
    except IsADirectoryError:
        raise ImageError(f"image {text!r} is a directory") from None
    except OSError as exc:
        raise ImageError(f"image {text!r} cannot be read: {exc.strerror or exc}") from None
    return _checked(text, data)


def _checked(source: str, data: bytes) -> ImageRef:
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(
            f"image {source!r}: {len(data):,} bytes is over the {MAX_IMAGE_BYTES:,} limit"
        )
    mime = _sniff(data)
    if mime is None:
        raise ImageError(f"image {source!r} is not a PNG, JPEG, GIF or WebP image")
    encoded = base64.b64encode(data).decode("ascii")
    return ImageRef(
        source=source,
        mime=mime,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        data_url=f"data:{mime};base64,{encoded}",
    )


IMAGE_REF_PREFIX = "mleval-image:"
"""How stored messages refer to an image of the case's ``images`` (followed by its SHA-256)."""


def without_image_data(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The messages with every base64 image replaced by ``mleval-image:SHA256``.

    Results keep each image once (in the case's ``images``), not inside every message and
    trajectory that sent it.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(_is_data_image(p) for p in content):
            message = {
                **message,
                "content": [
                    {"type": "image_url", "image_url": {"url": IMAGE_REF_PREFIX + _digest(p)}}
                    if _is_data_image(p)
                    else p
                    for p in content
                ],
            }
        out.append(dict(message))
    return out


def _is_data_image(part: Any) -> bool:
    if not isinstance(part, Mapping) or part.get("type") != "image_url":
        return False
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else None
    return isinstance(url, str) and url.startswith("data:")


def _digest(part: Mapping[str, Any]) -> str:
    url = str(part["image_url"]["url"])
    _, _, data = url.partition(",")
    try:
        raw = base64.b64decode(data)
    except (binascii.Error, ValueError):
        raw = url.encode()
    return hashlib.sha256(raw).hexdigest()


def image_part(image: ImageRef) -> dict[str, Any]:
    """The OpenAI ``image_url`` content part that sends ``image``."""
    return {"type": "image_url", "image_url": {"url": image.data_url}}
