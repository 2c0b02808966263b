"""Building a commit: the build state machine's steps (statemachines/build.asl.json), as one use case.

- ``resolve_push`` / ``resolve_requested``: a push (every app whose stages follow the branch; a
  preview stage made first where the app's branch previews ask for one) or a build asked for
  through the API → the apps to build, each with the stages that deploy it at once;
- ``record``: the build numbered (one per app and commit) as the execution's open work; a commit
  that cannot be read is recorded FAILED naming why;
- ``plan_dependencies``: the dependency sets the commit needs that the cache lacks, each given its
  build's source and an output prefix of its own (the dependency builds then run in CodeBuild);
- ``cache_dependencies``: the trusted step after them: each output kept in the cache by content
  (a set resolved without a lockfile also under what it resolved);
- ``package``: the commit's functions checked (their code parses), zipped deterministically and
  stored by content, with the packaged template and the function manifest;
- ``record_outcome``: SUCCEEDED with the manifest's functions, or FAILED with the step and why (a
  failed dependency build says which manifest and package, from its log).

Each app's build is its own: a failure is recorded on that build and the others go on. The ports
are declared here (one service uses them); the AWS adapters are built in ``sprout.wiring``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from sprout.domain.app_roles import AppRoles
from sprout.domain.dependencies import CachedDigest, Dependencies, resolved_note
from sprout.domain.errors import SourceError
from sprout.domain.model import App, Build, BuildStatus, FunctionArtifact, StageSpec
from sprout.domain.packaging import PackageResult
from sprout.domain.packaging import package as package_commit
from sprout.domain.packaging import plan_dependencies as dependencies_of
from sprout.domain.physical_names import fixed_names
from sprout.domain.source_tree import SourceTree
from sprout.domain.syntax import ScriptChecker, check_function

DEPENDENCY_STEP = "BuildDependencies"  # the Map state running the dependency builds (its failures name them)
NOTE_NAMES_LIMIT, NOTE_NAME_LIMIT = 50, 300


# ---- ports ---------------------------------------------------------------------------------------


class BuildStepLineage(Protocol):
    def get_app(self, name: str) -> App: ...

    def stages_following(self, repository: str, branch: str) -> list[tuple[App, StageSpec]]: ...

    def record_build(self, app: str, commit_id: str, branch: str | None, message: str = "", author: str = "",
                     execution: str | None = None) -> tuple[Build, bool]: ...

    def finish_build(self, app: str, number: int, status: BuildStatus | str, functions: Any = (),
                     template_key: str | None = None, failure: dict[str, Any] | None = None,
                     notes: dict[str, Any] | None = None) -> Build: ...


class Commits(Protocol):
    """The apps' repositories at a commit: who made it, and its files."""

    def commit_info(self, repository: str, commit_id: str) -> dict[str, Any]: ...

    def tree(self, repository: str, commit_id: str) -> SourceTree: ...


class DependencyCache(Protocol):
    """Installed dependencies by key (the artifact bucket, their digests in the lineage)."""

    builder_digest: str

    def digest_of(self, key: str) -> CachedDigest | None: ...

    def read_cached(self, object_key: str) -> bytes: ...

    def has(self, key: str) -> bool: ...

    def output_of(self, key: str) -> tuple[str, str]: ...

    def put_source(self, deps: Dependencies) -> str: ...

    def keep(self, key: str, output: str, app: str, build: int, codebuild: str | None = None) -> CachedDigest: ...

    def adopt(self, kept: CachedDigest, app: str, build: int) -> dict[str, Any] | None: ...


class BuildArtifacts(Protocol):
    def put_if_absent(self, sha256: str, data: bytes) -> bool: ...

    def put_template(self, app: str, build_number: int, text: str) -> str: ...

    def put_manifest(self, app: str, build_number: int, functions: list[dict[str, Any]]) -> str: ...

    def get_manifest(self, key: str) -> list[dict[str, Any]]: ...


# ---- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One app to build at a commit, and the stages following the branch that deploy it at once."""

    app: str
    repository: str
    commit: str
    branch: str | None
    deploy_stages: list[str]
    trigger: dict[str, Any]


@dataclass(frozen=True)
class Resolution:
    targets: list[Target]
    repository: str
    branch: str | None
    commit: str
    previews: list[dict[str, Any]] | None = None  # the preview stages a push made (or why not)


@dataclass(frozen=True)
class Recorded:
    build: Build
    created: bool  # False: the commit was built already (or is being built by another execution)


