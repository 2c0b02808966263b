"""The build machine's steps (sprout.services.build_steps) against in-memory fakes: a commit's files
in a MemoryTree, the dependency cache and the artifact store in dicts. The branches the build's
integration tests reach only through a whole push (a branch nobody follows, an unreadable commit,
a build that fails packaging, dependencies cached or not, a failed dependency build) run here in
milliseconds; the integration tests keep the whole path (CodeCommit → Step Functions → CodeBuild →
a deployed stage)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
import yaml

from sprout.domain.app_roles import AppRoles
from sprout.domain.dependencies import CachedDigest, Dependencies
from sprout.domain.errors import AppNotFound, PackagingError, SourceError
from sprout.domain.model import App, BuildStatus, StageSpec
from sprout.domain.source_tree import MemoryTree
from sprout.services.build_steps import DEPENDENCY_STEP, BuildSteps, BuiltDependencies
from tests.archives import zip_of
from tests.unit.sprout.services.fakes import NOTES, FakeLineage

BUCKET, DIGEST = "sprout-artifacts", "d" * 64
EXEC = "arn:aws:states:us-east-1:123456789012:execution:sprout-build:x"
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: api/, Handler: app.handler, Runtime: python3.13}
  Plain:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: plain/, Handler: app.handler, Runtime: python3.13}
  Notes:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: notes-table}
"""
FILES = {
    "template.yaml": TEMPLATE.encode(),
    "api/app.py": b"import humanize\n\ndef handler(event, context):\n    return 1\n",
    "api/requirements.txt": b"humanize==4.9.0\n",
    "plain/app.py": b"def handler(event, context):\n    return 2\n",
}


class Commits:
    def __init__(self, trees: dict[str, dict[str, bytes]], unreadable: tuple[str, ...] = ()):
        self.trees, self.unreadable = trees, unreadable

    def commit_info(self, repository: str, commit_id: str) -> dict[str, Any]:
        if commit_id in self.unreadable:
            raise SourceError(f"cannot read commit {commit_id} of repository {repository}: CommitDoesNotExistException")
        return {"message": f"change {commit_id}", "author": "dev"}

    def tree(self, repository: str, commit_id: str) -> MemoryTree:
        return MemoryTree(self.trees[commit_id], location=f"commit {commit_id} of repository {repository}")


class Cache:
    """The dependency cache: objects and digests in dicts; a dependency build's output put by the test."""

    builder_digest = DIGEST

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.digests: dict[str, CachedDigest] = {}
        self.sources: list[str] = []
        self.adopted: list[str] = []

    def digest_of(self, key: str) -> CachedDigest | None:
        return self.digests.get(key)

    def read_cached(self, object_key: str) -> bytes:
        return self.objects[object_key]

    def has(self, key: str) -> bool:
        return key in self.digests and self.digests[key].object_key in self.objects

    def output_of(self, key: str) -> tuple[str, str]:
        return f"dependency-builds/{len(self.sources):032x}", f"{key}.zip"

    def put_source(self, deps: Dependencies) -> str:
        self.sources.append(deps.manifest)
        return f"{BUCKET}/dependency-sources/{deps.key}.zip"

    def keep(self, key: str, output: str, app: str, build: int, codebuild: str | None = None) -> CachedDigest:
        data = self.objects.pop(output)
        sha = hashlib.sha256(data).hexdigest()
        self.objects[f"dependencies/{key}/{sha}.zip"] = data
        self.digests[key] = CachedDigest(key, f"dependencies/{key}/{sha}.zip", sha)
        return self.digests[key]

    def adopt(self, kept: CachedDigest, app: str, build: int) -> dict[str, Any] | None:
        self.adopted.append(kept.key)
        return None


class Artifacts:
    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}

    def put_if_absent(self, sha256: str, data: bytes) -> bool:
        fresh = f"artifacts/{sha256}.zip" not in self.objects
        self.objects[f"artifacts/{sha256}.zip"] = data
        return fresh

    def put_template(self, app: str, build_number: int, text: str) -> str:
        self.objects[f"templates/{app}/{build_number}.yaml"] = text
        return f"templates/{app}/{build_number}.yaml"

    def put_manifest(self, app: str, build_number: int, functions: list[dict[str, Any]]) -> str:
        self.objects[f"templates/{app}/{build_number}.functions.json"] = functions
        return f"templates/{app}/{build_number}.functions.json"

    def get_manifest(self, key: str) -> list[dict[str, Any]]:
        return list(self.objects[key])


@dataclasses.dataclass
class World:
    lineage: FakeLineage
    cache: Cache
    artifacts: Artifacts
    steps: BuildSteps
    previews_asked: list[tuple[str, str]]
    explained: list[Any]


