"""Dependency builds as data: which functions and layers need dependencies installed (as ``sam
build`` decides), the key they are cached under, and how Package puts them in the artifact."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from sprout.adapters.dependency_builds import why_failed
from sprout.domain.dependencies import CachedDigest
from sprout.domain.errors import CacheIntegrityError, PackagingError
from sprout.domain.packaging import package, plan_dependencies
from sprout.domain.source_tree import MemoryTree
from tests.archives import zip_of

DIGEST = "b" * 64
LOCK = json.dumps({"name": "web", "lockfileVersion": 3, "packages": {"node_modules/ms": {"version": "2.1.3"}}}).encode()
PACKAGE = json.dumps({"name": "web", "dependencies": {"ms": "^2.1.3"}, "devDependencies": {"jest": "^29"}}).encode()

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: api/, Handler: app.handler}
  Arm:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: api/, Handler: app.handler, Architectures: [arm64]}
  Web:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: web/, Handler: index.handler, Runtime: nodejs22.x}
  Plain:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: plain/, Handler: app.handler}
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: shared/}
    Metadata: {BuildMethod: python3.13}
"""


def tree(**changes: bytes | None) -> MemoryTree:
    files = {
        "template.yaml": TEMPLATE.encode(),
        "api/app.py": b"import humanize\n",
        "api/requirements.txt": b"# the API's\nhumanize==4.9.0\n",
        "web/index.mjs": b"import ms from 'ms';\n",
        "web/package.json": PACKAGE,
        "web/package-lock.json": LOCK,
        "plain/app.py": b"x = 1\n",
        "shared/requirements.txt": b"tinydb==4.8.0\n",
        "shared/util.py": b"y = 2\n",
    }
    files.update(changes)
    return MemoryTree({k: v for k, v in files.items() if v is not None})


def plan(t: MemoryTree, digest: str = DIGEST):
    return {d.manifest: d for d in plan_dependencies(t.read("template.yaml"), "template.yaml", t, digest)}


INSTALLED = zip_of({"humanize/__init__.py": b"# installed\n", "app.py": b"# never wins over the code\n",
                    "bin/tool": b"#!/bin/sh\n"})


class Installed:
    """The dependency cache, in memory: one zip per key, whatever the key, recorded with its sha256."""

    builder_digest = DIGEST

    def __init__(self, data: bytes = INSTALLED, recorded: bool = True):
        self.asked: list[str] = []
        self.data, self.recorded = data, recorded

    def digest_of(self, key: str) -> CachedDigest | None:
        self.asked.append(key)
        return CachedDigest(key, f"dependencies/{key}/x.zip", hashlib.sha256(INSTALLED).hexdigest()) if self.recorded else None

    def read_cached(self, object_key: str) -> bytes:
        return self.data


def test_given_functions_and_a_layer_when_planned_then_each_manifest_is_one_dependency_set_per_platform():
    # GIVEN python functions on two architectures sharing requirements, a Node.js function, a plain
    # function and a layer with a BuildMethod
    found = plan_dependencies(tree().read("template.yaml"), "template.yaml", tree(), DIGEST)
    # WHEN planned THEN pip twice for api/ (x86_64 and arm64), npm once, pip for the layer; plain has none
    summary = sorted((d.manifest, d.method, d.runtime, d.architecture) for d in found)
    assert summary == [
        ("api/requirements.txt", "pip", "python3.13", "arm64"),
        ("api/requirements.txt", "pip", "python3.13", "x86_64"),
        ("shared/requirements.txt", "pip", "python3.13", "x86_64"),
        ("web/package.json", "npm", "nodejs22.x", "x86_64"),
    ]
    web = next(d for d in found if d.method == "npm")
    assert set(web.files) == {"package.json", "package-lock.json"}


def test_given_the_same_manifests_then_the_key_is_the_same_and_any_defining_change_makes_a_new_one():
    before = {d.manifest + d.architecture: d.key for d in plan(tree()).values()}
    assert {d.manifest + d.architecture: d.key for d in plan(tree()).values()} == before
    # code changes do not touch the key; the lockfile, the requirements and the builder do
    assert plan(tree(**{"api/app.py": b"changed\n"}))["api/requirements.txt"].key == plan(tree())["api/requirements.txt"].key
    assert plan(tree(**{"web/package-lock.json": LOCK + b" "}))["web/package.json"].key != plan(tree())["web/package.json"].key
    assert plan(tree(**{"api/requirements.txt": b"humanize==4.10.0\n"}))["api/requirements.txt"].key != plan(tree())["api/requirements.txt"].key
    assert plan(tree(), "c" * 64)["web/package.json"].key != plan(tree())["web/package.json"].key


