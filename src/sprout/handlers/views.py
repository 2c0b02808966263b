"""Domain types as the API and task payloads show them (camelCase JSON)."""

from __future__ import annotations

from sprout.domain.model import App, Build, Deployment, FunctionArtifact


def app_view(app: App) -> dict:
    return {
        "name": app.name,
        "repository": app.repository,
        "templatePath": app.template_path,
        "stages": [{"name": s.name, "branch": s.branch, "autoDeploy": s.auto_deploy} for s in app.stages],
        "createdAt": app.created_at,
    }


def function_view(f: FunctionArtifact) -> dict:
    return {"logicalId": f.logical_id, "sha256": f.sha256, "s3Key": f.s3_key, "config": f.config}


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
    }


def build_view(build: Build, deployed_to: dict[str, Deployment]) -> dict:
    return {
        **build_summary(build),
        "functions": [function_view(f) for f in build.functions],
        "templateKey": build.template_key,
        "failure": build.failure,
        "deployedTo": {stage: deployment_view(d) for stage, d in deployed_to.items()},
    }


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
        "error": d.error,
    }
