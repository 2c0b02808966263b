"""Reading a stage's monitoring (sprout.services.monitoring) against in-memory fakes: an unknown
stage, a stage never deployed, a function named by a short form, a page of logs, the stack's
resources read once per deployment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from sprout.domain.errors import FunctionNotFound, NotDeployed, StageNotFound
from sprout.domain.monitoring import ApiStage, Cursor, StageInventory, time_range
from sprout.services.monitoring import Monitoring
from tests.unit.sprout.services.fakes import NOTES, NOW, FakeLineage


@dataclass(frozen=True)
class Line:
    stream: str
    timestamp: int
    message: str


class Resources:
    def __init__(self):
        self.asked: list[str] = []

    def inventory(self, stack, where):
        self.asked.append(stack)
        return StageInventory({"CreateNoteFunction": f"{stack}-Create"}, (ApiStage("Api", "a1", "Prod", "notes-api"),))


class Metrics:
    def __init__(self):
        self.queries = []

    def series(self, queries, since, until, period):
        self.queries += queries
        return {q.id: {since: 1.0} for q in queries}


class Logs:
    def __init__(self):
        self.asked = []

    def newest(self, groups, pattern, since_ms, until_ms, limit, cursor=None):
        self.asked.append((groups, pattern, limit))
        return [Line("s1", since_ms, "ERROR boom")], Cursor(since_ms)


@pytest.fixture
def world():
    lineage = FakeLineage(NOTES)
    lineage.deploy("notes", "prod", lineage.add_build("notes", "c1", functions={"CreateNoteFunction": "a"}))
    resources, metrics, logs = Resources(), Metrics(), Logs()
    return Monitoring(lineage, resources, metrics, logs, now=lambda: NOW), resources, metrics, logs


def test_an_unknown_stage_is_a_404_and_a_stage_never_deployed_a_409(world):
    """GIVEN the notes app, prod deployed, dev never
    WHEN an unknown stage and dev are asked for
    THEN StageNotFound, then NotDeployed saying what to do."""
    monitoring, *_ = world
    with pytest.raises(StageNotFound):
        monitoring.deployed("notes", "qa")
    with pytest.raises(NotDeployed) as e:
        monitoring.deployed("notes", "dev")
    assert "push to its branch or promote" in str(e.value)


def test_a_functions_logs_are_read_by_its_short_name_and_paged(world):
    """GIVEN prod runs CreateNoteFunction
    WHEN its error logs are asked for as ``create``, twice
    THEN its log group is searched with the errors filter, the page has a next token, and the
    stack's resources were read once for the deployment."""
    monitoring, resources, _, logs = world
    span = time_range(None, None, NOW)
    first = monitoring.function_logs("notes", "prod", "create", span, True, 10, None)
    again = monitoring.function_logs("notes", "prod", "create", span, True, 10, first["nextToken"])
    assert first["function"] == "CreateNoteFunction" and first["events"][0]["message"] == "ERROR boom"
    assert logs.asked[0][0] == ["/aws/lambda/notes-prod/CreateNoteFunction"] and "ERROR" in logs.asked[0][1]
    assert again["nextToken"] and resources.asked == ["notes-prod"]
    with pytest.raises(FunctionNotFound):
        monitoring.function_logs("notes", "prod", "nope", span, False, 10, None)


def test_metrics_query_the_api_and_the_functions_live_alias(world):
    """GIVEN prod's REST API and function
    WHEN API metrics and the function's metrics are asked for
    THEN the API's are queried by ApiName and Stage, the function's for the live alias and as a whole."""
    monitoring, _, metrics, _ = world
    span = time_range("2h", None, NOW)
    api = monitoring.api_metrics("notes", "prod", span, 60)
    fn = monitoring.function_metrics("notes", "prod", "CreateNoteFunction", span, 60)
    assert api["period"] == 60 and api["points"][0]["requests"] == 1.0
    assert metrics.queries[0].dimensions == (("ApiName", "notes-api"), ("Stage", "Prod"))
    assert set(fn) == {"function", "period", "live", "all"}
    assert ("Resource", "notes-prod-Create:live") in metrics.queries[7].dimensions
    assert span.until - span.since == timedelta(hours=2)
