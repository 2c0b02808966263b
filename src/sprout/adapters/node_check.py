"""``node --check`` for JavaScript sources, as a sprout.domain.syntax checker.

It needs a ``node`` on the PATH of whatever runs the package step; where there is none (Lambda's
Python runtime), ``node_checker()`` returns None and JavaScript is not syntax-checked there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

from sprout.domain.syntax import ScriptChecker

_LINE = re.compile(r":(\d+)\s*$")


def node_checker() -> ScriptChecker | None:
    node = shutil.which("node")
    if node is None:
        return None

    def check(name: str, source: bytes) -> tuple[int | None, str] | None:
        suffix = os.path.splitext(name)[1] or ".js"
        with tempfile.NamedTemporaryFile(suffix=suffix) as f:
            f.write(source)
            f.flush()
            done = subprocess.run([node, "--check", f.name], capture_output=True, text=True, timeout=30)
        if done.returncode == 0:
            return None
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        line_no = None
        if lines and (m := _LINE.search(lines[0])):
            line_no = int(m.group(1))
        message = next((line for line in lines if re.match(r"^\w*Error\b", line)), lines[-1] if lines else "does not parse")
        return line_no, message.strip()

    return check
