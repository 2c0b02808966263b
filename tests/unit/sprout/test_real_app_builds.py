"""What real apps need from a build, as data: Node.js dependencies without a lockfile (resolved by
every build, then cached by what was resolved), functions bundled by esbuild, physical names fixed
for every stage (listed per build, colliding in another stage's change set)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from sprout.domain import changeset
from sprout.domain.dependencies import RESOLVED_FOLDER, CachedDigest, resolved_key, resolved_lockfile
from sprout.domain.errors import PackagingError
from sprout.domain.model import Build, BuildStatus, FunctionArtifact
from sprout.domain.packaging import package, plan_dependencies
from sprout.domain.physical_names import collisions, fixed_names
from sprout.domain.source_tree import MemoryTree
from tests.archives import zip_of

DIGEST = "d" * 64
PACKAGE = json.dumps({"name": "hello", "dependencies": {"ms": "^2.1.3"}, "devDependencies": {"mocha": "10"}}).encode()
LOCK = json.dumps({"lockfileVersion": 3, "packages": {"node_modules/ms": {"version": "2.1.3"}}}).encode()

NODE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: hello-world/, Handler: app.lambdaHandler, Runtime: nodejs20.x}
"""
TS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: hello-world/, Handler: app.lambdaHandler, Runtime: nodejs20.x}
    Metadata:
      BuildMethod: esbuild
      BuildProperties: %s
