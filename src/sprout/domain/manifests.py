"""What an app's dependency manifest may say: requirements and nothing else.

A dependency build installs, it never executes, and it reaches only the package registries the
machine is configured with. pip and npm both let a manifest carry options that would undo that
(pip reads option lines in a requirements file — ``--no-binary :all:`` builds an sdist, running its
``setup.py``; ``-r /etc/passwd`` reads a host file; ``--index-url`` names another index — and npm
fetches ``file:``, ``git+…`` and URL dependencies from wherever they point), so Sprout refuses every
such line before any build runs (PlanDependencies) and again in the dependency build's installer.

- ``requirements.txt``: each logical line (pip's own splitting: ``str.splitlines``, ``\\``
  continuations joined, ``#`` comments at a line's start or after whitespace) must be a PEP 508
  requirement by name — name, extras, version specifiers, environment markers — optionally with
  per-requirement ``--hash=ALGORITHM:HEX``. Option lines (anything starting with ``-``), URLs,
  paths, ``name @ url`` references, ``${VARIABLE}`` (pip expands environment variables: the build's
  credentials) and encoding declarations (pip honours ``# coding: …``) are refused, naming the file
  and the line number. The file must be UTF-8.
- ``package.json``: dependency specs are versions, ranges or tags (``npm:name@range`` aliases are
  registry packages too); ``file:``, ``link:``, ``git…``, URLs, ``user/repo`` and paths are refused,
  and so are ``workspaces`` (local folders). The lockfile's packages must be registry packages
  under ``node_modules/``: no ``link`` entries, ``resolved`` only an ``https://`` tarball.

Standard library only: the dependency build's installer (sprout/codebuild/install_dependencies.py)
runs it on the build image's own Python, shipped beside it in the build's source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

SHOWN = 80  # how much of a refused line an error repeats
HASH_OPTION = re.compile(r"^--hash=(sha256|sha384|sha512):[0-9a-fA-F]+$")
HASH_VALUE = re.compile(r"^(sha256|sha384|sha512):[0-9a-fA-F]+$")
COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's COMMENT_RE
ENCODING = re.compile(rb"coding[:=]\s*([-\w.]+)")  # what pip reads as an encoding declaration
NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
VERSION_SPEC = r"(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
SPECS = rf"{VERSION_SPEC}(?:\s*,\s*{VERSION_SPEC})*"
MARKER = r"[A-Za-z0-9_.\s'\"()<>=!~,*+-]+"
REQUIREMENT = re.compile(
    rf"^{NAME}\s*(?:\[\s*(?:{NAME}(?:\s*,\s*{NAME})*)?\s*\])?\s*"
    rf"(?:{SPECS}|\(\s*{SPECS}\s*\))?\s*(?:;{MARKER})?$"
)
ARCHIVE = (".whl", ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz")
NPM_SPEC = re.compile(r"^[A-Za-z0-9.*+^~<>=|\s_-]*$")  # versions, ranges, tags
NPM_ALIAS = re.compile(rf"^npm:(?:@{NAME}/)?{NAME}(?:@[A-Za-z0-9.*+^~<>=|\s_-]*)?$")
DEPENDENCY_FIELDS = ("dependencies", "optionalDependencies", "peerDependencies", "devDependencies")


class ManifestRefused(ValueError):
    """A manifest says something a dependency build must not do; the message names file and line."""


def shown(text: str) -> str:
    text = text.strip()
    return json.dumps(text if len(text) <= SHOWN else text[:SHOWN] + "…")


# ---- requirements.txt --------------------------------------------------------------------------


def check_requirements(data: bytes, path: str) -> list[str]:
    """The requirements of a requirements.txt (``name[extras] specs ; markers``, hashes kept), or
    ManifestRefused naming ``path`` and the line."""
    for number, raw in enumerate(data.split(b"\n")[:2], start=1):
        if raw.lstrip().startswith(b"#") and ENCODING.search(raw):
            raise ManifestRefused(f"{path} line {number}: an encoding declaration is refused: {path} must be UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ManifestRefused(f"{path}: is not UTF-8 (byte {e.start})") from None
    requirements = []
    for number, line in _logical_lines(text.removeprefix("\ufeff")):
        line = COMMENT.sub("", line).strip()
        if line:
            requirements.append(_requirement(line, path, number))
    return requirements


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's ``join_lines``: a line ending in ``\\`` continues on the next (a comment line never does)."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.endswith("\\") or COMMENT.match(line):
            if COMMENT.match(line):
                line = " " + line
            if pending:
                yield first, "".join(pending) + line
                pending = []
            else:
                yield number, line
        else:
            if not pending:
                first = number
            pending.append(line.strip("\\"))
    if pending:
        yield first, "".join(pending)


def _requirement(line: str, path: str, number: int) -> str:
    where = f"{path} line {number}"
    if line.startswith("-"):
        raise ManifestRefused(
            f"{where}: option line {shown(line)} is refused: a requirements file may hold requirements only "
            "(name, extras, versions, markers, --hash); Sprout installs wheels from the machine's index"
        )
    tokens = line.split()
    first_option = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
    requirement, options = " ".join(tokens[:first_option]), tokens[first_option:]
    if "$" in requirement or any("$" in option for option in options):
        raise ManifestRefused(f"{where}: {shown(line)} is refused: environment variables (${{…}}) are not expanded")
    if not REQUIREMENT.match(requirement) or requirement.split(";")[0].strip().lower().endswith(ARCHIVE):
        raise ManifestRefused(
            f"{where}: {shown(line)} is refused: only a requirement by name (name[extras] versions ; markers) "
            "is installed, not a URL, a path, a file or a name @ reference"
        )
    at = 0
    while at < len(options):
        option = options[at]
        if HASH_OPTION.match(option):
            at += 1
        elif option == "--hash" and at + 1 < len(options) and HASH_VALUE.match(options[at + 1]):
            at += 2
        else:
            raise ManifestRefused(
                f"{where}: option {shown(option)} is refused: the only option a requirement may carry is "
                "--hash=ALGORITHM:HEX"
            )
    return " ".join(tokens)


# ---- package.json and its lockfile -------------------------------------------------------------


def check_package_json(declared: dict[str, Any], path: str) -> None:
    """Refuse a package.json whose dependencies are not registry packages (names a field)."""
    if "workspaces" in declared:
        raise ManifestRefused(f"{path}: workspaces are refused: a dependency build installs registry packages only")
    for field in DEPENDENCY_FIELDS:
        deps = declared.get(field) or {}
        if not isinstance(deps, dict):
            raise ManifestRefused(f"{path}: {field} must be an object of name: version")
        for name, spec in deps.items():
            if not isinstance(spec, str) or not (NPM_SPEC.match(spec) or NPM_ALIAS.match(spec)):
                raise ManifestRefused(
                    f"{path}: {field}.{name} {shown(str(spec))} is refused: only a version, a range or a tag of a "
                    "registry package is installed, not a file, link, git or URL dependency"
                )
    _check_overrides(declared.get("overrides"), path, "overrides")


def _check_overrides(value: object, path: str, where: str) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if not (NPM_SPEC.match(value) or NPM_ALIAS.match(value) or value.startswith("$")):
            raise ManifestRefused(f"{path}: {where} {shown(value)} is refused: only versions of registry packages")
        return
    if not isinstance(value, dict):
        raise ManifestRefused(f"{path}: {where} must be an object")
    for name, inner in value.items():
        _check_overrides(inner, path, f"{where}.{name}")


def check_lockfile(locked: dict[str, Any], path: str) -> None:
    """Refuse a lockfile with packages that are not registry tarballs: links, local folders, ``file:``,
    git or plain-HTTP ``resolved`` (names the package)."""
    packages = locked.get("packages")
    if packages is not None:
        if not isinstance(packages, dict):
            raise ManifestRefused(f"{path}: packages must be an object")
        for where, entry in packages.items():
            if where == "":
                continue
            if not where.startswith("node_modules/") or "/../" in f"/{where}/":
                raise ManifestRefused(f"{path}: package {shown(where)} is refused: only node_modules/ entries are installed")
            _check_locked(entry, path, where)
    _check_v1(locked.get("dependencies"), path, "dependencies")


def _check_v1(dependencies: object, path: str, where: str) -> None:
    if dependencies is None:
        return
    if not isinstance(dependencies, dict):
        raise ManifestRefused(f"{path}: {where} must be an object")
    for name, entry in dependencies.items():
        _check_locked(entry, path, f"{where}.{name}")
        if isinstance(entry, dict):
            version = entry.get("version")
            if isinstance(version, str) and ":" in version and not version.startswith("npm:"):
                raise ManifestRefused(f"{path}: {where}.{name} version {shown(version)} is refused: registry packages only")
            _check_v1(entry.get("dependencies"), path, f"{where}.{name}.dependencies")


def _check_locked(entry: object, path: str, where: str) -> None:
    if not isinstance(entry, dict):
        raise ManifestRefused(f"{path}: {where} must be an object")
    if entry.get("link"):
        raise ManifestRefused(f"{path}: {where} is a link to a local folder: refused, registry packages only")
    resolved = entry.get("resolved")
    if resolved is not None and (not isinstance(resolved, str) or not resolved.startswith("https://")):
        raise ManifestRefused(
            f"{path}: {where} resolved {shown(str(resolved))} is refused: only https:// registry tarballs are installed"
        )