@pytest.fixture
def world() -> World:
    other = App("tasks", "notes-repo", stages=(StageSpec("dev", "main", True), StageSpec("qa", "main", False)))
    lineage, cache, artifacts = FakeLineage(NOTES, other), Cache(), Artifacts()
    asked: list[tuple[str, str]] = []
    explained: list[Any] = []

    def previews(repository: str, branch: str) -> list[dict[str, Any]]:
        asked.append((repository, branch))
        return [{"app": "notes", "branch": branch, "created": True}] if branch.startswith("feature/") else []

    def explain(error: Any) -> str | None:
        explained.append(error)
        return "api/requirements.txt: cannot install nope==9 (pip): no matching distribution" if error else None

    commits = Commits({"c1": FILES, "c-broken": {**FILES, "plain/app.py": b"def handler(:\n"},
                       "c-plain": {k: v for k, v in FILES.items() if not k.startswith("api/requirements")},
                       "c-no-folder": {**FILES, "template.yaml": TEMPLATE.replace("CodeUri: plain/", "CodeUri: gone/")
                                       .encode()}},
                      unreadable=("c-gone",))
    steps = BuildSteps(lineage, commits, previews, cache, artifacts, BUCKET,
                       roles=lambda: AppRoles("arn:aws:iam::123456789012:policy/sprout-boundary", "/sprout-apps/"),
                       js_checker=lambda: None, explain_dependency_failure=explain)
    return World(lineage, cache, artifacts, steps, asked, explained)


# ---- Resolve -------------------------------------------------------------------------------------


def test_a_push_builds_every_app_following_the_branch_deploying_only_its_auto_deploy_stages(world):
    """GIVEN two apps of one repository whose stages follow main (tasks' qa is promote-only)
    WHEN main is pushed
    THEN each app is a target (by name), deploying only its auto-deploy stages, with the push's trigger."""
    resolved = world.steps.resolve_push("notes-repo", "main", "c1", {"type": "push", "by": "alice"})
    assert [(t.app, t.deploy_stages, t.commit) for t in resolved.targets] == [("notes", ["dev"], "c1"),
                                                                             ("tasks", ["dev"], "c1")]
    assert resolved.targets[0].trigger == {"type": "push", "by": "alice"} and resolved.previews is None
    assert world.previews_asked == [("notes-repo", "main")]


def test_a_push_to_a_branch_nobody_follows_builds_nothing_and_a_preview_made_is_told(world):
    """GIVEN no stage follows feature/x, and the branch previews make one for it
    WHEN feature/x is pushed
    THEN no app is a target here (the preview's own stage is read after it is made), and the
    preview made is in the answer; a branch that makes none answers no previews at all."""
    made = world.steps.resolve_push("notes-repo", "feature/x", "c1", {"type": "push"})
    assert made.targets == [] and made.previews == [{"app": "notes", "branch": "feature/x", "created": True}]
    assert world.steps.resolve_push("notes-repo", "hotfix", "c1", {"type": "push"}).previews is None


@pytest.mark.parametrize("branch, deploys", [("main", ["dev"]), (None, [])])
def test_a_build_asked_for_through_the_api_deploys_to_the_stages_following_its_branch(world, branch, deploys):
    """GIVEN a build of notes asked for through the API, of main or of a bare commit
    WHEN resolved
    THEN notes alone is the target, deploying to dev for main and to nothing for a bare commit."""
    resolved = world.steps.resolve_requested("notes", branch, "c1", {"type": "user", "by": "bob"})
    [target] = resolved.targets
    assert (target.app, target.repository, target.deploy_stages, resolved.repository) == \
        ("notes", "notes-repo", deploys, "notes-repo")
    assert world.previews_asked == []


def test_a_build_asked_for_an_unknown_app_is_not_found(world):
    with pytest.raises(AppNotFound):
        world.steps.resolve_requested("ghost", "main", "c1", {"type": "user"})


# ---- RecordBuild ---------------------------------------------------------------------------------


def test_a_new_commit_is_numbered_once_and_a_commit_built_already_keeps_its_build(world):
    """GIVEN a commit recorded by one execution
    WHEN another execution records the same commit
    THEN it gets the same number, not created (it only deploys it again)."""
    first = world.steps.record("notes", "notes-repo", "c1", "main", EXEC)
    again = world.steps.record("notes", "notes-repo", "c1", "main", EXEC + "-other")
    assert (first.created, first.build.message, first.build.status) == (True, "change c1", BuildStatus.BUILDING)
    assert (again.created, again.build.number) == (False, first.build.number)