"""


def node_tree(**changes: bytes | None) -> MemoryTree:
    files = {"template.yaml": NODE.encode(), "hello-world/app.mjs": b"import ms from 'ms';\n",
             "hello-world/package.json": PACKAGE}
    files.update(changes)
    return MemoryTree({k: v for k, v in files.items() if v is not None})


def ts_tree(properties: str = "{Minify: true, Target: es2020, Sourcemap: true, EntryPoints: [app.ts]}", **changes) -> MemoryTree:
    files = {"template.yaml": (TS % properties).encode(), "hello-world/app.ts": b"export const lambdaHandler = async () => 1;\n",
             "hello-world/greeting.ts": b"export const g = 'hi';\n", "hello-world/tsconfig.json": b"{}",
             "hello-world/package.json": json.dumps({"name": "h", "devDependencies": {"esbuild": "0.14"}}).encode(),
             "hello-world/node_modules/left/index.js": b"committed by mistake\n"}
    files.update(changes)
    return MemoryTree({k: v for k, v in files.items() if v is not None})


def planned(tree: MemoryTree, scope: str = "app#1"):
    [deps] = plan_dependencies(tree.read("template.yaml"), "template.yaml", tree, DIGEST, scope)
    return deps


class Cache:
    """The dependency cache, in memory: the same zip for every key, recorded with its sha256."""

    builder_digest = DIGEST

    def __init__(self, content: dict[str, bytes]):
        self.content = zip_of(content)

    def digest_of(self, key: str) -> CachedDigest:
        return CachedDigest(key, f"dependencies/{key}/x.zip", hashlib.sha256(self.content).hexdigest())

    def read_cached(self, object_key: str) -> bytes:
        return self.content


# ---- Node.js without a lockfile ----------------------------------------------------------------------


def test_given_no_lockfile_then_every_build_resolves_again_and_a_committed_lockfile_is_reproducible():
    # GIVEN package.json with dependencies and no lockfile WHEN planned for two builds
    first, second = planned(node_tree(), "app#1"), planned(node_tree(), "app#2")
    # THEN each build resolves (npm install), under a key of its own: never a cache hit
    assert first.resolve and second.resolve and first.key != second.key
    # AND with the lockfile committed, the key is the same for every build (npm ci)
    locked = [planned(node_tree(**{"hello-world/package-lock.json": LOCK}), scope) for scope in ("app#1", "app#2")]
    assert not locked[0].resolve and locked[0].key == locked[1].key


def test_given_what_a_build_resolved_then_it_is_keyed_as_the_committed_lockfile_would_be():
    # GIVEN a build's output holding the lockfile npm install wrote
    output = zip_of({"node_modules/ms/index.js": b"module.exports = 1;\n", RESOLVED_FOLDER + "package-lock.json": LOCK})
    deps = planned(node_tree())
    # WHEN read back THEN its key is the key npm ci with that lockfile has: committing it is a cache hit
    assert resolved_lockfile(output) == LOCK
    assert resolved_key(deps, LOCK, DIGEST) == planned(node_tree(**{"hello-world/package-lock.json": LOCK})).key
    assert resolved_lockfile(zip_of({"node_modules/ms/index.js": b""})) is None


def test_given_a_resolved_build_when_packaged_then_the_lockfile_stays_out_of_the_function_and_is_reported():
    cache = Cache({"node_modules/ms/index.js": b"module.exports = 1;\n", RESOLVED_FOLDER + "package-lock.json": LOCK})
    tree = node_tree()
    result = package(tree.read("template.yaml"), "template.yaml", tree, "bucket", cache, "app#1")
    [function] = result.functions
    names = zipfile.ZipFile(io.BytesIO(result.artifacts[function.sha256])).namelist()
    assert sorted(names) == ["app.mjs", "node_modules/ms/index.js", "package.json"]
    [(deps, installed)] = result.resolved
    assert deps.manifest == "hello-world/package.json" and resolved_lockfile(installed) == LOCK


# ---- esbuild ---------------------------------------------------------------------------------------------


def test_given_build_method_esbuild_then_the_folder_is_bundled_with_sam_builds_defaults():
    deps = planned(ts_tree())
    # THEN esbuild, with the folder's files (not what node_modules holds) and the options checked
    assert (deps.method, deps.resolve) == ("esbuild", False)
    assert set(deps.files) == {"app.ts", "greeting.ts", "tsconfig.json", "package.json"}
    assert deps.options == {"entryPoints": ["app.ts"], "minify": True, "target": "es2020", "sourcemap": True,
                            "format": "cjs", "external": []}
    # AND without BuildProperties, the handler's file is the entry point and sam build's defaults apply
    bare = planned(ts_tree("{}"))
    assert bare.options["entryPoints"] == ["app.ts"] and bare.options["minify"] and not bare.options["sourcemap"]
    # AND any source change makes a new key; the same source, the same key
    assert planned(ts_tree()).key == deps.key
    assert planned(ts_tree(**{"hello-world/greeting.ts": b"export const g = 'hello';\n"})).key != deps.key


def test_given_a_bundled_function_when_packaged_then_its_artifact_is_the_bundle_alone():
    tree = ts_tree()
    cache = Cache({"app.js": b"exports.lambdaHandler=async()=>1;\n", "app.js.map": b"{}"})
    result = package(tree.read("template.yaml"), "template.yaml", tree, "bucket", cache, "app#1")
    [function] = result.functions
    assert sorted(zipfile.ZipFile(io.BytesIO(result.artifacts[function.sha256])).namelist()) == ["app.js", "app.js.map"]


@pytest.mark.parametrize(
    ("properties", "said"),
    [
        ("{EntryPoints: [../secrets.ts]}", "../secrets.ts is not a file of the function's folder"),
        ("{EntryPoints: [missing.ts]}", "missing.ts does not exist"),
        ("{EntryPoints: [--outdir=/tmp]}", "is not a file of the function's folder"),
        ("{External: ['--allow-overwrite']}", "External must be a list of package names"),
        ("{Target: 'es2020 --outdir=/'}", "Target must be an esbuild target"),
        ("{Format: amd}", "Format must be one of cjs, esm, iife"),
        ("{Minify: 'yes'}", "Minify must be true or false"),
        ("{Banner: ['x']}", "BuildProperties.Banner is not supported"),
    ],
)
def test_given_hostile_or_unsupported_build_properties_then_packaging_fails_naming_them(properties, said):
    with pytest.raises(PackagingError, match="HelloWorldFunction") as refused:
        planned(ts_tree(properties))
    assert said in str(refused.value)


def test_given_esbuild_on_a_layer_or_a_python_runtime_then_it_is_refused():
    layer = "Transform: AWS::Serverless-2016-10-31\nResources:\n  L:\n    Type: AWS::Serverless::LayerVersion\n" \
            "    Properties: {ContentUri: l/}\n    Metadata: {BuildMethod: esbuild}\n"
    tree = MemoryTree({"template.yaml": layer.encode(), "l/a.js": b""})
    with pytest.raises(PackagingError, match="esbuild builds functions, not layers"):
        plan_dependencies(tree.read("template.yaml"), "template.yaml", tree, DIGEST)
    with pytest.raises(PackagingError, match="needs a nodejsN.x Runtime"):
        planned(ts_tree(**{"template.yaml": (TS % "{}").replace("nodejs20.x", "python3.13").encode()}))


# ---- physical names ------------------------------------------------------------------------------------

NAMED = {
    "Parameters": {"Stage": {"Type": "String"}},
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "orders"}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Sub": "/app/${AWS::Region}/x"}}},
        "PerStack": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-q"}}},
        "PerStage": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Join": ["-", ["t", {"Ref": "Stage"}]]}}},
        "SubMap": {"Type": "AWS::S3::Bucket",
                   "Properties": {"BucketName": {"Fn::Sub": ["${N}-b", {"N": {"Ref": "AWS::StackName"}}]}}},
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"FunctionName": "fixed-fn"}},
        "Api": {"Type": "AWS::Serverless::Api", "Properties": {"Name": "same-api"}},
        "Unnamed": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    },
}


def test_given_names_in_a_template_then_only_those_the_same_for_every_stage_are_listed():
    found = {(n["logicalId"], n["property"], n["name"]) for n in fixed_names(NAMED)}
    assert found == {
        ("Table", "TableName", "orders"),
        ("Logs", "LogGroupName", json.dumps({"Fn::Sub": "/app/${AWS::Region}/x"})),
        ("Fn", "FunctionName", "fixed-fn"),
    }
    # a Stage parameter the template does not declare is not set per stage by Sprout
    undeclared = {**NAMED, "Parameters": {}}
    assert "PerStage" in {n["logicalId"] for n in fixed_names(undeclared)}


def test_given_another_stage_holding_a_name_then_it_collides_unless_the_stage_already_holds_it():
    target = fixed_names(NAMED)
    found = collisions(target, [], {"dev": fixed_names(NAMED), "qa": []})
    assert {(c["logicalId"], c["stage"]) for c in found} == {("Table", "dev"), ("Logs", "dev"), ("Fn", "dev")}
    assert collisions(target, target, {"dev": target}) == []


def build(number: int, functions=()) -> Build:
    return Build("app", number, "c" * 40, "main", BuildStatus.SUCCEEDED, functions=tuple(functions),
                 created_at=datetime.now(UTC).isoformat())


def test_given_a_change_set_for_a_second_stage_then_collisions_are_listed_and_need_a_confirm():
    fn = FunctionArtifact("Fn", "1" * 64, "artifacts/x.zip", {"Handler": "a.b"})
    template = {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "orders"}}}}
    # GIVEN prod running build 1 (the same template) and dev running it too: no collision, no change
    same = changeset.compute("prod", "000001", build(1, [fn]), template, build(2, [fn]), template, [], {"dev": template})
    assert same.collisions == [] and not same.confirm_required
    # WHEN prod has nothing yet and dev holds the table name THEN the change set marks it
    cs = changeset.compute("prod", None, None, None, build(1, [fn]), template, [], {"dev": template})
    assert cs.collisions == [{"logicalId": "Table", "type": "AWS::DynamoDB::Table", "property": "TableName",
                              "name": "orders", "stage": "dev"}]
    assert cs.confirm_required and "1 name colliding with another stage" in cs.summary()


def test_given_a_dependency_builds_source_when_read_back_then_it_is_the_set_it_was_given():
    from sprout.adapters.dependency_builds import dependencies_from_source

    # GIVEN the source zip PlanDependencies writes for an esbuild set resolved without a lockfile
    deps = planned(ts_tree(**{"hello-world/package.json": PACKAGE}))
    assert deps.resolve

    class Store:
        bucket = "b"

        class client:  # noqa: N801 - boto3's attribute name
            written: dict = {}

            @classmethod
            def put_object(cls, Bucket, Key, Body, ContentType):  # noqa: N803 - boto3's names
                cls.written[Key] = Body

    from sprout.adapters.dependency_builds import DependencyCache

    cache = DependencyCache.__new__(DependencyCache)
    cache.store, cache.installer, cache.rules, cache.builder_digest = Store, b"# installer", b"# rules", DIGEST
    cache.put_source(deps)
    [source] = Store.client.written.values()
    # WHEN read back THEN the same set: what the trusted step keys the resolved output by
    again = dependencies_from_source(deps.key, source)
    assert again == deps
    assert resolved_key(again, LOCK, DIGEST) == resolved_key(deps, LOCK, DIGEST)


class FakeS3:
    """put_object, get_object and head_object over a dict, with S3's missing-key error."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket, Key, Body, ContentType=None):  # noqa: N803 - boto3's names
        self.objects[Key] = Body

    def get_object(self, Bucket, Key):  # noqa: N803
        self.head_object(Bucket, Key)
        return {"Body": io.BytesIO(self.objects[Key])}

    def head_object(self, Bucket, Key):  # noqa: N803
        from botocore.exceptions import ClientError

        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return {}


