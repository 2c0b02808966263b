"""Install one set of dependencies, as ``sam build`` does, into ``out/``: the script Sprout's
dependency build (a CodeBuild project) runs. Standard library only: it runs on the build image's
own Python, not in Sprout's Lambda environment.

Its source folder (a zip Sprout's PlanDependencies step writes) holds this script, ``manifests.py``
(sprout.domain.manifests: what a manifest may say), ``build.json`` (``method``, ``runtime``,
``architecture``, ``manifest``) and the manifest files in ``manifest/``.

It installs and never executes: the manifest is checked again first (an option line, a URL, a path,
a ``file:``/git dependency fails naming the file and the line, and nothing runs), then

- ``pip``: ``pip install -r requirements.txt --target out`` for Lambda's platform: manylinux wheels
  for the architecture and the runtime's Python version (``--only-binary=:all:``: no sdist, so no
  ``setup.py``, ever), no bytecode (``--no-compile``: .pyc files would make the same dependencies
  differ byte for byte);
- ``npm``: ``npm ci --omit=dev --ignore-scripts`` with the committed lockfile (only package.json and
  the lockfile are copied into ``out/``: no ``.npmrc`` of the app's is ever read), no bin links,
  every ``resolved`` tarball fetched from the registry the machine configures
  (``--replace-registry-host=always``); ``out/`` gets ``node_modules/``. Install scripts are not run.
  Without a lockfile (``resolve``), ``npm install`` with the same flags resolves the versions, as
  ``sam build`` does; the lockfile it wrote is kept in ``out/.sprout-resolved/`` for the build's
  record;
- ``esbuild``: the function's folder (in ``manifest/``, without any ``.npmrc``) with its production
  dependencies installed as above, bundled by esbuild ``ESBUILD_VERSION`` (installed with npm into
  ``tools/``, its platform binary from its optional dependency, no scripts run) with
  ``build.json``'s ``options``; ``out/`` gets the bundle.

Command-line options win over every configuration file and variable, and the manifest can set
none of those: pip and npm read the machine's configuration (its index, its registry), no app's.

When the installer fails, one line ``SPROUT-DEPENDENCY-ERROR {json}`` names the manifest, the
package and the installer's reason; Sprout reads it from the build's log to say why the build
failed. Exit status 1 then. The reason keeps the installer's error lines only, cut short, without
a line that names a file outside the build's folder and without the build's credentials.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

if __package__:
    from sprout.domain import manifests
else:  # run as a script in the dependency build: manifests.py is beside it
    import manifests  # type: ignore[no-redef, import-not-found]  # copied beside this script: mypy reads the package

MARKER = "SPROUT-DEPENDENCY-ERROR"
PLATFORMS = {
    "x86_64": ["manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64"],
    "arm64": ["manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64"],
}
PIP_MISSING: tuple[re.Pattern[str], ...] = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"Invalid requirement: '?([^'\n]+)'?"),
    re.compile(r"Cannot install (\S+)"),
)
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"()<>]+")
ABSOLUTE_PATH = re.compile(r"(?<![\w.~/-])/[^\s'\"()<>,;:]+")
READ_FROM = re.compile(r"\(from line \d+ of ([^)]+)\)")
REASON_LINE, REASON = 240, 600
NPM_MISSING: tuple[re.Pattern[str], ...] = (
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
    refused = _refused(spec, manifest)
    if refused:
        return _fail(spec, None, refused)
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
        return _fail(spec, package[:200] if package and _inside(package, here) else None, _reason(text, here))
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


def _refused(spec: dict, manifest: Path) -> str | None:
    """Why the manifest may not be installed (the file and the line), or None."""
    try:
        if spec["method"] == "pip":
            manifests.check_requirements((manifest / "requirements.txt").read_bytes(), spec["manifest"])
        elif spec["method"] in ("npm", "esbuild") and (manifest / "package.json").is_file():
            manifests.check_package_json(json.loads((manifest / "package.json").read_text()), spec["manifest"])
            for name in LOCKFILES:
                if (manifest / name).is_file():
                    folder = spec["manifest"].rpartition("/")[0]
                    manifests.check_lockfile(json.loads((manifest / name).read_text()), f"{folder}/{name}".lstrip("/"))
    except manifests.ManifestRefused as e:
        return str(e)
    except (ValueError, AttributeError) as e:
        return f"{spec['manifest']}: cannot be read ({type(e).__name__})"
    return None


def _pip(spec: dict, manifest: Path, out: Path) -> list[str]:
    version = spec["runtime"].removeprefix("python")
    command = [sys.executable, "-m", "pip", "install", "--requirement", str(manifest / "requirements.txt")]
    command += ["--target", str(out), "--implementation", "cp", "--python-version", version]
    for platform in PLATFORMS[spec["architecture"]]:
        command += ["--platform", platform]
    return command + ["--only-binary=:all:", "--no-compile", "--no-input", "--disable-pip-version-check", "--no-warn-script-location"]


NPM_FLAGS = ["--omit=dev", "--ignore-scripts", "--no-bin-links", "--replace-registry-host=always",
             "--no-audit", "--no-fund", "--loglevel=error"]
RESOLVED = ".sprout-resolved"
ESBUILD_VERSION = "0.28.2"


def _npm(manifest: Path, out: Path) -> list[str]:
    for name in ("package.json", *LOCKFILES):  # these only: never an .npmrc of the app's
        if (manifest / name).is_file():
            shutil.copyfile(manifest / name, out / name)
    return ["npm", "ci", *NPM_FLAGS]


def _npm_resolve(manifest: Path, out: Path) -> list[str]:
    """No lockfile: npm install resolves the versions (and writes package-lock.json)."""
    shutil.copyfile(manifest / "package.json", out / "package.json")  # only it: never an .npmrc
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
    shutil.copytree(source, work, symlinks=True, ignore=shutil.ignore_patterns(".npmrc"))  # never the app's npm config
    for link in [p for p in work.rglob("*") if p.is_symlink()]:
        link.unlink()
    steps: list[tuple[list[str], Path, tuple[re.Pattern[str], ...]]] = []
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
            package_name = package_name[:200] if package_name and _inside(package_name, here) else None
            return _fail(spec, package_name, _reason(text, here) if patterns else _esbuild_reason(text, here))
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


def _esbuild_reason(text: str, here: Path) -> str:
    """esbuild's error lines (``✘ [ERROR] …`` and where), as _reason cuts them."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line[:REASON_LINE] for line in lines if ("ERROR" in line or "error:" in line) and _inside(line, here)]
    return " ".join(errors or [line[:REASON_LINE] for line in lines[-3:] if _inside(line, here)])[:REASON] or \
        "esbuild failed (its output is in the build's log)"


