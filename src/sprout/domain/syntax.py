"""Catch what can be caught before anything is deployed: a function's source that does not parse.

Python sources are compiled in-process (``compile``, as ``py_compile`` does, without writing a
``.pyc``); JavaScript sources are handed to a checker (``node --check``, see
sprout.adapters.node_check). A failure names the function, the file (as the repository names
it), the line and the parser's message.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable

from sprout.domain.errors import PackagingError

PYTHON = (".py",)
JAVASCRIPT = (".js", ".mjs", ".cjs")

# (file name, source) -> None when it parses, else (line, message)
ScriptChecker = Callable[[str, bytes], "tuple[int | None, str] | None"]


def check_function(
    logical_id: str, runtime: str | None, zip_bytes: bytes, where: str, js_checker: ScriptChecker | None
) -> int:
    """Check every source file of a function's zip for its runtime; the number of files checked.
    ``where`` is the function's folder in the repository, to name files as the user sees them."""
    runtime = runtime or ""
    checked = 0
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        for name in archive.namelist():
            shown = posixpath.join(where, name) if where else name
            if runtime.startswith("python") and name.endswith(PYTHON):
                _check_python(logical_id, shown, archive.read(name))
                checked += 1
            elif runtime.startswith("nodejs") and name.endswith(JAVASCRIPT) and js_checker is not None:
                if "node_modules/" in name:
                    continue
                problem = js_checker(name, archive.read(name))
                if problem is not None:
                    line, message = problem
                    at = f", line {line}" if line else ""
                    raise PackagingError(f"{logical_id}: {shown}{at}: {message}")
                checked += 1
    return checked


def _check_python(logical_id: str, shown: str, source: bytes) -> None:
    try:
        compile(source, shown, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise PackagingError(f"{logical_id}: {shown}, line {e.lineno}: {e.msg}") from None
    except ValueError as e:  # e.g. a null byte in the source
        raise PackagingError(f"{logical_id}: {shown}: {e}") from None
