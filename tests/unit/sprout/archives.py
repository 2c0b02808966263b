"""Zip archives for tests, made in memory."""

from __future__ import annotations

import io
import zipfile


def zip_of(names: dict[str, bytes]) -> bytes:
    """A zip holding each name with its bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return buffer.getvalue()
