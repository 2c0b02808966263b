"""Who hears that the lineage closed a record: a deployment (SUCCEEDED or FAILED) or a build.
The repositories call it after the closing transaction committed, once per close (finishing a
record again the same way tells nothing). Sprout's functions hear it as events on EventBridge
(sprout.adapters.delivery_events, set by sprout.wiring); a lineage without one tells no one."""

from __future__ import annotations

from typing import Protocol

from sprout.domain.model import Build, Deployment
from sprout.observability import logger


class ClosedRecords(Protocol):
    def deployment_closed(self, deployment: Deployment) -> None: ...

    def build_closed(self, build: Build) -> None: ...


class Closing:
    closed_records: ClosedRecords | None = None

    def _deployment_closed(self, deployment: Deployment) -> None:
        if self.closed_records is not None:
            try:
                self.closed_records.deployment_closed(deployment)
            except Exception as e:  # noqa: BLE001 - the record is closed; telling it is best effort
                logger.error("deployment close not told", extra={"error": f"{type(e).__name__}: {e}"})

    def _build_closed(self, build: Build) -> None:
        if self.closed_records is not None:
            try:
                self.closed_records.build_closed(build)
            except Exception as e:  # noqa: BLE001
                logger.error("build close not told", extra={"error": f"{type(e).__name__}: {e}"})
