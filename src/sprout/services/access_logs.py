"""A stage's REST API access logs: turned on and off in one call, their settings, and their entries
newest first (filtered on the server side with a CloudWatch Logs filter pattern). The routes parse
the body and the query (``sprout.domain.monitoring``) and answer; the rules are here, handed their
ports (the stage being monitored, API Gateway's access-log settings, CloudWatch Logs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sprout.domain.errors import AccessLogsOff
from sprout.domain.monitoring import (
    ApiStage,
    Cursor,
    TimeRange,
    access_log_group,
    decode_cursor,
    encode_cursor,
    parse_access_entry,
)
from sprout.domain.tokens import listing
from sprout.services.monitoring import DeployedStage, LogLine, Monitoring


class AccessLogSettingView(Protocol):
    @property
    def destination_arn(self) -> str | None: ...


class AccessLoggingPort(Protocol):
    """API Gateway's account role and each API stage's access-log settings."""

    def account_role(self) -> str | None: ...

    def setting(self, api: ApiStage) -> AccessLogSettingView: ...

    def turn_on(self, apis: tuple[ApiStage, ...], role_arn: str, ensure_group: Callable[[str, int], str]) -> None: ...

    def disable(self, api: ApiStage) -> None: ...


class AccessLogGroups(Protocol):
    """CloudWatch Logs as the access logs use it: the groups, their retention, their newest events."""

    def ensure_group(self, group: str, retention_days: int) -> str: ...

    def retention(self, group: str) -> int | None: ...

    def newest(self, groups: list[str], pattern: str, since_ms: int, until_ms: int, limit: int,
               cursor: Cursor | None = None) -> tuple[Sequence[LogLine], Cursor | None]: ...


def group_of(destination: str | None) -> str | None:
    """The log group an access-log destination ARN names (``…:log-group:NAME`` or ``…:NAME:*``)."""
    if not destination or ":log-group:" not in destination:
        return None
    return destination.split(":log-group:", 1)[1].removesuffix(":*")


class AccessLogs:
    def __init__(self, monitoring: Monitoring, logging: AccessLoggingPort, groups: AccessLogGroups,
                 role: Callable[[], str]):
        self.monitoring = monitoring
        self.logging = logging
        self.groups = groups
        self.role = role  # the role API Gateway writes logs with (read when first needed)

    def settings(self, app: str, stage: str) -> dict[str, Any]:
        """Whether every REST API of the stage logs its access, where, and with which account role."""
        return self._settings(self.monitoring.deployed(app, stage))

    def set(self, app: str, stage: str, enabled: bool) -> dict[str, Any]:
        """Access logs on (the account's role set when it has none, each API's group created with
        Sprout's retention) or off (the groups and what they hold stay). Calling twice changes nothing."""
        target = self.monitoring.deployed(app, stage)
        self._require_api(target)
        if enabled:
            self.logging.turn_on(target.inventory.apis, self.role(), self.groups.ensure_group)
        else:
            for api in target.inventory.apis:
                self.logging.disable(api)
        return self._settings(target)

    def entries(self, app: str, stage: str, span: TimeRange, pattern: str, limit: int,
                next_token: str | None, checked: bool = False) -> dict[str, Any]:
        """The stage's access-log entries newest first, a page at a time (409 while they are off;
        ``checked``: the caller already knows the app declares the stage)."""
        logs_of = listing("access-logs", app, stage)
        cursor = decode_cursor(logs_of, next_token) if next_token else None
        target = self.monitoring.deployed(app, stage, checked=checked)
        self._require_api(target)
        groups = [g for api in target.inventory.apis if (g := group_of(self.logging.setting(api).destination_arn))]
        if not groups:
            raise AccessLogsOff(
                f"access logs are off for {target.where}: turn them on with PUT /apps/{app}/stages/{stage}/access-logs "
                f'{{"enabled": true}} (sprout access-logs enable {app} {stage})'
            )
        events, next_cursor = self.groups.newest(groups, pattern, span.since_ms, span.until_ms, limit, cursor)
        found = [e for e in (parse_access_entry(ev.message) for ev in events) if e is not None]
        return {"entries": found, "nextToken": encode_cursor(logs_of, next_cursor) if next_cursor else None}

    def _settings(self, target: DeployedStage) -> dict[str, Any]:
        account = self.logging.account_role()
        apis = []
        enabled = bool(target.inventory.apis)
        retention = None
        for api in target.inventory.apis:
            destination = self.logging.setting(api).destination_arn
            group = group_of(destination) or access_log_group(api.api_id, api.stage)
            enabled = enabled and destination is not None
            retention = retention or self.groups.retention(group)
            apis.append({"apiId": api.api_id, "stage": api.stage, "logGroup": group, "destinationArn": destination})
        return {
            "enabled": enabled,
            "apis": apis,
            # a role already set on the account is kept (it works for every API): say whose it is
            "accountRole": {"arn": account, "kept": account is not None and account != self.role()},
            "retentionDays": retention,
        }

    @staticmethod
    def _require_api(target: DeployedStage) -> None:
        if not target.inventory.apis:
            raise AccessLogsOff(
                f"{target.where} has no REST API (AWS::ApiGateway::Stage) in its stack: there are no access logs"
            )
