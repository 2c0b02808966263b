"""Which interpreter runs a function: the version its ``Runtime`` declares where this machine has it.

Lambda runs ``python3.13`` on Python 3.13 and ``nodejs20.x`` on Node.js 20. The local cloud looks
for that version here and otherwise runs the function on what it has, saying so (``notice``) so
that nobody mistakes a 3.11 run for a 3.13 one:

- Python ``X.Y``: the cloud's own interpreter when it is ``X.Y``; else ``pythonX.Y`` on ``PATH``;
  else pyenv's ``$PYENV_ROOT/versions/X.Y.*/bin/pythonX.Y`` (newest first). Fallback: the cloud's
  own interpreter. Except: code or layers whose compiled modules are all for one other CPython
  (``*.cpython-311-*.so``: dependencies built with this machine's interpreter) run on that one,
  which is said too; on the declared version they could not be imported.
- Node.js ``N``: ``node`` on ``PATH`` when it is ``vN``; else ``nodeN`` on ``PATH``; else nvm's
  ``$NVM_DIR/versions/node/vN.*/bin/node``. Fallback: ``node`` on ``PATH``.

Every candidate is run once (``-c``/``-p`` printing its version) before it is trusted: a pyenv
shim for a version that is not selected exists on ``PATH`` but does not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Interpreter:
    executable: str
    version: str  # what it reported: "3.13.0", "20.20.2"
    exact: bool  # it is the version the runtime declares
    notice: str | None = None  # what to say when it is not


@lru_cache(maxsize=64)
def probe(executable: str, kind: str) -> str | None:
    """The version ``executable`` reports (``3.13.0`` / ``20.20.2``), or None when it does not run."""
    code = (
        ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]
        if kind == "python"
        else ["-p", "process.versions.node"]
    )
    try:
        done = subprocess.run(
            [executable, *code], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.strip()
    return text if done.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", text) else None


def _newest_first(paths: list[Path]) -> list[Path]:
    def key(p: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", p.parts[-3]))

    return sorted(paths, key=key, reverse=True)


def python_candidates(major_minor: str) -> list[str]:
    found = [shutil.which(f"python{major_minor}")]
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found += [str(p) for p in _newest_first(list(root.glob(f"versions/{major_minor}.*/bin/python{major_minor}")))]
    return [p for p in found if p]


def node_candidates(major: str) -> list[str]:
    found = [shutil.which("node"), shutil.which(f"node{major}")]
    root = Path(os.environ.get("NVM_DIR") or Path.home() / ".nvm")
    found += [str(p) for p in _newest_first(list(root.glob(f"versions/node/v{major}.*/bin/node")))]
    return [p for p in found if p]


def own_python() -> str:
    return getattr(sys, "_base_executable", None) or sys.executable


_COMPILED = re.compile(r"\.cpython-(\d)(\d+)(-[^.]*)?\.so$")  # extension modules, not __pycache__


@lru_cache(maxsize=1024)
def compiled_for(folder: str) -> tuple[tuple[str, ...], str | None]:
    """(the CPython versions whose compiled modules ``folder`` holds, one such file), e.g.
    ``(("3.11",), ".../rpds.cpython-311-x86_64-linux-gnu.so")``. Folders of extracted code never
    change, hence the cache."""
    versions: set[str] = set()
    example = None
    for root, _, files in os.walk(folder):
        for name in files:
            m = _COMPILED.search(name)
            if m:
                versions.add(f"{m.group(1)}.{m.group(2)}")
                example = example or os.path.join(root, name)
    return tuple(sorted(versions)), example


def _find_python(wanted: str, fallback: str) -> tuple[str, str] | None:
    own = ".".join(str(n) for n in sys.version_info[:3])
    if fallback == own_python() and own.startswith(wanted + "."):
        return fallback, own
    for candidate in python_candidates(wanted):
        version = probe(candidate, "python")
        if version is not None and version.startswith(wanted + "."):
            return candidate, version
    return None


def python_for(runtime: str, fallback: str | None = None, code_dirs: tuple[str, ...] = ()) -> Interpreter:
    """The interpreter for ``runtime`` (``python3.13``); see the module doc. When the function's
    code or layers (``code_dirs``) hold modules compiled for one other CPython version only (a
    dependency build made with this machine's interpreter), that version runs it: on the declared
    one they could not be imported."""
    fallback = fallback or own_python()
    wanted = runtime.removeprefix("python")
    built: set[str] = set()
    example = None
    for folder in code_dirs:
        versions, found = compiled_for(folder)
        built.update(versions)
        example = example or found
    if len(built) == 1 and wanted not in built:
        (other,) = built
        chosen = _find_python(other, fallback)
        if chosen is not None:
            return Interpreter(
                chosen[0],
                chosen[1],
                False,
                f"declares {runtime}, but its code holds modules compiled for CPython {other} only ({example}): "
                f"it runs on Python {chosen[1]} ({chosen[0]})",
            )
    chosen = _find_python(wanted, fallback)
    if chosen is not None:
        return Interpreter(chosen[0], chosen[1], True)
    version = probe(fallback, "python") or ".".join(str(n) for n in sys.version_info[:3])
    return Interpreter(
        fallback,
        version,
        False,
        f"declares {runtime}, and this machine has no Python {wanted}: it runs on Python {version} ({fallback})",
    )


def node_for(runtime: str) -> Interpreter | None:
    """The ``node`` for ``runtime`` (``nodejs20.x``), or None when there is no node at all."""
    match = re.fullmatch(r"nodejs(\d+)\.x", runtime)
    wanted = match.group(1) if match else ""
    fallback: Interpreter | None = None
    for candidate in node_candidates(wanted):
        version = probe(candidate, "node")
        if version is None:
            continue
        if wanted and version.split(".")[0] == wanted:
            return Interpreter(candidate, version, True)
        if fallback is None:
            fallback = Interpreter(
                candidate,
                version,
                False,
                f"declares {runtime}, and this machine has no Node.js {wanted or '?'}: it runs on Node.js "
                f"{version} ({candidate})",
            )
    return fallback


@lru_cache(maxsize=16)
def precompile(executable: str, sdk_dir: str) -> None:
    """Byte-compile the SDK folder's modules for ``executable`` once (they are this environment's
    boto3, compiled for the cloud's own interpreter only), as Lambda's runtime ships them compiled:
    else the first import in a function compiles botocore inside its timeout."""
    targets = [str(p.resolve()) for p in sorted(Path(sdk_dir).iterdir())]
    if targets:
        subprocess.run(
            [executable, "-I", "-m", "compileall", "-q", *targets], capture_output=True, timeout=300, check=False
        )

