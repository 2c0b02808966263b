"""The build state machine's tasks (statemachines/build.asl.json): Resolve, RecordBuild,
PlanDependencies, CacheDependencies, Package, RecordBuildOutcome (between PlanDependencies and
CacheDependencies, the dependency builds run in CodeBuild, each writing under its own prefix;
CacheDependencies moves their outputs into the cache and records their digests, which Package
checks). Each app's build records its own failure: the others go on."""

from __future__ import annotations

from collections import defaultdict

import yaml
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from sprout import wiring
from sprout.adapters.dependency_builds import DependencyCache, ResolvedLockfiles, why_failed
from sprout.adapters.node_check import node_checker
from sprout.adapters.source import CodeCommitSource, commit_info
from sprout.domain.app_roles import AppRoles
from sprout.domain.dependencies import resolved_note
from sprout.domain.errors import InvalidInput, SourceError
from sprout.domain.model import BuildStatus, FunctionArtifact, StageSpec
from sprout.domain.packaging import package as package_commit
from sprout.domain.packaging import plan_dependencies as dependencies_of
from sprout.domain.physical_names import fixed_names
from sprout.domain.syntax import check_function
from sprout.handlers.contracts import (
    BuildOutcome,
    BuildRecorded,
    BuildTarget,
    Cached,
    CacheInput,
    DependencyBuild,
    DependencyPlan,
    Packaged,
    PackageInput,
    RecordedBuild,
    Resolved,
    Trigger,
)
from sprout.handlers.tasks.common import failure, field, lineage, settings, task, with_execution
from sprout.observability import logger, metrics, tracer

artifacts = wiring.artifacts()
dependency_cache = DependencyCache(artifacts, lineage)
resolved_lockfiles = ResolvedLockfiles(dependency_cache)
DEPENDENCY_STEP = "BuildDependencies"
# Idempotency records share Sprout's table (pk "idempotency#<function>", sk the hashed key).
idempotency_store = DynamoDBPersistenceLayer(table_name=settings.table_name, key_attr="pk", sort_key_attr="sk")
idempotency_config = IdempotencyConfig(
    event_key_jmespath="id", raise_on_no_idempotency_key=False, expires_after_seconds=24 * 3600
)


def resolve_step(event: dict) -> Resolved:
    """A CodeCommit push event, or a build asked for through the API → the apps to build.

    Idempotent on the EventBridge event's ``id``: an event delivered again (EventBridge delivers at
    least once) resolves to the same targets without reading the lineage again. A build asked for
    through the API has no event id, and is resolved every time."""
    return _resolve(event=event)


@idempotent_function(data_keyword_argument="event", persistence_store=idempotency_store, config=idempotency_config)
def _resolve(event: dict) -> Resolved:
    if event.get("source") == "aws.codecommit":
        detail = event.get("detail") or {}
        repository, branch = field(detail, "repositoryName"), field(detail, "referenceName")
        commit = field(detail, "commitId")
        trigger: Trigger = {"type": "push", "by": detail.get("callerUserArn"), "eventId": event.get("id")}
        previews_made = wiring.previews().ensure_branch(repository, branch)  # before who follows it is read
        followers: defaultdict[str, list[StageSpec]] = defaultdict(list)
        for registered, stage in lineage.stages_following(repository, branch):
            followers[registered.name].append(stage)
        if not followers:
            logger.info("no app follows the branch", extra={"repository": repository, "branch": branch})
        targets = [
            _target(app_name, repository, commit, branch, stages, trigger)
            for app_name, stages in sorted(followers.items())
        ]
    elif event.get("source") == "sprout.api":
        registered = lineage.get_app(field(event, "app"))
        repository, branch, commit = registered.repository, event.get("branch"), field(event, "commitId")
        stages = registered.stages_following(branch) if branch else []
        trigger = event.get("trigger") or Trigger(type="user")
        targets = [_target(registered.name, repository, commit, branch, stages, trigger)]
    else:
        raise InvalidInput("source", "unknown build trigger")
    resolved: Resolved = {"targets": targets, "repository": repository, "branch": branch, "commitId": commit}
    if event.get("source") == "aws.codecommit" and previews_made:
        resolved["previews"] = previews_made
    return resolved


