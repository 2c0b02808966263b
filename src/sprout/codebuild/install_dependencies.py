"""Install one set of dependencies, as ``sam build`` does, into ``out/``: the script Sprout's
dependency build (a CodeBuild project) runs. Standard library only: it runs on the build image's
own Python, not in Sprout's Lambda environment.

Its source folder (a zip Sprout's PlanDependencies step writes) holds this script, ``build.json``
(``method``, ``runtime``, ``architecture``, ``manifest``) and the manifest files in ``manifest/``.

- ``pip``: ``pip install -r requirements.txt --target out`` for Lambda's platform: manylinux wheels
  for the architecture and the runtime's Python version (``--only-binary=:all:``), no bytecode
  (``--no-compile``: .pyc files would make the same dependencies differ byte for byte);
- ``npm``: ``npm ci --omit=dev --ignore-scripts`` with the committed lockfile; ``out/`` gets
  ``node_modules/``. Install scripts are not run: they would build native addons for the build
  machine, not for Lambda.

When the installer fails, one line ``SPROUT-DEPENDENCY-ERROR {json}`` names the manifest, the
package and the installer's reason; Sprout reads it from the build's log to say why the build
failed. Exit status 1 then.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MARKER = "SPROUT-DEPENDENCY-ERROR"
PLATFORMS = {
    "x86_64": ["manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64"],
    "arm64": ["manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64"],
}
PIP_MISSING = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"Invalid requirement: '?([^'\n]+)'?"),
    re.compile(r"Cannot install (\S+)"),
)
NPM_MISSING = (
    re.compile(r"404 Not Found - GET \S+/(@?[^/\s]+(?:%2[fF][^\s]+)?) - "),
    re.compile(r"No matching version found for (\S+)"),
    re.compile(r"notarget .*? for (\S+)"),
    re.compile(r"Missing: (\S+) from lock file"),
    re.compile(r"'(\S+)' is not in this registry"),
)


def main() -> int:
    here = Path.cwd()
    spec = json.loads((here / "build.json").read_text())
    out = here / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    manifest = here / "manifest"
    print(f"installing {spec['method']} dependencies of {spec['manifest']} for {spec['runtime']} on {spec['architecture']}")
    if spec["method"] == "pip":
        command, patterns = _pip(spec, manifest, out), PIP_MISSING
    elif spec["method"] == "npm":
        command, patterns = _npm(manifest, out), NPM_MISSING
    else:
        return _fail(spec, None, f"unknown method {spec['method']}")
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=out, capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.stdout.write(done.stderr)
    if done.returncode != 0:
        text = done.stdout + "\n" + done.stderr
        package = next((m.group(1).rstrip(".,;:'\"") for p in patterns if (m := p.search(text))), None)
        reason = _reason(text)
        return _fail(spec, package, reason)
    if spec["method"] == "npm":
        for name in os.listdir(out):
            if name != "node_modules":
                (out / name).unlink()
    _prune(out)
    if not any(out.iterdir()):
        (out / ".installed-nothing").write_text("")  # the artifact is never empty
    print(f"installed into out/: {sorted(p.name for p in out.iterdir())[:20]}")
    return 0


def _pip(spec: dict, manifest: Path, out: Path) -> list[str]:
    version = spec["runtime"].removeprefix("python")
    command = [sys.executable, "-m", "pip", "install", "--requirement", str(manifest / "requirements.txt")]
    command += ["--target", str(out), "--implementation", "cp", "--python-version", version]
    for platform in PLATFORMS[spec["architecture"]]:
        command += ["--platform", platform]
    return command + ["--only-binary=:all:", "--no-compile", "--no-input", "--disable-pip-version-check", "--no-warn-script-location"]


def _npm(manifest: Path, out: Path) -> list[str]:
    for item in manifest.iterdir():
        shutil.copy(item, out / item.name)
    return ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]


def _prune(out: Path) -> None:
    """What would make the same dependencies differ between two installs: bytecode caches."""
    for cache in list(out.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


def _reason(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR:", "npm ERR!", "npm error"))]
    chosen = errors or lines[-3:]
    return " ".join(chosen)[:600]


def _fail(spec: dict, package: str | None, reason: str) -> int:
    detail = {"manifest": spec["manifest"], "package": package, "method": spec["method"], "reason": reason}
    print(f"{MARKER} {json.dumps(detail)}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
