"""Reading a stage's monitoring: the stage it is about (the deployment it runs and what its stack
holds), API metrics, and each function's logs and metrics. The handlers parse the query (time
range, limit, period: ``sprout.domain.monitoring``) and answer; the reads are here, handed their
ports (the lineage, the stack's resources, CloudWatch metrics and logs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sprout.domain.errors import NotDeployed, StageNotFound, named
from sprout.domain.function_logs import function_log_group
from sprout.domain.issues import mask_values
from sprout.domain.model import LIVE_ALIAS, App, Build, Deployment
from sprout.domain.monitoring import (
    ERRORS_FILTER,
    Cursor,
    MetricQuery,
    StageInventory,
    TimeRange,
    decode_cursor,
    encode_cursor,
    iso,
    iso_ms,
    points,
    resolve_function,
)
from sprout.domain.pipeline import stack_name
from sprout.domain.tokens import listing
from sprout.services.issues import env_values

API_FIELDS = {
    "requests": ("Count", "Sum"),
    "4xx": ("4XXError", "Sum"),
    "5xx": ("5XXError", "Sum"),
    "latencyAvg": ("Latency", "Average"),
    "latencyP90": ("Latency", "p90"),
    "latencyP95": ("Latency", "p95"),
    "latencyP99": ("Latency", "p99"),
}
API_COUNTS = ("requests", "4xx", "5xx")
LAMBDA_FIELDS = {
    "invocations": ("Invocations", "Sum"),
    "errors": ("Errors", "Sum"),
    "throttles": ("Throttles", "Sum"),
    "durationAvg": ("Duration", "Average"),
    "durationP90": ("Duration", "p90"),
    "durationP95": ("Duration", "p95"),
    "durationP99": ("Duration", "p99"),
}
LAMBDA_COUNTS = ("invocations", "errors", "throttles")
# A stage's stack resources change only with a deployment: kept per (app, stage, deployment) for
# as long as the execution environment lives (a few stages' worth: bounded).
MAX_CACHED = 64


class MonitoringLineage(Protocol):
    def get_app(self, name: str) -> App: ...

    def current_deployment(self, app: str, stage: str) -> Deployment | None: ...

    def get_build(self, app: str, number: int) -> Build: ...


class Inventories(Protocol):
    def inventory(self, stack: str, where: str) -> StageInventory: ...


class MetricSeries(Protocol):
    def series(self, queries: list[MetricQuery], since: datetime, until: datetime,
               period: int) -> dict[str, dict[datetime, float]]: ...


class LogLine(Protocol):
    @property
    def stream(self) -> str: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def message(self) -> str: ...


class LogSearch(Protocol):
    def newest(self, groups: list[str], pattern: str, since_ms: int, until_ms: int, limit: int,
               cursor: Cursor | None = None) -> tuple[Sequence[LogLine], Cursor | None]: ...


@dataclass(frozen=True)
class DeployedStage:
    app: str
    stage: str
    deployment: Deployment
    inventory: StageInventory

    @property
    def where(self) -> str:
        return f"stage {self.stage} of app {self.app}"

    def function(self, fn: str) -> tuple[str, str]:
        """(logical id, physical name) of the function ``fn`` names (a short form is fine)."""
        logical_id = resolve_function(fn, list(self.inventory.functions), self.where)
        return logical_id, self.inventory.functions[logical_id]


class Monitoring:
    def __init__(self, lineage: MonitoringLineage, resources: Inventories, metrics: MetricSeries, logs: LogSearch,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.lineage = lineage
        self.resources = resources
        self.metrics = metrics
        self.logs = logs
        self.now = now
        self._inventories: dict[tuple[str, str, str], StageInventory] = {}

    def stage_of(self, app: str, stage: str) -> tuple[str, str]:
        """404 unless the app exists and declares the stage."""
        registered = self.lineage.get_app(app)
        if registered.stage(stage) is None:
            raise StageNotFound(f"app {named(app)} has no stage {named(stage)}")
        return app, stage

    def deployed(self, app: str, stage: str, checked: bool = False) -> DeployedStage:
        """The stage with what runs on it; 404 for an unknown app or stage (unless ``checked`` says
        the caller already asked), 409 when it was never deployed."""
        if not checked:
            self.stage_of(app, stage)
        where = f"stage {named(stage)} of app {named(app)}"
        try:
            deployment = self.lineage.current_deployment(app, stage)
        except StageNotFound:
            deployment = None
        if deployment is None:
            raise NotDeployed(f"{where} was never deployed: push to its branch or promote a build to it first")
        key = (app, stage, deployment.id)
        inventory = self._inventories.get(key)
        if inventory is None:
            inventory = self.resources.inventory(stack_name(app, stage), where)
            if len(self._inventories) >= MAX_CACHED:
                self._inventories.clear()
            self._inventories[key] = inventory
        return DeployedStage(app, stage, deployment, inventory)

    def api_metrics(self, app: str, stage: str, span: TimeRange, period: int) -> dict[str, Any]:
        """Requests, 4xx, 5xx and latency of the stage's REST API (``AWS/ApiGateway``) per period."""
        target = self.deployed(app, stage, checked=True)
        series: dict[str, dict[datetime, float]] = {}
        if target.inventory.apis:
            api = target.inventory.apis[0]  # a stage's stack normally has one REST API
            dims = (("ApiName", api.api_name), ("Stage", api.stage))
            queries = [MetricQuery(f"q{n}", "AWS/ApiGateway", metric, dims, stat)
                       for n, (metric, stat) in enumerate(API_FIELDS.values())]
            series = self.metrics.series(queries, span.since, span.until, period)
        fields = {name: f"q{n}" for n, name in enumerate(API_FIELDS)}
        return {"period": period, "since": iso(span.since), "until": iso(span.until),
                "points": points(series, fields, API_COUNTS)}

    def functions(self, app: str, stage: str) -> dict[str, Any]:
        target = self.deployed(app, stage)
        versions = target.deployment.versions or {}
        stack = stack_name(app, stage)
        return {"functions": [{"logicalId": logical_id, "functionName": name, "version": versions.get(logical_id),
                               "logGroup": function_log_group(stack, logical_id)}
                              for logical_id, name in sorted(target.inventory.functions.items())]}

    def function_logs(self, app: str, stage: str, fn: str, span: TimeRange, errors: bool, limit: int,
                      next_token: str | None) -> dict[str, Any]:
        """The function's log events newest first (``errors``: failures only), a page at a time."""
        target = self.deployed(app, stage, checked=True)
        logical_id, _ = target.function(fn)
        logs_of = listing("function-logs", app, stage, logical_id)
        cursor = decode_cursor(logs_of, next_token) if next_token else None
        events, next_cursor = self.logs.newest(
            [function_log_group(stack_name(app, stage), logical_id)], ERRORS_FILTER if errors else "", span.since_ms, span.until_ms, limit, cursor
        )
        # masked as an issue's samples are: the running build's environment values, secret-looking values
        secrets = env_values(self.lineage.get_build(app, target.deployment.build)) if events else []
        return {"function": logical_id,
                "events": [{"timestamp": iso_ms(e.timestamp), "logStream": e.stream,
                            "message": mask_values(e.message, secrets)} for e in events],
                "nextToken": encode_cursor(logs_of, next_cursor) if next_cursor else None}

    def function_metrics(self, app: str, stage: str, fn: str, span: TimeRange, period: int) -> dict[str, Any]:
        """The function's ``AWS/Lambda`` metrics, for its ``live`` alias and for the function as a whole."""
        target = self.deployed(app, stage, checked=True)
        logical_id, name = target.function(fn)
        scopes = {"live": (("FunctionName", name), ("Resource", f"{name}:{LIVE_ALIAS}")), "all": (("FunctionName", name),)}
        queries = [MetricQuery(f"{scope}{n}", "AWS/Lambda", metric, dims, stat)
                   for scope, dims in scopes.items() for n, (metric, stat) in enumerate(LAMBDA_FIELDS.values())]
        series = self.metrics.series(queries, span.since, span.until, period)
        answer: dict[str, Any] = {"function": logical_id, "period": period}
        for scope in scopes:
            answer[scope] = points(series, {name_: f"{scope}{n}" for n, name_ in enumerate(LAMBDA_FIELDS)}, LAMBDA_COUNTS)
        return answer
