"""monitoring: what reading a stage's logs and metrics needs from the local cloud, with AWS's
semantics where moto's fall short - FilterLogEvents (filter patterns, interleaving, tokens),
GetMetricData (percentiles, periods), PutMetricData's reserved ``AWS/`` namespaces and API
Gateway's logging settings (account role, stage access logs). See each module's docstring for what moto does and what AWS does."""

from __future__ import annotations

from typing import Any

from . import apigateway_logging, log_search, metric_data, namespaces, subscriptions


def install(cloud: Any) -> None:
    log_search.install()
    metric_data.install()
    namespaces.install()
    apigateway_logging.install()
    subscriptions.install(cloud)