def _target(app_name: str, repository: str, commit: str, branch: str | None, stages: list[StageSpec],
            trigger: Trigger) -> BuildTarget:
    """One app to build at ``commit``, and the stages following the branch that deploy it at once."""
    return {
        "app": app_name,
        "repository": repository,
        "commitId": commit,
        "branch": branch,
        "deployStages": [s.name for s in stages if s.auto_deploy],
        "trigger": trigger,
    }


@with_execution
def record_build_step(event: BuildTarget, execution: str | None) -> RecordedBuild:
    """Number the build (one per app and commit), as the execution's open work. A commit that
    cannot be read is still recorded: as a FAILED build naming why."""
    app_name, commit = event["app"], event["commitId"]
    try:
        info, problem = commit_info(event["repository"], commit), None
    except SourceError as e:
        info, problem = {}, str(e)
    build, created = lineage.record_build(
        app_name, commit, event["branch"], info.get("message", ""), info.get("author", ""), execution=execution
    )
    if not created and execution and build.execution == execution and build.status is BuildStatus.BUILDING:
        created = True  # numbered by the API for this execution before it started (sprout.services.builds)
    if created:
        metrics.add_metric(name="BuildsStarted", unit="Count", value=1)
    if created and problem:
        build = lineage.finish_build(
            app_name, build.number, BuildStatus.FAILED,
            failure={"step": "RecordBuild", "error": "SourceError", "cause": problem},
        )
    logger.info("build recorded", extra={"app": build.app, "build": build.number, "new_build": created})
    return {"number": build.number, "created": created, "commitId": build.commit_id, "status": str(build.status)}


@tracer.capture_method(capture_response=False)
def plan_dependencies_step(event: PackageInput) -> DependencyPlan:
    """Which dependency sets the commit's functions and layers need that the cache lacks; each
    gets its build's source written (installer, manifest, lockfile) for CodeBuild to run."""
    app_name = event["app"]
    registered = lineage.get_app(app_name)
    tree = CodeCommitSource(event["repository"], event["commitId"])
    needed = dependencies_of(
        tree.read(registered.template_path), registered.template_path, tree, dependency_cache.builder_digest,
        resolve_scope(event),
    )
    missing = [deps for deps in needed if not dependency_cache.has(deps.key)]
    builds: list[DependencyBuild] = []
    for deps in missing:
        path, name = dependency_cache.output_of(deps.key)
        builds.append({
            "key": deps.key,
            "method": deps.method,
            "runtime": deps.runtime,
            "architecture": deps.architecture,
            "manifest": deps.manifest,
            "source": dependency_cache.put_source(deps),
            "outputPath": path,
            "artifactName": name,
            "resolve": deps.resolve,
        })
    metrics.add_metric(name="DependencyCacheHits", unit="Count", value=len(needed) - len(missing))
    metrics.add_metric(name="DependencyCacheMisses", unit="Count", value=len(missing))
    logger.info(
        "dependencies planned",
        extra={"app": app_name, "needed": [d.manifest for d in needed], "to_build": [d.manifest for d in missing]},
    )
    return {"builds": builds, "cached": len(needed) - len(missing)}


@tracer.capture_method(capture_response=False)
def cache_dependencies_step(event: CacheInput) -> Cached:
    """The trusted step after the dependency builds: move each build's output (its own prefix) into
    the cache by content, and record the object and its sha256 in the lineage for Package to check."""
    app_name, number = event["app"], event["number"]
    builds, ran = event["builds"], event.get("built") or []
    if not isinstance(builds, list) or not isinstance(ran, list):
        raise InvalidInput("builds", "must be a list")
    kept: list[dict[str, str]] = []
    for index, build in enumerate(builds):
        codebuild = ran[index].get("id") if index < len(ran) and isinstance(ran[index], dict) else None
        output = f"{field(build, 'outputPath')}/{field(build, 'artifactName')}"
        recorded = dependency_cache.keep(field(build, "key"), output, app_name, number, codebuild)
        kept.append({"key": recorded.key, "object": recorded.object_key, "sha256": recorded.sha256})
        if build.get("resolve"):  # resolved without a lockfile: also cached under what it resolved
            resolved_lockfiles.adopt(recorded, app_name, number)
    logger.info("dependencies cached", extra={"app": app_name, "build": number, "kept": kept})
    return {"kept": kept}