@pytest.mark.parametrize("method", ["makefile", "go1.x"])
def test_given_a_build_method_sprout_does_not_build_then_packaging_fails_naming_it(method):
    t = tree(**{"template.yaml": TEMPLATE.replace("Metadata: {BuildMethod: python3.13}", f"Metadata: {{BuildMethod: {method}}}").encode()})
    with pytest.raises(PackagingError, match=rf"Shared: Metadata BuildMethod {method} is not supported"):
        plan(t)


def test_given_node_dependencies_without_a_lockfile_then_they_are_resolved_by_npm_install():
    # GIVEN package.json declaring dependencies and no lockfile WHEN planned
    web = plan(tree(**{"web/package-lock.json": None}))["web/package.json"]
    # THEN npm resolves them (npm install), from package.json alone
    assert (web.method, web.resolve, set(web.files)) == ("npm", True, {"package.json"})


def test_given_manifests_with_nothing_to_install_then_no_dependency_build():
    t = tree(**{"api/requirements.txt": b"# nothing yet\n\n", "web/package.json": b'{"name": "web"}'})
    assert set(plan(t)) == {"shared/requirements.txt"}


def test_given_installed_dependencies_when_packaged_then_they_sit_next_to_the_code_and_under_python_for_a_layer():
    installed = Installed()
    result = package(tree().read("template.yaml"), "template.yaml", tree(), "bucket", installed)
    by_id = {f.logical_id: f for f in result.functions}
    with zipfile.ZipFile(io.BytesIO(result.artifacts[by_id["Api"].sha256])) as z:
        assert z.read("app.py") == b"import humanize\n"  # the code wins over a dependency's file
        assert z.read("humanize/__init__.py") == b"# installed\n"
        assert (z.getinfo("bin/tool").external_attr >> 16) & 0o111 == 0  # modes as the installer's zip said
    with zipfile.ZipFile(io.BytesIO(result.artifacts[result.layers["Shared"]])) as z:
        assert sorted(z.namelist()) == ["python/app.py", "python/bin/tool", "python/humanize/__init__.py",
                                        "python/requirements.txt", "python/util.py"]
    with zipfile.ZipFile(io.BytesIO(result.artifacts[by_id["Plain"].sha256])) as z:
        assert z.namelist() == ["app.py"]
    # the same sources and dependencies give the same bytes
    again = package(tree().read("template.yaml"), "template.yaml", tree(), "bucket", Installed())
    assert [f.sha256 for f in again.functions] == [f.sha256 for f in result.functions]
    # each platform's dependencies were asked for by their own key: api/ on x86_64 and arm64, web/, shared/
    assert len(set(installed.asked)) == 4


def test_given_dependencies_but_no_cache_when_packaged_then_it_fails_naming_the_manifest():
    with pytest.raises(PackagingError, match=r"Api: api/requirements.txt needs its dependencies built first"):
        package(tree().read("template.yaml"), "template.yaml", tree(), "bucket")


class Logs:
    def __init__(self, messages):
        self.messages, self.asked = messages, []

    def filter_log_events(self, **kwargs):
        self.asked.append(kwargs)
        return {"events": [{"message": m} for m in self.messages]}


def failed_build(**extra):
    build = {"Id": "p:1", "BuildStatus": "FAILED", "Logs": {"GroupName": "/aws/codebuild/p", "StreamName": "1"},
             "Phases": [{"PhaseType": "BUILD", "Contexts": [{"StatusCode": "COMMAND_EXECUTION_ERROR",
                                                             "Message": "Error while executing command"}]}], **extra}
    return {"Error": "States.TaskFailed", "Cause": json.dumps({"Build": build})}


def test_given_a_failed_dependency_build_then_the_installers_line_names_manifest_and_package():
    line = 'SPROUT-DEPENDENCY-ERROR {"manifest": "api/requirements.txt", "package": "nosuch==1.0", "method": "pip", "reason": "ERROR: No matching distribution found for nosuch==1.0"}'
    logs = Logs([line])
    said = why_failed(failed_build(), logs)
    assert said == "api/requirements.txt: cannot install nosuch==1.0 (pip): ERROR: No matching distribution found for nosuch==1.0"
    assert logs.asked[0]["logGroupName"] == "/aws/codebuild/p" and logs.asked[0]["logStreamNames"] == ["1"]


def test_given_a_failed_build_without_the_installers_line_then_the_builds_own_context_is_said():
    assert why_failed(failed_build(), Logs([])) == "dependency build p:1 FAILED: BUILD: Error while executing command"
    assert why_failed({"Error": "States.Timeout", "Cause": "not json"}, Logs([])) is None


