"""The ports the services share, as ``typing.Protocol``s: what a use case needs of the lineage,
the artifact store, the source repositories and Step Functions, and nothing more. The adapters
(``sprout.adapters``) satisfy them structurally; the unit tests hand in-memory fakes.

A port used by one service alone is declared in that service's module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sprout.domain.model import App, Build, Deployment, DeploymentKind, DeploymentStatus, Stage

HolderCheck = Callable[[str], "bool | None"]


class AppReads(Protocol):
    def get_app(self, name: str) -> App: ...

    def get_stage(self, app: str, stage: str) -> Stage: ...


class BuildReads(Protocol):
    def get_build(self, app: str, number: int) -> Build: ...


class DeploymentReads(Protocol):
    def current_deployment(self, app: str, stage: str) -> Deployment | None: ...

    def get_deployment(self, app: str, stage: str, deployment_id: str) -> Deployment: ...

    def list_deployments(
        self, app: str, stage: str, limit: int = 25, next_token: str | None = None
    ) -> tuple[list[Deployment], str | None]: ...


class DeploymentWrites(Protocol):
    def begin_deployment(
        self,
        app: str,
        stage: str,
        build: Build | int,
        kind: DeploymentKind | str,
        trigger: dict[str, Any],
        execution: str | None = None,
        holder_running: HolderCheck | None = None,
        *,
        expect_current: str | None | object = ...,
    ) -> Deployment: ...

    def finish_deployment(
        self,
        app: str,
        stage: str,
        deployment_id: str,
        status: DeploymentStatus | str,
        versions: dict[str, str] | None = None,
        error: str | None = None,
        step: str | None = None,
    ) -> Deployment: ...


class DeliveryLineage(AppReads, BuildReads, DeploymentReads, DeploymentWrites, Protocol):
    """The lineage a promote or a rollback reads and writes."""

    def record_strategy(self, app: str, stage: str, deployment_id: str, strategy: dict[str, Any]) -> Deployment: ...

    def request_control(self, app: str, stage: str, deployment_id: str, action: str, by: str) -> Deployment: ...


class Templates(Protocol):
    """The artifact store's packaged templates."""

    def get_template(self, key: str) -> str: ...


class Executions(Protocol):
    """Step Functions: start an execution, ask whether one runs, stop one."""

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str: ...

    def is_running(self, execution_arn: str) -> bool | None: ...

    def stop(self, execution_arn: str, error: str, cause: str) -> None: ...


class Repositories(Protocol):
    """The apps' source repositories (CodeCommit)."""

    def check_repository(self, repository: str) -> None: ...

    def check_commit(self, repository: str, commit_id: str) -> None: ...

    def resolve_branch(self, repository: str, branch: str) -> str: ...

    def commit_info(self, repository: str, commit_id: str) -> dict[str, Any]: ...

    def commits_between(self, repository: str, newest: str, oldest: str | None, limit: int = 50) -> list[dict[str, Any]]: ...