def _prune(out: Path) -> None:
    """What would make the same dependencies differ between two installs (bytecode caches), and
    links, which the artifact would follow out of ``out/``."""
    for cache in list(out.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    for path in list(out.rglob("*")):
        if path.is_symlink():
            path.unlink()


def _reason(text: str, here: Path) -> str:
    """The installer's error lines, cut short: none naming a file outside the build's folder (a
    line that does might repeat what the file holds), no credential of the build's."""
    if not all(_inside(path, here) for path in READ_FROM.findall(text)):
        return "the installer read a file outside the app's manifest: its output is left out (see the build's log)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR:", "npm ERR!", "npm error"))]
    kept = [line[:REASON_LINE] for line in (errors or lines[-3:]) if _inside(line, here)]
    reason = " ".join(kept)[:REASON] or "the installer failed (its output is in the build's log)"
    for name in SECRETS:
        if len(os.environ.get(name, "")) >= 8:
            reason = reason.replace(os.environ[name], "***")
    return reason


def _inside(line: str, here: Path) -> bool:
    root = str(here.resolve())
    paths = ABSOLUTE_PATH.findall(URL.sub("", line))
    return all(os.path.realpath(p).startswith(root + os.sep) for p in paths)


def _fail(spec: dict, package: str | None, reason: str) -> int:
    detail = {"manifest": spec["manifest"], "package": package, "method": spec["method"], "reason": reason}
    print(f"{MARKER} {json.dumps(detail)}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