class Digests:
    def __init__(self):
        self.recorded: dict[str, CachedDigest] = {}

    def dependencies_digest(self, key):
        return self.recorded.get(key)

    def record_dependencies(self, key, object_key, sha256, app, build, codebuild=None):
        self.recorded[key] = CachedDigest(key, object_key, sha256)
        return self.recorded[key]


def test_given_a_set_resolved_without_a_lockfile_when_kept_then_it_is_cached_under_what_it_resolved():
    from sprout.adapters.artifacts import ArtifactStore
    from sprout.adapters.dependency_builds import DependencyCache, ResolvedLockfiles, cache_key, lockfile_key

    # GIVEN a dependency build of package.json without a lockfile, its output kept by CacheDependencies
    s3, digests = FakeS3(), Digests()
    cache = DependencyCache(ArtifactStore("bucket", client=s3), digests)
    deps = plan_dependencies(node_tree().read("template.yaml"), "template.yaml", node_tree(), cache.builder_digest, "a#1")[0]
    cache.put_source(deps)
    output = zip_of({"node_modules/ms/index.js": b"module.exports = 1;\n", RESOLVED_FOLDER + "package-lock.json": LOCK})
    sha = hashlib.sha256(output).hexdigest()
    s3.objects[cache_key(deps.key, sha)] = output
    kept = digests.record_dependencies(deps.key, cache_key(deps.key, sha), sha, "a", 1)
    # WHEN adopted
    note = ResolvedLockfiles(cache).adopt(kept, "a", 1)
    # THEN it is recorded under the key npm ci with that lockfile has, and the lockfile is kept
    locked = plan_dependencies(node_tree(**{"hello-world/package-lock.json": LOCK}).read("template.yaml"), "template.yaml",
                               node_tree(**{"hello-world/package-lock.json": LOCK}), cache.builder_digest, "a#2")[0]
    assert note["cacheKey"] == locked.key and cache.has(locked.key)
    assert cache.read_cached(digests.recorded[locked.key].object_key) == output
    assert s3.objects[lockfile_key(note["sha256"])] == LOCK


def test_given_a_bundled_folder_with_an_npmrc_or_a_file_dependency_then_neither_reaches_the_build():
    from sprout.domain.manifests import ManifestRefused

    # GIVEN an .npmrc pointing npm elsewhere WHEN planned THEN it is not part of what the build is given
    deps = planned(ts_tree(**{"hello-world/.npmrc": b"registry=http://elsewhere/\n", "hello-world/sub/.npmrc": b"x"}))
    assert not any(name.endswith(".npmrc") for name in deps.files)
    # AND a dependency on a file outside the registry is refused naming it
    hostile = json.dumps({"dependencies": {"x": "file:../../etc"}}).encode()
    with pytest.raises(ManifestRefused, match=r"hello-world/package.json: dependencies.x"):
        planned(ts_tree(**{"hello-world/package.json": hostile}))
