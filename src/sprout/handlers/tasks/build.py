"""The build state machine's tasks (statemachines/build.asl.json): Resolve, RecordBuild,
PlanDependencies, CacheDependencies, Package, RecordBuildOutcome (between PlanDependencies and
CacheDependencies, the dependency builds run in CodeBuild, each writing under its own prefix;
CacheDependencies moves their outputs into the cache and records their digests, which Package
checks). Each app's build records its own failure: the others go on."""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from sprout import wiring
from sprout.domain.errors import InvalidInput
from sprout.domain.model import BuildStatus
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
from sprout.handlers.tasks.common import failure, field, settings, task, with_execution
from sprout.observability import logger, metrics, tracer
from sprout.services.build_steps import BuiltDependencies, Resolution

build_steps = wiring.build_steps()
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
        resolution = build_steps.resolve_push(repository, branch, commit, dict(trigger))
        if not resolution.targets:
            logger.info("no app follows the branch", extra={"repository": repository, "branch": branch})
    elif event.get("source") == "sprout.api":
        trigger = event.get("trigger") or Trigger(type="user")
        resolution = build_steps.resolve_requested(field(event, "app"), event.get("branch"), field(event, "commitId"),
                                                   dict(trigger))
    else:
        raise InvalidInput("source", "unknown build trigger")
    return _resolved(resolution)


def _resolved(resolution: Resolution) -> Resolved:
    targets: list[BuildTarget] = [
        {"app": t.app, "repository": t.repository, "commitId": t.commit, "branch": t.branch,
         "deployStages": t.deploy_stages, "trigger": cast(Trigger, t.trigger)}
        for t in resolution.targets
    ]
    resolved: Resolved = {"targets": targets, "repository": resolution.repository, "branch": resolution.branch,
                          "commitId": resolution.commit}
    if resolution.previews:
        resolved["previews"] = resolution.previews
    return resolved


@with_execution
def record_build_step(event: BuildTarget, execution: str | None) -> RecordedBuild:
    """Number the build (one per app and commit), as the execution's open work. A commit that
    cannot be read is still recorded: as a FAILED build naming why."""
    recorded = build_steps.record(event["app"], event["repository"], event["commitId"], event["branch"], execution)
    build = recorded.build
    if recorded.created:
        metrics.add_metric(name="BuildsStarted", unit="Count", value=1)
    logger.info("build recorded", extra={"app": build.app, "build": build.number, "new_build": recorded.created})
    return {"number": build.number, "created": recorded.created, "commitId": build.commit_id, "status": str(build.status)}


@tracer.capture_method(capture_response=False)
def plan_dependencies_step(event: PackageInput) -> DependencyPlan:
    """Which dependency sets the commit's functions and layers need that the cache lacks; each
    gets its build's source written (installer, manifest, lockfile) for CodeBuild to run."""
    plan = build_steps.plan_dependencies(event["app"], event["repository"], event["commitId"], event["number"])
    builds: list[DependencyBuild] = [
        {"key": b.deps.key, "method": b.deps.method, "runtime": b.deps.runtime, "architecture": b.deps.architecture,
         "manifest": b.deps.manifest, "source": b.source, "outputPath": b.output_path, "artifactName": b.artifact_name,
         "resolve": b.deps.resolve}
        for b in plan.builds
    ]
    metrics.add_metric(name="DependencyCacheHits", unit="Count", value=plan.cached)
    metrics.add_metric(name="DependencyCacheMisses", unit="Count", value=len(plan.builds))
    logger.info("dependencies planned", extra={"app": event["app"], "needed": [d.manifest for d in plan.needed],
                                               "to_build": [b.deps.manifest for b in plan.builds]})
    return {"builds": builds, "cached": plan.cached}


@tracer.capture_method(capture_response=False)
def cache_dependencies_step(event: CacheInput) -> Cached:
    """The trusted step after the dependency builds: move each build's output (its own prefix) into
    the cache by content, and record the object and its sha256 in the lineage for Package to check."""
    app_name, number = event["app"], event["number"]
    builds, ran = event["builds"], event.get("built") or []
    if not isinstance(builds, list) or not isinstance(ran, list) or not all(isinstance(b, dict) for b in builds):
        raise InvalidInput("builds", "must be a list of dependency builds")
    built = [
        BuiltDependencies(field(build, "key"), f"{field(build, 'outputPath')}/{field(build, 'artifactName')}",
                          ran[index].get("id") if index < len(ran) and isinstance(ran[index], dict) else None,
                          bool(build.get("resolve")))
        for index, build in enumerate(builds)
    ]
    kept = [{"key": k.key, "object": k.object_key, "sha256": k.sha256}
            for k in build_steps.cache_dependencies(app_name, number, built)]
    logger.info("dependencies cached", extra={"app": app_name, "build": number, "kept": kept})
    return {"kept": kept}


@tracer.capture_method(capture_response=False)
def package_step(event: PackageInput) -> Packaged:
    """Fetch the source at the commit, check that its code parses, zip every function (with its
    installed dependencies) deterministically and store the artifacts by content hash."""
    done = build_steps.package(event["app"], event["repository"], event["commitId"], event["number"])
    metrics.add_metric(name="ArtifactsUploaded", unit="Count", value=done.uploaded)
    logger.info("packaged", extra={"app": event["app"], "build": event["number"], "functions": done.function_count,
                                   "uploaded": done.uploaded, "sources_checked": done.sources_checked,
                                   "javascript_checked": done.javascript_checked})
    return {"templateKey": done.template_key, "manifestKey": done.manifest_key, "functionCount": done.function_count,
            "notes": done.notes}


def record_build_outcome_step(event: BuildOutcome) -> BuildRecorded:
    """Record how the build ended: SUCCEEDED with its artifacts, or FAILED with the step and why."""
    app_name, number = event["app"], event["number"]
    status = BuildStatus(event["status"])
    if status is BuildStatus.SUCCEEDED:
        pkg = field(event, "package")
        manifest_key = field(pkg, "manifestKey")
        build_steps.succeeded(app_name, number, pkg["templateKey"], manifest_key, pkg.get("notes"))
    else:
        error = event.get("error")
        build_steps.failed(app_name, number, failure(event.get("step", "unknown"), error), error)
        metrics.add_metric(name="BuildsFailed", unit="Count", value=1)
    return {"app": app_name, "number": number, "status": str(status)}


resolve = task(resolve_step, on_context=idempotency_config.register_lambda_context)
record_build = task(record_build_step)
plan_dependencies = task(plan_dependencies_step)
cache_dependencies = task(cache_dependencies_step)
package = task(package_step)
record_build_outcome = task(record_build_outcome_step)
