"""Where a function version's code lives on disk: its zip (as moto stores it) extracted once per
(function, version, code sha256), its layers extracted once per layer version, and the SDK folder
that plays the Lambda Python runtime's bundled boto3."""

from __future__ import annotations

import base64
import binascii
import importlib.util
import io
import os
import shutil
import threading
import uuid
import zipfile
from pathlib import Path

# What Lambda's Python runtime bundles: boto3 and its dependencies, nothing else.
SDK_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


class BadCode(Exception):
    """The function's or a layer's zip cannot be unpacked."""


_lock = threading.Lock()


def sha_folder_name(code_sha256: str) -> str:
    """Lambda's CodeSha256 is base64; a folder name wants hex."""
    try:
        return base64.b64decode(code_sha256, validate=True).hex()
    except (binascii.Error, ValueError):
        return "".join(c for c in code_sha256 if c.isalnum()) or "nocode"


def extract_once(target: Path, zip_bytes: bytes, what: str) -> Path:
    """Unpack ``zip_bytes`` into ``target`` unless it is already there (atomic: tmp dir + rename)."""
    if target.is_dir():
        return target
    with _lock:
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}"
        try:
            with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
                zf.extractall(tmp)
        except (zipfile.BadZipFile, ValueError, OSError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BadCode(f"Lambda was unable to unzip the deployment package of {what}: {e}") from e
        os.rename(tmp, target)
    return target


def layer_paths(runtime: str, layer_root: Path) -> list[str]:
    """The folders of an extracted layer that Lambda puts on the module path (/opt/python, ...)."""
    if runtime.startswith("python"):
        candidates = [layer_root / "python"]
        lib = layer_root / "python" / "lib"
        if lib.is_dir():
            candidates[:0] = sorted(lib.glob("python3*/site-packages"))
    else:
        candidates = [
            layer_root / "nodejs" / "node_modules",
            *sorted((layer_root / "nodejs").glob("node*/node_modules")),
        ]
    return [str(p) for p in candidates if p.is_dir()]


def python_sdk_dir(base: Path) -> Path:
    """A folder holding only boto3 and its dependencies (symlinks into this interpreter's copies),
    so a function sees the SDK as on Lambda but nothing else of the project's environment."""
    target = base / "python-sdk"
    with _lock:
        target.mkdir(parents=True, exist_ok=True)
        for name in SDK_MODULES:
            spec = importlib.util.find_spec(name)
            if spec is None:
                continue
            if spec.submodule_search_locations:
                source, link = Path(list(spec.submodule_search_locations)[0]), target / name
            else:
                source = Path(spec.origin or "")
                link = target / source.name
            if not link.exists():
                link.symlink_to(source)
    return target