def test_given_a_node_layer_with_a_build_method_then_its_content_and_node_modules_go_under_nodejs():
    template = TEMPLATE.replace("Metadata: {BuildMethod: python3.13}", "Metadata: {BuildMethod: nodejs22.x}")
    shared_package = PACKAGE.replace(b'"web"', b'"shared"')  # the same bytes as web's would share web's key
    t = tree(**{"template.yaml": template.encode(), "shared/package.json": shared_package,
                "shared/package-lock.json": LOCK, "shared/requirements.txt": None})
    shared = plan(t)["shared/package.json"]
    assert (shared.method, shared.runtime) == ("npm", "nodejs22.x")
    result = package(t.read("template.yaml"), "template.yaml", t, "bucket", Installed())
    with zipfile.ZipFile(io.BytesIO(result.artifacts[result.layers["Shared"]])) as z:
        assert {n.split("/")[0] for n in z.namelist()} == {"nodejs"}
        assert "nodejs/util.py" in z.namelist() and "nodejs/package.json" in z.namelist()


def test_given_functions_sharing_one_folder_when_packaged_then_the_folder_is_listed_and_its_manifests_read_once():
    class Counting(MemoryTree):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.listed, self.read_paths = [], []

        def list_files(self, folder):
            self.listed.append(folder)
            return super().list_files(folder)

        def read_many(self, paths):
            paths = list(paths)
            self.read_paths += paths
            return super().read_many(paths)

    base = tree()
    t = Counting(base.files)
    package(t.read("template.yaml"), "template.yaml", t, "bucket", Installed())
    # Api and Arm share api/ (two artifacts: their dependencies differ): one listing, each file read once
    assert t.listed.count("api") == 1
    assert t.read_paths.count("api/requirements.txt") == t.read_paths.count("api/app.py") == 1


def test_given_a_cached_object_changed_since_it_was_recorded_when_packaged_then_it_fails_naming_the_object():
    # GIVEN the cache's object for api/ replaced by other bytes (someone wrote to the bucket)
    tampered = Installed(zip_of({"humanize/__init__.py": b"import os; os.system('steal')\n"}))
    # WHEN packaged THEN the build fails naming the function, the manifest and the object; nothing is zipped
    with pytest.raises(CacheIntegrityError, match=r"Api \(api/requirements.txt\): cached object dependencies/\w+/x.zip has sha256"):
        package(tree().read("template.yaml"), "template.yaml", tree(), "bucket", tampered)


def test_given_a_cached_object_without_a_digest_record_when_packaged_then_it_is_not_used():
    with pytest.raises(CacheIntegrityError, match=r"Api \(api/requirements.txt\): cached dependencies \w+ have no digest"):
        package(tree().read("template.yaml"), "template.yaml", tree(), "bucket", Installed(recorded=False))


@pytest.mark.parametrize(
    "requirements, line, said",
    [
        (b"humanize==4.9.0\n--no-binary :all:\nsdist-only==1.0\n", 2, "option line"),
        (b"-r /etc/passwd\n", 1, "option line"),
        (b"humanize==4.9.0  # fine\n\n-e git+https://example.invalid/x.git#egg=x\n", 3, "option line"),
        (b"x @ https://example.invalid/x.whl\n", 1, "not a URL, a path"),
    ],
)
def test_given_a_requirements_file_with_an_option_line_when_planned_then_it_fails_naming_file_and_line(requirements, line, said):
    with pytest.raises(PackagingError, match=rf"Api: api/requirements.txt line {line}: .*{said}"):
        plan(tree(**{"api/requirements.txt": requirements}))


@pytest.mark.parametrize(
    "package_json, lock, said",
    [
        ({"name": "web", "dependencies": {"ms": "file:../../../etc"}}, None, "dependencies.ms"),
        ({"name": "web", "dependencies": {"ms": "github:someone/ms"}}, None, "dependencies.ms"),
        ({"name": "web", "dependencies": {"ms": "^2.1.3"}, "workspaces": ["../x"]}, None, "workspaces"),
        (None, {"packages": {"node_modules/ms": {"version": "2.1.3", "resolved": "file:/etc/ms"}}}, "resolved"),
        (None, {"packages": {"node_modules/ms": {"link": True, "resolved": "../x"}}}, "link"),
        (None, {"packages": {"../outside": {"version": "1.0.0"}}}, "only node_modules"),
    ],
)
def test_given_a_package_json_or_lockfile_naming_something_else_than_the_registry_when_planned_then_it_fails(
    package_json, lock, said
):
    changes = {}
    if package_json is not None:
        changes["web/package.json"] = json.dumps(package_json).encode()
    if lock is not None:
        changes["web/package-lock.json"] = json.dumps({"name": "web", "lockfileVersion": 3, **lock}).encode()
    with pytest.raises(PackagingError, match=rf"Web: web/package(-lock)?.json.*{said}"):
        plan(tree(**changes))
