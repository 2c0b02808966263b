"""What ``sam build`` does for a layer or function with ``Metadata: BuildMethod: pythonX.Y`` and a
``requirements.txt``, done offline: the requirements (and everything they depend on) are copied
from the distributions installed in this interpreter's environment into ``python/`` of a build
folder, the layout Lambda mounts at ``/opt``. A requirement that is not installed here, or is
installed at another version than its pin, fails the build with its name — nothing is fetched.

Packages the Lambda Python runtime already provides (boto3 and its dependencies) are left out, as
``sam build`` would ship them only if asked.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}


class SamBuildError(RuntimeError):
    pass


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(path: Path) -> list[Requirement]:
    reqs = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            reqs.append(Requirement(line))
        except Exception as e:
            raise SamBuildError(f"{path}:{lineno}: cannot parse requirement {line!r}: {e}") from e
    return reqs


def _closure(roots: list[Requirement], where: Path) -> dict[str, metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    pending: list[tuple[Requirement, set[str]]] = [(r, set(r.extras)) for r in roots]
    while pending:
        req, extras = pending.pop()
        name = _canonical(req.name)
        if name in RUNTIME_PROVIDED or name in found:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise SamBuildError(f"{where}: requirement {req} is not installed in this environment") from None
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            raise SamBuildError(f"{where}: requirement {req} but {dist.version} is installed")
        found[name] = dist
        for dep in dist.requires or ():
            dep_req = Requirement(dep)
            if dep_req.marker and not any(dep_req.marker.evaluate({"extra": e}) for e in (extras or {""})):
                continue
            pending.append((dep_req, set(dep_req.extras)))
    return found


def build_python_dependencies(source_dir: Path, build_root: Path, layer: bool = True) -> Path:
    """Build ``source_dir`` (a ContentUri or CodeUri with requirements.txt) as ``sam build`` does:
    for a layer, a folder whose ``python/`` holds the dependencies; for a function, its code with
    the dependencies next to it. Cached by the requirements' content (and a function's code)."""
    requirements = source_dir / "requirements.txt"
    if not requirements.is_file():
        raise SamBuildError(f"{source_dir}: BuildMethod python needs a requirements.txt")
    dists = _closure(_requirements(requirements), requirements)
    defining = hashlib.sha256(
        "\n".join(sorted(f"{n}=={d.version}" for n, d in dists.items())).encode() + requirements.read_bytes()
    )
    code = [] if layer else sorted(p for p in source_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in code:
        defining.update(str(path.relative_to(source_dir)).encode() + b"\0" + path.read_bytes())
    key = ("layer-" if layer else "function-") + defining.hexdigest()[:16]
    out = build_root / key
    if (out / ".complete").exists():
        return out
    if out.exists():
        shutil.rmtree(out)
    target = out / "python" if layer else out
    target.mkdir(parents=True)
    for path in code:  # a function's own files first: sam build copies the source, then installs
        dest = target / path.relative_to(source_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    for dist in dists.values():
        for file in dist.files or ():
            parts = Path(str(file)).parts
            if parts and (parts[0] == ".." or "__pycache__" in parts or parts[0].endswith(".dist-info")):
                continue
            src = Path(dist.locate_file(file))
            if src.is_file() and not (target / file).exists():
                dest = target / file
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
    (out / ".complete").write_text(key)
    return out
