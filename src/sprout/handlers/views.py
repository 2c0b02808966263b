"""Domain types as the API and task payloads show them (camelCase JSON)."""

from __future__ import annotations

from sprout.domain.changeset import changeset_view, masked_config
from sprout.domain.model import App, Build, Deployment, FunctionArtifact, Stage, StageLock
from sprout.domain.pipeline import parse_iso, stack_name


def app_view(app: App) -> dict:
    return {
        "name": app.name,
        "repository": app.repository,
        "templatePath": app.template_path,
        "stages": [{"name": s.name, "branch": s.branch, "autoDeploy": s.auto_deploy,
                    **({"strategy": s.strategy} if s.strategy else {})} for s in app.stages],
        "createdAt": app.created_at,
    }


def function_view(f: FunctionArtifact) -> dict:
    """A build's function: environment values masked, as change sets show them."""
    return {"logicalId": f.logical_id, "sha256": f.sha256, "s3Key": f.s3_key, "config": masked_config(f.config)}


def build_summary(build: Build) -> dict:
    return {
        "number": build.number,
        "commitId": build.commit_id,
        "branch": build.branch,
        "status": str(build.status),
        "message": build.message,
        "author": build.author,
        "createdAt": build.created_at,
        "finishedAt": build.finished_at,
        "quarantined": build.quarantined,
    }


def build_view(build: Build, deployed_to: dict[str, Deployment], live_on: list[str], rolled_back_from: list[str]) -> dict:
    return {
        **build_summary(build),
        "app": build.app,
        "functions": [function_view(f) for f in build.functions],
        "templateKey": build.template_key,
        "failure": build.failure,
        "execution": build.execution,
        "deployedTo": {stage: deployment_view(d) for stage, d in deployed_to.items()},
        "liveOn": live_on,
        "rolledBackFrom": sorted(rolled_back_from),
        "fixedNames": (build.notes or {}).get("fixedNames", []),
        "resolvedWithoutLockfile": (build.notes or {}).get("resolvedWithoutLockfile", []),
    }


def _duration_ms(d: Deployment) -> int | None:
    if not d.finished_at or not d.started_at:
        return None
    return int((parse_iso(d.finished_at) - parse_iso(d.started_at)).total_seconds() * 1000)


def deployment_view(d: Deployment) -> dict:
    return {
        "id": d.id,
        "app": d.app,
        "stage": d.stage,
        "build": d.build,
        "kind": str(d.kind),
        "status": str(d.status),
        "trigger": d.trigger,
        "replaces": d.replaces,
        "versions": d.versions,
        "startedAt": d.started_at,
        "finishedAt": d.finished_at,
        "durationMs": _duration_ms(d),
        "error": d.error,
        "step": d.step,
        "execution": d.execution,
        "tookOver": d.took_over,
        "changeSet": d.change_set,
        "notes": list(d.notes),
        "cause": d.cause,
        "reconciled": d.reconciled,
        "strategy": d.strategy,
        "canary": d.canary,
        "steps": list(d.steps),
        "control": d.control,
    }


def lock_view(lock: StageLock | None) -> dict | None:
    if lock is None:
        return None
    return {"deployment": lock.deployment, "execution": lock.execution, "since": lock.since, "expiresAt": lock.expires_at}


def stage_view(
    stage: Stage, current: Deployment | None, build: Build | None, function_names: dict[str, str]
) -> dict:
    hashes = {f.logical_id: f.sha256 for f in build.functions} if build else {}
    versions = current.versions if current else {}
    return {
        "app": stage.app,
        "name": stage.name,
        "branch": stage.branch,
        "autoDeploy": stage.auto_deploy,
        "stackName": stack_name(stage.app, stage.name),
        "currentDeployment": deployment_view(current) if current else None,
        "build": build_summary(build) if build else None,
        "functions": [
            {"logicalId": lid, "functionName": function_names.get(lid), "version": versions.get(lid), "sha256": hashes.get(lid)}
            for lid in sorted(set(versions) | set(hashes))
        ],
        "lock": lock_view(stage.lock),
        "autoRollback": None,
        "preview": stage.preview.view() if stage.preview else None,
        "removing": stage.removing if stage.removing and not stage.removed_at else None,
        "removedAt": stage.removed_at,
    }


__all__ = ["app_view", "build_summary", "build_view", "changeset_view", "deployment_view", "function_view", "lock_view",
           "stage_view"]
