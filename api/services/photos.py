"""Uploaded photos (proof of delivery, a village service point): the accepted types, the
checks of an upload, atomic storage under the photo directory and safe reading back.

The rules are those of the stop photos (:mod:`api.routers.sheets`): the declared content
type and the file's first bytes must both say JPEG, PNG or WebP; at most
``Settings.photo_max_bytes``; written atomically; a stored path is served only when it
resolves to a regular file inside the photo directory.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import BinaryIO

from fastapi import status

from api.errors import DomainError
from routing.errors import InputError

__all__ = [
    "PHOTO_MEDIA",
    "PHOTO_TYPES",
    "PhotoTooLarge",
    "UnsupportedPhoto",
    "read_photo",
    "sniff",
    "store_photo",
    "stored_photo",
    "write_atomically",
]

#: Accepted photo types: content type -> file extension.
PHOTO_TYPES: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
}
#: Stored photo extension -> the content type it is served with (the first of PHOTO_TYPES).
PHOTO_MEDIA: dict[str, str] = {}
for _mime, _ext in PHOTO_TYPES.items():
    PHOTO_MEDIA.setdefault(_ext, _mime)


class UnsupportedPhoto(DomainError):
    """Not a JPEG, PNG or WebP image (declared or by its bytes)."""

    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE


class PhotoTooLarge(DomainError):
    """Larger than the service's photo limit."""

    status_code = status.HTTP_413_CONTENT_TOO_LARGE


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are (jpg, png, webp), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def read_photo(content_type: str | None, stream: BinaryIO, max_bytes: int) -> tuple[bytes, str]:
    """The upload's bytes and extension, checked: declared type (415), size (413), not
    empty (422 naming ``file``), the bytes' own type matching the declared one (415)."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared not in PHOTO_TYPES:
        raise UnsupportedPhoto(
            f"a photo must be image/jpeg, image/png or image/webp, not {declared or '?'}"
        )
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"a photo may have at most {max_bytes} bytes")
    if not data:
        raise InputError("file", "the file is empty")
    ext = sniff(data)
    if ext is None or ext != PHOTO_TYPES[declared]:
        raise UnsupportedPhoto(f"the file's content is not a {declared} image")
    return data, ext


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_photo(photo_dir: Path, folder: str, stem: str, data: bytes, ext: str) -> str:
    """Write ``data`` as ``<folder>/<stem>-<uuid>.<ext>`` under ``photo_dir`` (atomically)
    and answer that relative path."""
    directory = photo_dir / folder
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{stem}-{uuid.uuid4().hex}.{ext}"
    write_atomically(directory / name, data)
    return f"{folder}/{name}"


def stored_photo(photo_dir: Path, relative: str | None) -> Path | None:
    """The stored file of ``relative``, or None when missing, not a regular file, of
    another type, or resolving outside ``photo_dir`` (a planted symlink is never served)."""
    if not relative:
        return None
    root = photo_dir.resolve()
    try:
        real = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root) or not real.is_file():
        return None
    if real.suffix.lstrip(".") not in PHOTO_MEDIA:
        return None
    return real