def test_a_build_numbered_by_the_api_for_this_execution_is_the_executions_to_build(world):
    """GIVEN the API numbered build 1 for the execution about to start (sprout.services.builds)
    WHEN that execution's RecordBuild runs
    THEN the build is its own: created (it is built), not a build of another execution."""
    world.lineage.record_build("notes", "c1", "main", execution=EXEC)
    recorded = world.steps.record("notes", "notes-repo", "c1", "main", EXEC)
    assert (recorded.created, recorded.build.number) == (True, 1)


def test_a_commit_that_cannot_be_read_is_recorded_failed_naming_why(world):
    """GIVEN a commit CodeCommit cannot read
    WHEN recorded
    THEN the build exists, FAILED at RecordBuild with the SourceError's reason."""
    recorded = world.steps.record("notes", "notes-repo", "c-gone", "main", EXEC)
    assert recorded.created and recorded.build.status is BuildStatus.FAILED
    assert recorded.build.failure["step"] == "RecordBuild" and "CommitDoesNotExistException" in recorded.build.failure["cause"]


def test_an_unreadable_commit_built_already_is_left_as_it_was(world):
    """GIVEN a commit already built (SUCCEEDED) that can no longer be read
    WHEN another execution records it
    THEN the build it had is answered, not failed."""
    done = world.lineage.add_build("notes", "c-gone")
    recorded = world.steps.record("notes", "notes-repo", "c-gone", "main", EXEC)
    assert (recorded.created, recorded.build.number, recorded.build.status) == (False, done.number, BuildStatus.SUCCEEDED)


# ---- PlanDependencies, CacheDependencies ---------------------------------------------------------


def test_dependencies_the_cache_lacks_are_planned_and_once_kept_they_are_a_cache_hit(world):
    """GIVEN a commit whose api/ needs requirements.txt installed, and an empty cache
    WHEN planned, built (the output put where the plan said) and kept, then planned again
    THEN the first plan has one build with its source; the second finds it cached and builds nothing."""
    plan = world.steps.plan_dependencies("notes", "notes-repo", "c1", 1)
    [build] = plan.builds
    assert (build.deps.manifest, build.deps.method, plan.cached) == ("api/requirements.txt", "pip", 0)
    assert build.source.endswith(f"{build.deps.key}.zip") and world.cache.sources == ["api/requirements.txt"]

    world.cache.objects[f"{build.output_path}/{build.artifact_name}"] = zip_of({"humanize/__init__.py": b"#\n"})
    [kept] = world.steps.cache_dependencies("notes", 1, [BuiltDependencies(build.deps.key,
                                                                         f"{build.output_path}/{build.artifact_name}",
                                                                         "codebuild:1")])
    assert kept.key == build.deps.key and world.cache.adopted == []

    again = world.steps.plan_dependencies("notes", "notes-repo", "c1", 2)
    assert (again.builds, again.cached, [d.manifest for d in again.needed]) == ([], 1, ["api/requirements.txt"])


def test_a_commit_without_manifests_plans_no_dependency_build(world):
    plan = world.steps.plan_dependencies("notes", "notes-repo", "c-plain", 1)
    assert (plan.needed, plan.builds, plan.cached) == ([], [], 0)


def test_a_set_resolved_without_a_lockfile_is_also_adopted_under_what_it_resolved(world):
    """GIVEN a dependency build that resolved without a lockfile (``resolve``)
    WHEN kept
    THEN the cache adopts it (cached again under the key its resolved lockfile defines)."""
    key = "e" * 64
    world.cache.objects["dependency-builds/out/" + key + ".zip"] = zip_of({"node_modules/ms/index.js": b"1"})
    world.steps.cache_dependencies("notes", 3, [BuiltDependencies(key, f"dependency-builds/out/{key}.zip", None, True)])
    assert world.cache.adopted == [key]


# ---- Package -------------------------------------------------------------------------------------


def with_dependencies_cached(world: World, commit: str = "c1") -> None:
    for deps in world.steps.plan_dependencies("notes", "notes-repo", commit, 1).needed:
        data = zip_of({"humanize/__init__.py": b"# installed\n"})
        sha = hashlib.sha256(data).hexdigest()
        world.cache.objects[f"dependencies/{deps.key}/{sha}.zip"] = data
        world.cache.digests[deps.key] = CachedDigest(deps.key, f"dependencies/{deps.key}/{sha}.zip", sha)