@dataclass(frozen=True)
class PlannedBuild:
    deps: Dependencies
    source: str  # "bucket/key" of the build's source zip
    output_path: str
    artifact_name: str


@dataclass(frozen=True)
class DependencyPlan:
    needed: list[Dependencies]
    builds: list[PlannedBuild]

    @property
    def cached(self) -> int:
        return len(self.needed) - len(self.builds)


@dataclass(frozen=True)
class BuiltDependencies:
    """One dependency build that ran: its key, its output's S3 key, its CodeBuild id, whether it
    resolved without a lockfile."""

    key: str
    output: str
    codebuild: str | None = None
    resolve: bool = False


@dataclass(frozen=True)
class Packaging:
    template_key: str
    manifest_key: str
    function_count: int
    notes: dict[str, Any]
    uploaded: int  # artifacts stored by this build (the others were stored already)
    sources_checked: int
    javascript_checked: bool


@dataclass(frozen=True)
class Outcome:
    build: Build
    failure: dict[str, str] | None = None


# ---- the use case --------------------------------------------------------------------------------


class BuildSteps:
    def __init__(self, lineage: BuildStepLineage, commits: Commits,
                 ensure_previews: Callable[[str, str], list[dict[str, Any]]],
                 cache: DependencyCache, artifacts: BuildArtifacts, bucket: str,
                 roles: Callable[[], AppRoles], js_checker: Callable[[], ScriptChecker | None],
                 explain_dependency_failure: Callable[[Mapping[str, Any] | None], str | None]):
        self.lineage, self.commits, self.ensure_previews = lineage, commits, ensure_previews
        self.cache, self.artifacts, self.bucket = cache, artifacts, bucket
        self.roles, self.js_checker, self.explain = roles, js_checker, explain_dependency_failure

    # -- Resolve --

    def resolve_push(self, repository: str, branch: str, commit: str, trigger: dict[str, Any]) -> Resolution:
        """Every app following ``branch`` of ``repository`` (apps by name), after making the preview
        stages the push asks for (before who follows the branch is read: a new preview follows it)."""
        previews_made = self.ensure_previews(repository, branch)
        followers: defaultdict[str, list[StageSpec]] = defaultdict(list)
        for registered, stage in self.lineage.stages_following(repository, branch):
            followers[registered.name].append(stage)
        targets = [_target(name, repository, commit, branch, stages, trigger) for name, stages in sorted(followers.items())]
        return Resolution(targets, repository, branch, commit, previews_made or None)

    def resolve_requested(self, app: str, branch: str | None, commit: str, trigger: dict[str, Any]) -> Resolution:
        """A build asked for through the API: that app, deployed to its stages following ``branch``."""
        registered = self.lineage.get_app(app)
        stages = registered.stages_following(branch) if branch else []
        target = _target(registered.name, registered.repository, commit, branch, stages, trigger)
        return Resolution([target], registered.repository, branch, commit)

    # -- RecordBuild --

    def record(self, app: str, repository: str, commit: str, branch: str | None, execution: str | None) -> Recorded:
        """The build of ``commit``, numbered once per app and commit, as ``execution``'s open work."""
        try:
            info, problem = self.commits.commit_info(repository, commit), None
        except SourceError as e:
            info, problem = {}, str(e)
        build, created = self.lineage.record_build(app, commit, branch, info.get("message", ""), info.get("author", ""),
                                                   execution=execution)
        if not created and execution and build.execution == execution and build.status is BuildStatus.BUILDING:
            created = True  # numbered by the API for this execution before it started (sprout.services.builds)
        if created and problem:
            build = self.lineage.finish_build(app, build.number, BuildStatus.FAILED,
                                              failure={"step": "RecordBuild", "error": "SourceError", "cause": problem})
        return Recorded(build, created)

    # -- PlanDependencies --

    def plan_dependencies(self, app: str, repository: str, commit: str, number: int) -> DependencyPlan:
        """The dependency sets the commit's functions and layers need; a build for each the cache lacks."""
        registered = self.lineage.get_app(app)
        tree = self.commits.tree(repository, commit)
        needed = dependencies_of(tree.read(registered.template_path), registered.template_path, tree,
                                 self.cache.builder_digest, resolve_scope(app, number))
        builds = []
        for deps in needed:
            if self.cache.has(deps.key):
                continue
            path, name = self.cache.output_of(deps.key)
            builds.append(PlannedBuild(deps, self.cache.put_source(deps), path, name))
        return DependencyPlan(needed, builds)

    # -- CacheDependencies --

    def cache_dependencies(self, app: str, number: int, built: Sequence[BuiltDependencies]) -> list[CachedDigest]:
        """Each build's output moved into the cache by content and recorded (what Package checks)."""
        kept = []
        for one in built:
            recorded = self.cache.keep(one.key, one.output, app, number, one.codebuild)
            if one.resolve:  # resolved without a lockfile: also cached under what it resolved
                self.cache.adopt(recorded, app, number)
            kept.append(recorded)
        return kept

    # -- Package --

    def package(self, app: str, repository: str, commit: str, number: int) -> Packaging:
        """The commit packaged: code checked, artifacts stored by content (an unchanged function
        uploads nothing), the packaged template and the function manifest stored beside it."""
        registered = self.lineage.get_app(app)
        tree = self.commits.tree(repository, commit)
        result = package_commit(tree.read(registered.template_path), registered.template_path, tree, self.bucket,
                                self.cache, resolve_scope(app, number), roles=self.roles())
        js = self.js_checker()
        checked = sum(check_function(f.logical_id, f.config.get("Runtime"), result.artifacts[f.sha256], "", js)
                      for f in result.functions)
        uploaded = sum(self.artifacts.put_if_absent(sha, data) for sha, data in result.artifacts.items())
        template_key = self.artifacts.put_template(app, number, result.packaged_template)
        manifest_key = self.artifacts.put_manifest(app, number, [
            {"logicalId": f.logical_id, "sha256": f.sha256, "s3Key": f.s3_key, "config": f.config}
            for f in result.functions])
        # the manifest stays in S3: an app's functions would outgrow a state's 256 KB (the notes are bounded)
        return Packaging(template_key, manifest_key, len(result.functions), self.notes(result), uploaded, checked,
                         js is not None)

    def notes(self, result: PackageResult) -> dict[str, Any]:
        """What a person should know about the build: the physical names its template fixes for every
        stage, and the dependencies it resolved without a lockfile (each now cached by what it
        resolved, its lockfile kept)."""
        notes: dict[str, Any] = {}
        fixed = fixed_names(yaml.safe_load(result.packaged_template) or {})
        if fixed:  # bounded: the build's record is one item (a template may name hundreds of resources)
            notes["fixedNames"] = [{**n, "name": n["name"][:NOTE_NAME_LIMIT]} for n in fixed[:NOTE_NAMES_LIMIT]]
        resolved = [r for deps, installed in result.resolved
                    if (r := resolved_note(deps, installed, self.cache.builder_digest))]
        if resolved:
            notes["resolvedWithoutLockfile"] = resolved
        return notes

    # -- RecordBuildOutcome --

    def succeeded(self, app: str, number: int, template_key: str, manifest_key: str,
                  notes: dict[str, Any] | None) -> Outcome:
        """The build SUCCEEDED, with the functions its manifest lists."""
        functions = tuple(FunctionArtifact(f["logicalId"], f["sha256"], f["s3Key"], f.get("config") or {})
                          for f in self.artifacts.get_manifest(manifest_key))
        build = self.lineage.finish_build(app, number, BuildStatus.SUCCEEDED, functions=functions,
                                          template_key=template_key, notes=notes)
        return Outcome(build)

    def failed(self, app: str, number: int, recorded: dict[str, str], error: Mapping[str, Any] | None) -> Outcome:
        """The build FAILED at ``recorded["step"]``; a failed dependency build's cause is what its
        log says (the manifest and the package), when it says it."""
        if recorded["step"] == DEPENDENCY_STEP:  # the Cause is the build: its log names the manifest and the package
            recorded = {**recorded, "cause": self.explain(error) or recorded["cause"]}
        build = self.lineage.finish_build(app, number, BuildStatus.FAILED, failure=recorded)
        return Outcome(build, recorded)


def resolve_scope(app: str, number: int) -> str:
    """The build a dependency set without a lockfile is resolved for (PlanDependencies and Package
    name the same one)."""
    return f"{app}#{number}"


def _target(app: str, repository: str, commit: str, branch: str | None, stages: list[StageSpec],
            trigger: dict[str, Any]) -> Target:
    return Target(app, repository, commit, branch, [s.name for s in stages if s.auto_deploy], trigger)


__all__ = ["DEPENDENCY_STEP", "BuildSteps", "BuiltDependencies", "DependencyPlan", "Packaging", "Resolution", "Target",
           "resolve_scope"]
