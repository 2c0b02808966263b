"""What a dependency manifest may say (sprout.domain.manifests), checked in PlanDependencies and
again by the dependency build's installer before pip or npm runs; and what the installer's failure
line may repeat."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from sprout.adapters.dependency_builds import DependencyCache, cache_key
from sprout.codebuild import install_dependencies
from sprout.domain.dependencies import CachedDigest
from sprout.domain.errors import ArtifactNotFound, InvalidInput
from sprout.domain.manifests import ManifestRefused, check_lockfile, check_package_json, check_requirements
from tests.archives import zip_of


@pytest.mark.parametrize(
    "text, expected",
    [
        (b"humanize==4.9.0\n", ["humanize==4.9.0"]),
        (b"# the API's\nrequests[socks] >= 2.0, <3 ; python_version >= '3.8'  # why\n", ["requests[socks] >= 2.0, <3 ; python_version >= '3.8'"]),
        (b"a==1 \\\n    --hash=sha256:abcd \\\n    --hash sha256:ef01\n", ["a==1 --hash=sha256:abcd --hash sha256:ef01"]),
        (b"\xef\xbb\xbfzope.interface (>=5)\r\n", ["zope.interface (>=5)"]),
        (b"\n# only comments\n\n", []),
    ],
)
def test_given_requirements_by_name_then_they_are_accepted(text, expected):
    assert check_requirements(text, "r.txt") == expected


@pytest.mark.parametrize(
    "text, line",
    [
        (b"--no-binary :all:\n", 1),
        (b"-r /etc/passwd\n", 1),
        (b"x\n-c constraints.txt\n", 2),
        (b"x\n  -e .\n", 2),
        (b"-i http://example.invalid/simple\n", 1),
        (b"--index-url=http://example.invalid/simple\n", 1),
        (b"--extra-index-url http://example.invalid/simple\n", 1),
        (b"--find-links /tmp\n", 1),
        (b"--trusted-host example.invalid\n", 1),
        (b"--only-binary :none:\n", 1),
        (b"--pre\n", 1),
        (b"x \\\n--index-url http://example.invalid\n", 1),  # a continuation joins the option to the requirement
        (b"x\x0c--pre\n", 2),  # pip splits lines as str.splitlines does: a form feed ends a line
        (b"x==1 --no-binary=:all:\n", 1),
        (b"x==1 --global-option=build_ext\n", 1),
        (b"x==1 --config-settings=a=b\n", 1),
        (b"pkg @ https://example.invalid/pkg.whl\n", 1),
        (b"https://example.invalid/pkg.tar.gz\n", 1),
        (b"git+https://example.invalid/pkg\n", 1),
        (b"./local\n", 1),
        (b"/etc/passwd\n", 1),
        (b"pkg.tar.gz\n", 1),
        (b"x#egg=y\n", 1),
        (b"x==${AWS_SECRET_ACCESS_KEY}\n", 1),
        (b"# -*- coding: utf-7 -*-\nx +AC0-\n", 1),
    ],
)
def test_given_a_line_that_is_not_a_requirement_by_name_then_it_is_refused_naming_file_and_line(text, line):
    with pytest.raises(ManifestRefused, match=rf"^hello/requirements.txt line {line}: "):
        check_requirements(text, "hello/requirements.txt")


def test_given_requirements_that_are_not_utf8_then_they_are_refused():
    with pytest.raises(ManifestRefused, match="is not UTF-8"):
        check_requirements("--pre\n".encode("utf-16"), "r.txt")


def test_given_a_long_refused_line_then_the_error_repeats_only_its_start():
    with pytest.raises(ManifestRefused) as refused:
        check_requirements(b"-r " + b"x" * 5000 + b"\n", "r.txt")
    assert len(str(refused.value)) < 400


def test_given_registry_packages_then_package_json_and_lockfile_pass():
    check_package_json({"dependencies": {"ms": "^2.1.3", "a": "latest", "b": "1.x || >=3", "c": "npm:other@^1"},
                        "overrides": {"d": {"e": "1.0.0"}}}, "p.json")
    check_lockfile({"packages": {"": {"dependencies": {"ms": "2.1.3"}},
                                 "node_modules/ms": {"version": "2.1.3", "resolved": "https://example.invalid/ms-2.1.3.tgz"}}},
                   "lock.json")


@pytest.mark.parametrize("spec", ["file:../x", "link:../x", "git+ssh://example.invalid/x.git", "https://example.invalid/x.tgz",
                                  "someone/repo", "../x", "~/x", "npm:x@file:../y"])
def test_given_a_dependency_that_is_not_a_registry_package_then_package_json_is_refused(spec):
    with pytest.raises(ManifestRefused, match=r"p.json: dependencies.x"):
        check_package_json({"dependencies": {"x": spec}}, "p.json")


def test_given_a_v1_lockfile_with_a_local_dependency_then_it_is_refused():
    with pytest.raises(ManifestRefused, match="dependencies.x.dependencies.y resolved"):
        check_lockfile({"dependencies": {"x": {"version": "1.0.0", "dependencies": {"y": {"resolved": "file:/etc"}}}}}, "l.json")


# ---- the installer, in the dependency build ------------------------------------------------------


def build_folder(tmp_path, method: str, files: dict[str, bytes], manifest: str) -> None:
    (tmp_path / "manifest").mkdir()
    for name, data in files.items():
        (tmp_path / "manifest" / name).write_bytes(data)
    spec = {"method": method, "runtime": "python3.13" if method == "pip" else "nodejs20.x", "architecture": "x86_64",
            "manifest": manifest}
    (tmp_path / "build.json").write_text(json.dumps(spec))


def test_given_an_option_line_when_the_installer_runs_then_it_fails_naming_the_line_and_runs_nothing(tmp_path, monkeypatch, capsys):
    # GIVEN a requirements file that would build an sdist, and a PlanDependencies that let it through
    build_folder(tmp_path, "pip", {"requirements.txt": b"humanize==4.9.0\n--no-binary :all:\nsdist-only==1.0\n"},
                 "hello/requirements.txt")
    monkeypatch.chdir(tmp_path)
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    # WHEN the installer runs THEN it fails, names file and line, and pip never ran
    assert install_dependencies.main() == 1
    said = capsys.readouterr().out.splitlines()[-1]
    assert said.startswith(install_dependencies.MARKER)
    detail = json.loads(said[len(install_dependencies.MARKER):])
    assert detail["reason"].startswith("hello/requirements.txt line 2: option line \"--no-binary :all:\"")
    assert ran == []


def test_given_a_lockfile_with_a_file_dependency_when_the_installer_runs_then_npm_never_runs(tmp_path, monkeypatch, capsys):
    lock = {"lockfileVersion": 3, "packages": {"node_modules/x": {"version": "1.0.0", "resolved": "file:/etc"}}}
    build_folder(tmp_path, "npm", {"package.json": b'{"dependencies": {"x": "1.0.0"}}', "package-lock.json": json.dumps(lock).encode(),
                                   ".npmrc": b"registry=http://example.invalid/\n"}, "when/package.json")
    monkeypatch.chdir(tmp_path)
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    assert install_dependencies.main() == 1
    assert "when/package-lock.json: node_modules/x resolved" in capsys.readouterr().out
    assert ran == []


def test_given_npm_when_the_installer_prepares_then_only_package_json_and_the_lockfile_are_copied_and_flags_hold(tmp_path):
    manifest, out = tmp_path / "manifest", tmp_path / "out"
    manifest.mkdir(), out.mkdir()
    for name in ("package.json", "package-lock.json", ".npmrc"):
        (manifest / name).write_text("{}")
    command = install_dependencies._npm(manifest, out)
    assert sorted(p.name for p in out.iterdir()) == ["package-lock.json", "package.json"]  # no .npmrc of the app's
    assert {"--ignore-scripts", "--no-bin-links", "--replace-registry-host=always"} <= set(command)


def test_given_pips_output_quoting_a_host_file_then_neither_the_reason_nor_the_package_repeats_it(tmp_path, monkeypatch, capsys):
    # GIVEN what pip printed for ``-r /etc/passwd`` (were the refusal bypassed): the file's first line, quoted
    output = ("ERROR: Invalid requirement: 'root:x:0:0:root:/root:/bin/bash': Expected end or semicolon\n"
              "    root:x:0:0:root:/root:/bin/bash\n        ^ (from line 1 of /etc/passwd)\n")
    assert "root:x" not in install_dependencies._reason(output, tmp_path)
    # WHEN the installer reports the failure THEN its line repeats none of it
    build_folder(tmp_path, "pip", {"requirements.txt": b"humanize==4.9.0\n"}, "hello/requirements.txt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", output))
    assert install_dependencies.main() == 1
    said = capsys.readouterr().out.splitlines()[-1]
    detail = json.loads(said[len(install_dependencies.MARKER):])
    assert detail["package"] is None and "root:x" not in said
    # AND an index URL in an error line is not taken for a host path
    assert "ERROR: No matching distribution" in install_dependencies._reason(
        "ERROR: No matching distribution found for x (from https://example.invalid/simple/x/)", tmp_path)


def test_given_installer_output_naming_host_files_or_credentials_then_the_reason_keeps_neither(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-of-the-build")
    text = "\n".join([
        "ERROR: Invalid requirement: 'root:x:0:0:root:/root:/bin/bash'",
        "ERROR: Could not open /etc/passwd",
        f"ERROR: Could not open {tmp_path}/manifest/requirements.txt",
        "ERROR: the key s3cr3t-value-of-the-build leaked",
        "ERROR: " + "y" * 5000,
    ])
    reason = install_dependencies._reason(text, tmp_path)
    assert "root:x" not in reason and "/etc/passwd" not in reason
    assert f"{tmp_path}/manifest/requirements.txt" in reason
    assert "s3cr3t" not in reason and "***" in reason
    assert len(reason) <= install_dependencies.REASON


# ---- the cache: a build's output moved in by a trusted step, with its digest ---------------------

KEY = "e" * 64


class Store:
    bucket = "b"

    def __init__(self, objects: dict[str, bytes]):
        self.objects, self.client = objects, self

    def read(self, key, missing):
        if key not in self.objects:
            raise ArtifactNotFound(missing)
        return self.objects[key]

    def exists(self, key):
        return key in self.objects

    def put_object(self, Bucket, Key, Body, ContentType):  # noqa: N803 (boto3's names)
        self.objects[Key] = Body

    def delete_object(self, Bucket, Key):  # noqa: N803
        self.objects.pop(Key, None)


class Digests:
    def __init__(self):
        self.records: dict[str, CachedDigest] = {}

    def dependencies_digest(self, key):
        return self.records.get(key)

    def record_dependencies(self, key, object_key, sha256, app, build, codebuild=None):
        self.records[key] = CachedDigest(key, object_key, sha256)
        return self.records[key]


def test_given_a_dependency_builds_output_when_kept_then_it_is_cached_by_content_and_its_digest_recorded():
    data = zip_of({"humanize/__init__.py": ""})
    path, name = DependencyCache.output_of(KEY)
    assert path.startswith("dependency-builds/") and path != DependencyCache.output_of(KEY)[0]  # a prefix per build
    store, digests = Store({f"{path}/{name}": data}), Digests()
    cache = DependencyCache(store, digests)
    recorded = cache.keep(KEY, f"{path}/{name}", "greeter", 1, "p:1")
    sha = hashlib.sha256(data).hexdigest()
    assert recorded == CachedDigest(KEY, cache_key(KEY, sha), sha)
    assert store.objects == {cache_key(KEY, sha): data}  # the output moved
    assert cache.has(KEY)
    assert cache.keep(KEY, f"{path}/{name}", "greeter", 1) == recorded  # a retry: kept already
    with pytest.raises(InvalidInput, match="outputPath"):
        cache.keep(KEY, cache_key("f" * 64, sha), "greeter", 1)  # only a build's output is moved