def test_a_commit_is_packaged_its_artifacts_stored_once_and_what_it_fixes_noted(world):
    """GIVEN a commit whose dependencies are cached
    WHEN packaged twice (builds 1 and 2 of the same code)
    THEN both functions are zipped and checked, the template names their artifacts and bounds the
    app's roles, the table's fixed name is noted; the second build uploads nothing new."""
    with_dependencies_cached(world)
    first = world.steps.package("notes", "notes-repo", "c1", 1)
    second = world.steps.package("notes", "notes-repo", "c1", 2)

    assert (first.function_count, first.uploaded, second.uploaded) == (2, 2, 0)
    assert first.sources_checked == 3 and first.javascript_checked is False
    assert first.notes == {"fixedNames": [{"logicalId": "Notes", "type": "AWS::DynamoDB::Table",
                                           "property": "TableName", "name": "notes-table"}]}
    template = yaml.safe_load(world.artifacts.objects[first.template_key])
    assert template["Resources"]["Api"]["Properties"]["CodeUri"].startswith(f"s3://{BUCKET}/artifacts/")
    manifest = world.artifacts.get_manifest(first.manifest_key)
    assert sorted(f["logicalId"] for f in manifest) == ["Api", "Plain"]


def test_a_build_that_fails_packaging_stores_nothing(world):
    """GIVEN a commit whose Plain function does not parse
    WHEN packaged
    THEN PackagingError names the function and the file, and no artifact, template or manifest is stored."""
    with_dependencies_cached(world, "c-broken")
    with pytest.raises(PackagingError) as failed:
        world.steps.package("notes", "notes-repo", "c-broken", 1)
    assert "Plain" in str(failed.value) and "app.py" in str(failed.value)
    assert world.artifacts.objects == {}


def test_a_function_whose_code_uri_folder_is_gone_fails_packaging_naming_function_and_folder(world):
    """GIVEN a commit whose template points Plain at a folder it does not have
    WHEN packaged
    THEN PackagingError names the function and the folder (the build's cause), and nothing is stored.
    (Was tests/integration/sprout/test_builds.py's code-uri test: the path a Package failure takes
    to the build's record is test_pipeline.py's syntax-error test.)"""
    with_dependencies_cached(world, "c-no-folder")
    with pytest.raises(PackagingError) as failed:
        world.steps.package("notes", "notes-repo", "c-no-folder", 1)
    assert "Plain" in str(failed.value) and "gone" in str(failed.value) and world.artifacts.objects == {}


def test_a_function_whose_dependencies_were_never_built_fails_packaging(world):
    """GIVEN a commit whose api/ needs dependencies the cache does not hold (their build never ran)
    WHEN packaged
    THEN packaging fails naming the function, and nothing is stored."""
    with pytest.raises(PackagingError) as failed:
        world.steps.package("notes", "notes-repo", "c1", 1)
    assert "Api" in str(failed.value) and world.artifacts.objects == {}


# ---- RecordBuildOutcome --------------------------------------------------------------------------


def test_a_succeeded_build_is_recorded_with_the_functions_its_manifest_lists(world):
    with_dependencies_cached(world)
    number = world.steps.record("notes", "notes-repo", "c1", "main", EXEC).build.number
    done = world.steps.package("notes", "notes-repo", "c1", number)
    outcome = world.steps.succeeded("notes", number, done.template_key, done.manifest_key, done.notes)
    build = world.lineage.builds[("notes", number)]
    assert outcome.failure is None and build.status is BuildStatus.SUCCEEDED
    assert (sorted(f.logical_id for f in build.functions), build.template_key, build.notes) == \
        (["Api", "Plain"], done.template_key, done.notes)


def test_a_failed_dependency_build_is_recorded_with_what_its_log_said(world):
    """GIVEN the dependency build failed (its Catch: the CodeBuild build as the Cause)
    WHEN the outcome is recorded
    THEN the failure's cause is the installer's sentence (manifest, package), not the build's JSON."""
    number = world.steps.record("notes", "notes-repo", "c1", "main", EXEC).build.number
    error = {"Error": "States.TaskFailed", "Cause": json.dumps({"Build": {"Id": "p:1"}})}
    outcome = world.steps.failed("notes", number, {"step": DEPENDENCY_STEP, "error": "States.TaskFailed",
                                                  "cause": error["Cause"]}, error)
    build = world.lineage.builds[("notes", number)]
    assert build.status is BuildStatus.FAILED and build.failure == outcome.failure
    assert build.failure["cause"].startswith("api/requirements.txt: cannot install nope==9")


@pytest.mark.parametrize("step, explained", [(DEPENDENCY_STEP, True), ("Package", False)])
def test_a_failure_the_log_cannot_explain_keeps_the_catchs_cause(world, step, explained):
    """GIVEN a failure whose dependency build log says nothing (or a failure at another step)
    WHEN recorded
    THEN the cause is the Catch's own; only a dependency build's failure asks its log."""
    number = world.steps.record("notes", "notes-repo", "c1", "main", EXEC).build.number
    recorded = {"step": step, "error": "PackagingError", "cause": "Plain: app.py, line 1: invalid syntax"}
    world.steps.failed("notes", number, recorded, None)
    assert world.lineage.builds[("notes", number)].failure == recorded
    assert (world.explained == [None]) is explained
