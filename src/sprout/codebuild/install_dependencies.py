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
  machine, not for Lambda. Without a lockfile (``resolve``), ``npm install`` with the same flags
  resolves the versions, as ``sam build`` does; the lockfile it wrote is kept in
  ``out/.sprout-resolved/`` for the build's record;
- ``esbuild``: the function's folder (in ``manifest/``) with its production dependencies installed
  as above, bundled by esbuild ``ESBUILD_VERSION`` (installed with npm into ``tools/``, its platform
  binary from its optional dependency, no scripts run) with ``build.json``'s ``options``; ``out/``
  gets the bundle.

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
    elif spec["method"] == "npm" and spec.get("resolve"):
        command, patterns = _npm_resolve(manifest, out), NPM_MISSING
    elif spec["method"] == "npm":
        command, patterns = _npm(manifest, out), NPM_MISSING
    elif spec["method"] == "esbuild":
        return _bundle(spec, here, manifest, out)
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
        _keep_resolved(out, spec)
        for name in os.listdir(out):
            if name not in ("node_modules", RESOLVED):
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


NPM_FLAGS = ["--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
RESOLVED = ".sprout-resolved"
ESBUILD_VERSION = "0.28.2"


def _npm_resolve(manifest: Path, out: Path) -> list[str]:
    """No lockfile: npm install resolves the versions (and writes package-lock.json)."""
    for item in manifest.iterdir():
        shutil.copy(item, out / item.name)
    return ["npm", "install", *NPM_FLAGS]


def _keep_resolved(folder: Path, spec: dict, into: Path | None = None) -> None:
    """What npm install resolved, kept for the build's record (only when it resolved)."""
    lockfile = folder / "package-lock.json"
    if spec.get("resolve") and lockfile.exists():
        (into or folder).joinpath(RESOLVED).mkdir(exist_ok=True)
        shutil.copy(lockfile, (into or folder) / RESOLVED / "package-lock.json")


def _bundle(spec: dict, here: Path, source: Path, out: Path) -> int:
    """The folder's dependencies installed (when it declares some), then esbuild over it."""
    work, tools = here / "work", here / "tools"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    steps = []
    package = work / "package.json"
    if package.exists() and (json.loads(package.read_text()).get("dependencies") or {}):
        install = "install" if spec.get("resolve") else "ci"
        steps.append((["npm", install, *NPM_FLAGS], work, NPM_MISSING))
    tools.mkdir(exist_ok=True)
    steps.append((["npm", "install", "--no-save", "--no-package-lock", *NPM_FLAGS, f"esbuild@{ESBUILD_VERSION}"], tools, NPM_MISSING))
    steps.append((_esbuild_command(spec["options"], tools, out), work, ()))
    for command, cwd, patterns in steps:
        print("$", " ".join(command), flush=True)
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        sys.stdout.write(done.stdout + done.stderr)
        if done.returncode != 0:
            text = done.stdout + "\n" + done.stderr
            package_name = next((m.group(1).rstrip(".,;:'\"") for p in patterns if (m := p.search(text))), None)
            return _fail(spec, package_name, _reason(text) if patterns else _esbuild_reason(text))
    _keep_resolved(work, spec, into=out)
    print(f"bundled into out/: {sorted(str(p.relative_to(out)) for p in out.rglob('*') if p.is_file())[:20]}")
    return 0


def _esbuild_command(options: dict, tools: Path, out: Path) -> list[str]:
    command = ["node", str(tools / "node_modules" / "esbuild" / "bin" / "esbuild"), *options["entryPoints"]]
    command += ["--bundle", "--platform=node", f"--outdir={out}", f"--target={options['target']}",
                f"--format={options['format']}", "--log-level=warning"]
    command += ["--minify"] if options.get("minify") else []
    command += ["--sourcemap"] if options.get("sourcemap") else []
    return command + [f"--external:{name}" for name in options.get("external") or []]


def _esbuild_reason(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error:" in line]
    return " ".join(errors or lines[-3:])[:600]


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
