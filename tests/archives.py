"""Zip archives for tests, made in memory."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping


def zip_of(files: Mapping[str, str | bytes]) -> bytes:
    """A zip holding each name with its text or bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