@tracer.capture_method(capture_response=False)
def package_step(event: PackageInput) -> Packaged:
    """Fetch the source at the commit, check that its code parses, zip every function (with its
    installed dependencies) deterministically and store the artifacts by content hash."""
    app_name, number = event["app"], event["number"]
    registered = lineage.get_app(app_name)
    tree = CodeCommitSource(event["repository"], event["commitId"])
    result = package_commit(
        tree.read(registered.template_path), registered.template_path, tree, settings.artifact_bucket,
        dependency_cache, resolve_scope(event), roles=_app_roles(),
    )
    js = node_checker()
    checked = sum(
        check_function(f.logical_id, f.config.get("Runtime"), result.artifacts[f.sha256], "", js)
        for f in result.functions
    )
    uploaded = sum(artifacts.put_if_absent(sha, data) for sha, data in result.artifacts.items())
    template_key = artifacts.put_template(app_name, number, result.packaged_template)
    manifest_key = artifacts.put_manifest(
        app_name,
        number,
        [{"logicalId": f.logical_id, "sha256": f.sha256, "s3Key": f.s3_key, "config": f.config} for f in result.functions],
    )
    metrics.add_metric(name="ArtifactsUploaded", unit="Count", value=uploaded)
    logger.info(
        "packaged",
        extra={"app": app_name, "build": number, "functions": len(result.functions), "uploaded": uploaded,
               "sources_checked": checked, "javascript_checked": js is not None},
    )
    # the manifest stays in S3: an app's functions would outgrow a state's 256 KB (the notes are bounded)
    return {"templateKey": template_key, "manifestKey": manifest_key, "functionCount": len(result.functions),
            "notes": build_notes(result)}


def resolve_scope(event: PackageInput) -> str:
    """The build a dependency set without a lockfile is resolved for (PlanDependencies and
    Package name the same one)."""
    return f"{event['app']}#{event['number']}"


NOTE_NAMES_LIMIT, NOTE_NAME_LIMIT = 50, 300


def build_notes(result) -> dict:
    """What a person should know about the build: the physical names its template fixes for every
    stage, and the dependencies it resolved without a lockfile (each now cached by what it
    resolved, its lockfile kept)."""
    notes: dict = {}
    fixed = fixed_names(yaml.safe_load(result.packaged_template) or {})
    if fixed:  # bounded: the build's record is one item (a template may name hundreds of resources)
        notes["fixedNames"] = [{**n, "name": n["name"][:NOTE_NAME_LIMIT]} for n in fixed[:NOTE_NAMES_LIMIT]]
    resolved = [r for deps, installed in result.resolved
                if (r := resolved_note(deps, installed, dependency_cache.builder_digest))]
    if resolved:
        notes["resolvedWithoutLockfile"] = resolved
    return notes
def _app_roles() -> AppRoles:
    """Sprout's boundary and path for the app's roles (PackageFunction's settings)."""
    return AppRoles(boundary_arn=settings.need("app_role_boundary_arn"), path=settings.need("app_role_path"))


def record_build_outcome_step(event: BuildOutcome) -> BuildRecorded:
    """Record how the build ended: SUCCEEDED with its artifacts, or FAILED with the step and why."""
    app_name, number = event["app"], event["number"]
    status = BuildStatus(event["status"])
    if status is BuildStatus.SUCCEEDED:
        pkg = field(event, "package")
        functions = tuple(
            FunctionArtifact(f["logicalId"], f["sha256"], f["s3Key"], f.get("config") or {})
            for f in artifacts.get_manifest(field(pkg, "manifestKey"))
        )
        lineage.finish_build(
            app_name, number, status, functions=functions, template_key=pkg["templateKey"], notes=pkg.get("notes")
        )
    else:
        step = event.get("step", "unknown")
        recorded = failure(step, event.get("error"))
        if step == DEPENDENCY_STEP:  # the Cause is the build: its log names the manifest and the package
            recorded["cause"] = why_failed(event.get("error")) or recorded["cause"]
        lineage.finish_build(app_name, number, status, failure=recorded)
        metrics.add_metric(name="BuildsFailed", unit="Count", value=1)
    return {"app": app_name, "number": number, "status": str(status)}


resolve = task(resolve_step, on_context=idempotency_config.register_lambda_context)
record_build = task(record_build_step)
plan_dependencies = task(plan_dependencies_step)
cache_dependencies = task(cache_dependencies_step)
package = task(package_step)
record_build_outcome = task(record_build_outcome_step)
