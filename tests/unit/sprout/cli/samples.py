"""Answers shaped as Sprout's API contract says, for the CLI's command tests."""

from __future__ import annotations

APP = {
    "name": "notes",
    "repository": "notes",
    "templatePath": "template.yaml",
    "stages": [
        {"name": "dev", "branch": "main", "autoDeploy": True},
        {"name": "prod", "branch": None, "autoDeploy": False},
    ],
    "createdAt": "2026-12-02T09:00:00.000Z",
}
BUILD7 = {
    "number": 7,
    "commitId": "c" * 40,
    "branch": "main",
    "status": "SUCCEEDED",
    "message": "Share notes",
    "author": "Ana",
    "createdAt": "2026-12-02T10:00:00.000Z",
    "finishedAt": "2026-12-02T10:01:00.000Z",
    "quarantined": False,
    "liveOn": ["dev"],
    "rolledBackFrom": [],
}


DEV = {
    "app": "notes",
    "name": "dev",
    "branch": "main",
    "autoDeploy": True,
    "stackName": "notes-dev",
    "currentDeployment": None,
    "build": BUILD7,
    "functions": [],
    "lock": None,
    "autoRollback": None,
}


PROD = {
    **DEV,
    "name": "prod",
    "branch": None,
    "autoDeploy": False,
    "stackName": "notes-prod",
    "build": {**BUILD7, "number": 5},
}


def changeset(confirm: bool, changeset_id: str = "000004:7") -> dict:
    return {
        "changesetId": changeset_id,
        "app": "notes",
        "stage": "prod",
        "build": 7,
        "current": {"deployment": "000004", "build": 5},
        "confirmRequired": confirm,
        "summary": "1 function changed",
        "changes": [
            {
                "class": "major" if confirm else "minor",
                "kind": "code-changed",
                "logicalId": "CreateNoteFunction",
                "type": "AWS::Lambda::Function",
                "detail": "sha256 a → b",
            }
        ],
        "commits": [{"id": "c" * 40, "author": "Ana", "message": "Share notes"}],
    }


def deployment(status: str, **more) -> dict:
    return {
        "id": "000009",
        "app": "notes",
        "stage": "prod",
        "build": 7,
        "kind": "promote",
        "status": status,
        "trigger": {"type": "user", "by": "ana"},
        "replaces": "000004",
        "versions": {},
        "startedAt": "2026-12-02T10:31:29.000Z",
        "finishedAt": None,
        "durationMs": None,
        "error": None,
        "step": "Deploy",
        "execution": "arn:x",
        **more,
    }


PROD_PATH = "/apps/notes/stages/prod"
