"""Builds asked for through the API (``builds start``, and registering an app whose repository
already has the branches its stages follow): numbered here, before the build execution starts, so
the answer names the build a person then waits for.

The build is recorded as the open work of the execution about to start (its ARN is known from its
name); the execution's RecordBuild finds it, sees it is its own, and builds it. A commit the app
already built keeps its number (the execution then deploys it again, as a person asked). When the
execution cannot be started, the build is closed FAILED saying why: nothing is left open.
"""

from __future__ import annotations

import json
import uuid

from sprout.adapters.executions import execution_arn
from sprout.adapters.source import commit_info, resolve_branch
from sprout.domain.errors import SourceError
from sprout.domain.model import App, BuildStatus


def start_build(context: dict, app: App, commit: str, branch: str | None, trigger: dict) -> dict:
    """``{"branch", "commit", "build", "execution"}``: the build of ``commit`` and the execution
    building it."""
    lineage = context["lineage"]
    name = f"{app.name}-{commit[:12]}-{uuid.uuid4().hex[:8]}"[-80:]
    arn = execution_arn(context["build_machine"], name)
    try:
        info = commit_info(app.repository, commit)
    except SourceError:
        info = {}
    build, _ = lineage.record_build(app.name, commit, branch, info.get("message", ""), info.get("author", ""),
                                    execution=arn)
    try:
        context["sfn"].start_execution(
            stateMachineArn=context["build_machine"],
            name=name,
            input=json.dumps({"source": "sprout.api", "app": app.name, "branch": branch, "commitId": commit,
                              "trigger": trigger}),
        )
    except Exception as e:
        if build.execution == arn:
            lineage.finish_build(app.name, build.number, BuildStatus.FAILED,
                                 failure={"step": "StartBuild", "error": type(e).__name__, "cause": str(e)})
        raise
    return {"branch": branch, "commit": commit, "build": build.number, "execution": arn}


def build_branch_heads(context: dict, app: App, trigger: dict) -> list[dict]:
    """Each branch a stage of ``app`` follows that the repository already has, built at its head
    (in stage order; a branch not pushed yet is skipped: its first push builds it)."""
    started = []
    for branch in dict.fromkeys(s.branch for s in app.stages if s.branch):
        try:
            commit = resolve_branch(app.repository, branch)
        except SourceError:
            continue
        started.append(start_build(context, app, commit, branch, trigger))
    return started
