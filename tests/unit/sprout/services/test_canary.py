"""The canary use case (sprout.services.canary.Canary) against in-memory fakes: the versions
published for the functions whose code changed, each step recorded before the aliases get its
weight, a bad new version aborted mid-step (every weight back to 0 at once, FAILED with the
datapoints, the build quarantined), a good one promoted, too few requests paused INCONCLUSIVE, a
person's finish / abort / resume, and the finalizer's withdraw."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sprout.domain.canary import LOOKUP_SECONDS, Control, Weight, parse_strategy, wait_limit
from sprout.domain.errors import Conflict
from sprout.domain.model import DeploymentKind, DeploymentStatus
from sprout.services.canary import Canary, request_control
from tests.unit.sprout.services.fakes import NOTES, NOW, FakeLineage

NAMES = {"Create": "notes-prod-Create", "List": "notes-prod-List"}


class FakeTraffic:
    def __init__(self, lineage: FakeLineage, log: list):
        self.lineage, self.log, self.published = lineage, log, 0
        self.aliases = {name: ("1", None, 0) for name in NAMES.values()}
        self.restored: list[tuple[str, str]] = []

    def publish_artifact(self, function_name: str, s3_key: str) -> str:
        self.published += 1
        return "2"

    def restore_code(self, function_name: str, s3_key: str) -> None:
        self.restored.append((function_name, s3_key))

    def weigh(self, weights: list[Weight]) -> float:
        self.log.append(("weigh", [(w.function_name, w.primary, w.extra, w.percent) for w in weights]))
        for w in weights:
            self.aliases[w.function_name] = (w.primary, w.extra, w.percent)
        return 0.01


class FakeSignal:
    """Counts per (function, version); an old version's counts are there too and must not be read."""

    def __init__(self):
        self.counted: dict[tuple[str, str], tuple[int, int]] = {}
        self.asked: list[dict[str, str]] = []
        self.reads = 0  # calls: one per look, whatever it reads

    def counts(self, sides, since, until):
        self.reads += 1
        self.asked += [dict(versions) for versions in sides.values()]
        return {side: {name: self.counted.get((name, v), (0, 0)) for name, v in versions.items()}
                for side, versions in sides.items()}


class FakeNames:
    def function_names(self, stack: str) -> dict[str, str]:
        return dict(NAMES)


class Clock:
    def __init__(self):
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def world():
    """prod runs build 1 (Create and List at version 1); build 2 changes Create's code only and is
    being promoted with canary10-10s."""
    lineage = FakeLineage(NOTES)
    b1 = lineage.add_build("notes", "c1", functions={"Create": "sha-1", "List": "sha-l"})
    b2 = lineage.add_build("notes", "c2", functions={"Create": "sha-2", "List": "sha-l"})
    lineage.deploy("notes", "prod", b1, kind=DeploymentKind.PROMOTE)
    d = lineage.deploy("notes", "prod", b2, kind=DeploymentKind.PROMOTE, status=DeploymentStatus.IN_PROGRESS)
    lineage.record_strategy("notes", "prod", d.id, parse_strategy("canary10-10s").view())
    log: list = []
    traffic, signal, clock = FakeTraffic(lineage, log), FakeSignal(), Clock()
    canary = Canary(lineage, traffic, signal, FakeNames(), now=clock)
    return lineage, canary, traffic, signal, clock, d.id


def run(canary, deployment_id, status="BEGIN", index=0):
    return canary.step("notes", "prod", deployment_id, status, index)


def test_begin_publishes_new_versions_of_changed_functions_only_and_the_step_is_recorded_before_the_weights(world):
    """GIVEN build 2 changes Create's code only
    WHEN the canary begins and shifts its first step
    THEN one version is published (Create's), the record names it and the version it replaces,
    the step (weight 10) is on the record before the alias gets 10 % on version 2."""
    lineage, canary, traffic, _, _, did = world
    assert run(canary, did) == {"status": "SHIFT", "index": 0}
    d = lineage.get_deployment("notes", "prod", did)
    assert traffic.published == 1
    assert d.canary["versions"] == {"Create": "2"} and d.canary["previous"] == {"Create": "1"}

    original = traffic.weigh

    def weigh_checking(weights):
        steps = lineage.get_deployment("notes", "prod", did).steps
        assert steps and steps[0]["weight"] == 10  # recorded before it is acted on
        return original(weights)

    traffic.weigh = weigh_checking
    assert run(canary, did, "SHIFT", 0) == {"status": "BAKING", "index": 0}
    assert traffic.aliases["notes-prod-Create"] == ("1", "2", 10)
    assert traffic.aliases["notes-prod-List"] == ("1", None, 0)


def test_a_bad_new_version_is_aborted_mid_step_quarantined_and_closed_failed_with_the_datapoints(world):
    """GIVEN a canary step baking, the new version failing 5 of 6 requests after 2 s
    WHEN the step is looked at
    THEN every weight goes back to 0 in one flip, the deployment is FAILED at step canary with
    error CanaryAborted and the counts as its cause, the build is quarantined, $LATEST restored."""
    lineage, canary, traffic, signal, clock, did = world
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    clock.advance(2)
    signal.counted[("notes-prod-Create", "2")] = (6, 5)
    assert run(canary, did, "BAKING", 0) == {"status": "ABORTED", "index": 0}
    d = lineage.get_deployment("notes", "prod", did)
    assert d.status is DeploymentStatus.FAILED and d.step == "canary"
    assert d.error.startswith("CanaryAborted: 5 errors in 6 requests")
    assert (d.cause["requests"], d.cause["errors"], d.cause["weight"]) == (6, 5, 10)
    assert d.steps[0]["verdict"] == "FAIL" and d.steps[0]["judgedAt"]
    assert traffic.aliases["notes-prod-Create"] == ("1", None, 0)
    assert lineage.get_build("notes", 2).quarantined["deployment"] == did
    assert traffic.restored == [("notes-prod-Create", "artifacts/sha-1.zip")]
    assert lineage.get_stage("notes", "prod").lock is None
    assert lineage.current_deployment("notes", "prod").build == 1


def test_old_version_faults_are_not_read_and_a_clean_new_version_is_promoted(world):
    """GIVEN the old version failing every request, the new one answering 50 requests cleanly
    WHEN the step's interval passes
    THEN the judge reads only the new version: the step PASSes (the old version's faults are recorded
    beside it for the console, never judged) and every alias flips to the new version with no weight
    (PROMOTE: the deploy machine converges the stack)."""
    lineage, canary, traffic, signal, clock, did = world
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    signal.counted[("notes-prod-Create", "1")] = (500, 500)
    signal.counted[("notes-prod-Create", "2")] = (50, 0)
    clock.advance(5)
    reads = signal.reads
    assert run(canary, did, "BAKING", 0)["status"] == "BAKING"
    assert signal.reads == reads + 1  # one judge tick, one read of both sides (one GetMetricData)
    clock.advance(6)
    assert run(canary, did, "BAKING", 0) == {"status": "PROMOTE", "index": 0}
    assert {"notes-prod-Create": "2"} in signal.asked and {"notes-prod-Create": "1"} in signal.asked
    judged = lineage.get_deployment("notes", "prod", did).steps[0]
    assert (judged["requests"], judged["errors"], judged["verdict"]) == (50, 0, "PASS")
    assert (judged["replaced"]["requests"], judged["replaced"]["errors"]) == (500, 500)
    assert traffic.aliases["notes-prod-Create"] == ("2", None, 0)
    d = lineage.get_deployment("notes", "prod", did)
    assert d.steps[0]["verdict"] == "PASS" and d.steps[0]["requests"] == 50
    assert d.status is DeploymentStatus.IN_PROGRESS and d.canary["state"] == "PROMOTING"


class FakeFaults:
    """The 5xx each (function, version) answered, as the stage's access logs and its log streams say."""

    def __init__(self):
        self.answered: dict[tuple[str, str], int] = {}
        self.asked: list[dict[str, tuple[str, str]]] = []

    def access_logs(self, stack: str) -> list[str]:
        return [f"API-Gateway-Access-Logs_api/{stack}"]

    def answered_5xx(self, access_logs, streams, since, until):
        self.asked.append(dict(streams))
        return {name: self.answered.get((name, version), 0) for name, (_, version) in streams.items()}


def judged_with_5xx(world, counted: tuple[int, int], new_5xx: int, old_5xx: int) -> tuple[dict, dict, FakeFaults]:
    lineage, _, traffic, signal, clock, did = world
    faults = FakeFaults()
    canary = Canary(lineage, traffic, signal, FakeNames(), now=clock, faults=faults)
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    signal.counted[("notes-prod-Create", "2")] = counted
    faults.answered |= {("notes-prod-Create", "2"): new_5xx, ("notes-prod-Create", "1"): old_5xx}
    clock.advance(2)
    answer = run(canary, did, "BAKING", 0)
    return answer, lineage.get_deployment("notes", "prod", did).steps[0], faults


def test_a_new_version_answering_500_without_raising_is_aborted_on_its_5xx(world):
    """GIVEN the new version RETURNS 500 to 5 of 6 requests (no Lambda error at all)
    WHEN the step is looked at
    THEN those 5xx are its errors: the canary is aborted; the judge asked about version 2 only, in
    the function's log group as the canary recorded it."""
    answer, step, faults = judged_with_5xx(world, (6, 0), new_5xx=5, old_5xx=0)
    assert answer == {"status": "ABORTED", "index": 0}
    assert (step["requests"], step["errors"], step["verdict"]) == (6, 5, "FAIL")
    assert faults.asked and all(a == {"notes-prod-Create": ("/aws/lambda/notes-prod/Create", "2")} for a in faults.asked)


def test_an_unhandled_error_is_not_counted_twice_and_the_old_versions_500s_never_count(world):
    """GIVEN the new version's 3 unhandled errors in 100 requests (3 Lambda errors, 3 502s), the old
    version answering 500 to 400 requests
    WHEN the step is looked at
    THEN the new version has 3 errors, not 6 (3 % is under the limit: still BAKING), and none of the
    old version's."""
    answer, step, _ = judged_with_5xx(world, (100, 3), new_5xx=3, old_5xx=400)
    assert answer == {"status": "BAKING", "index": 0}
    assert (step["requests"], step["errors"]) == (100, 3)


def test_the_logs_are_read_for_5xx_at_most_every_few_seconds_while_the_judge_looks_every_second(world):
    """GIVEN a canary step baking with its new version answering 500s
    WHEN the judge looks every second
    THEN the logs are read again only after LOOKUP_SECONDS (the last answer kept on the step), and
    the 5xx found meanwhile count at the next read."""
    lineage, _, traffic, signal, clock, did = world
    faults = FakeFaults()
    canary = Canary(lineage, traffic, signal, FakeNames(), now=clock, faults=faults)
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    signal.counted[("notes-prod-Create", "2")] = (200, 0)
    asked = len(faults.asked)
    for _ in range(LOOKUP_SECONDS):
        clock.advance(1)
        faults.answered[("notes-prod-Create", "2")] = 1
        assert run(canary, did, "BAKING", 0)["status"] == "BAKING"
    assert len(faults.asked) == asked + 1  # one read for those looks
    faults.answered[("notes-prod-Create", "2")] = 150
    clock.advance(1)
    assert run(canary, did, "BAKING", 0)["status"] == "ABORTED"
    assert lineage.get_deployment("notes", "prod", did).steps[0]["errors"] == 150


def test_too_few_requests_pause_inconclusive_then_a_person_resumes_and_finishes(world):
    """GIVEN a step whose new version got 2 requests
    WHEN the interval and the wait limit pass
    THEN the canary pauses INCONCLUSIVE (the weight as it is, the stage held); a resume starts the
    step over; a finish flips every alias to the new version."""
    lineage, canary, traffic, signal, clock, did = world
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    signal.counted[("notes-prod-Create", "2")] = (2, 0)
    clock.advance(10 + wait_limit(10))
    assert run(canary, did, "BAKING", 0) == {"status": "PAUSED", "index": 0}
    d = lineage.get_deployment("notes", "prod", did)
    assert d.canary["state"] == "INCONCLUSIVE" and d.steps[0]["verdict"] == "INCONCLUSIVE"
    assert lineage.get_stage("notes", "prod").lock.deployment == did
    assert run(canary, did, "PAUSED", 0)["status"] == "PAUSED"

    request_control(lineage, "notes", "prod", did, Control.RESUME, "ana")
    assert run(canary, did, "PAUSED", 0) == {"status": "BAKING", "index": 0}
    assert lineage.get_deployment("notes", "prod", did).steps[0]["baseline"] == [2, 0]
    with pytest.raises(Conflict):
        request_control(lineage, "notes", "prod", did, Control.RESUME, "ana")  # not INCONCLUSIVE any more
    request_control(lineage, "notes", "prod", did, Control.FINISH, "ana")
    assert run(canary, did, "BAKING", 0)["status"] == "PROMOTE"
    assert traffic.aliases["notes-prod-Create"] == ("2", None, 0)


def test_a_person_aborts_and_the_build_is_not_quarantined_and_nothing_more_can_be_asked(world):
    """GIVEN a canary baking
    WHEN a person aborts it
    THEN the weights are removed, the deployment FAILED naming who, the build not quarantined, and
    another request is refused (409)."""
    lineage, canary, traffic, _, _, did = world
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    request_control(lineage, "notes", "prod", did, Control.ABORT, "ana")
    assert run(canary, did, "BAKING", 0)["status"] == "ABORTED"
    d = lineage.get_deployment("notes", "prod", did)
    assert d.status is DeploymentStatus.FAILED and "aborted by ana" in d.error
    assert traffic.aliases["notes-prod-Create"] == ("1", None, 0)
    assert lineage.get_build("notes", 2).quarantined is None
    with pytest.raises(Conflict):
        request_control(lineage, "notes", "prod", did, Control.ABORT, "ana")


def test_the_finalizer_withdraws_a_canary_left_mid_step(world):
    """GIVEN a canary's execution stopped mid-step (10 % on version 2)
    WHEN the finalizer withdraws it
    THEN the weights are removed and the deployment closed FAILED; a second withdraw does nothing."""
    lineage, canary, traffic, _, _, did = world
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    d = lineage.get_deployment("notes", "prod", did)
    assert canary.withdraw(d, "execution ABORTED") is True
    assert traffic.aliases["notes-prod-Create"] == ("1", None, 0)
    d = lineage.get_deployment("notes", "prod", did)
    assert d.status is DeploymentStatus.FAILED and d.step == "canary"
    assert canary.withdraw(d, "again") is False


def test_a_build_changing_no_function_code_goes_straight_to_the_deploy(world):
    """GIVEN a build whose functions' code is what prod runs
    WHEN its canary begins
    THEN there is nothing to shift: DEPLOY, and no version is published."""
    lineage, canary, traffic, _, _, did = world
    b3 = lineage.add_build("notes", "c3", functions={"Create": "sha-1", "List": "sha-l"})
    lineage.finish_deployment("notes", "prod", did, DeploymentStatus.FAILED, error="x")
    d = lineage.deploy("notes", "prod", b3, kind=DeploymentKind.PROMOTE, status=DeploymentStatus.IN_PROGRESS)
    lineage.record_strategy("notes", "prod", d.id, parse_strategy("linear25-30s").view())
    assert run(canary, d.id) == {"status": "DEPLOY", "index": 0}
    assert traffic.published == 0


def test_a_rollback_by_hand_during_a_canary_aborts_it(world):
    """GIVEN a canary of build 2 baking on prod
    WHEN a person rolls prod back
    THEN no rollback deployment is opened: the canary is asked to abort (its execution acts on it),
    and its next look closes it FAILED with every weight back to 0."""
    from sprout.services.delivery import Delivery
    from tests.unit.sprout.services.fakes import MACHINE, FakeExecutions, FakeRepositories, FakeTemplates

    lineage, canary, traffic, _, _, did = world
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    delivery = Delivery(lineage, FakeTemplates(), FakeExecutions(), FakeRepositories(),
                        promote_machine=MACHINE.format("promote"), rollback_machine=MACHINE.format("rollback"))
    started = delivery.rollback("notes", "prod", None, "ana")
    assert started.aborting and started.deployment.id == did and started.view()["aborting"] is True
    assert lineage.get_deployment("notes", "prod", did).control["action"] == "abort"
    assert run(canary, did, "BAKING", 0)["status"] == "ABORTED"
    assert traffic.aliases["notes-prod-Create"] == ("1", None, 0)
    assert [d.kind for d in lineage.deployments[("notes", "prod")]].count(DeploymentKind.ROLLBACK) == 0


def test_an_alarm_on_the_stage_neither_blocks_nor_fails_a_canary_holding_it(world):
    """GIVEN a canary of build 2 baking on prod, and Sprout's fast alarm on prod firing (the old
    version's traffic)
    WHEN the alarm's event is resolved
    THEN it is recorded and ignored naming the canary; the canary goes on."""
    from sprout.domain.auto_rollback import AlarmEvent, WatchedAlarm, definition_digest
    from sprout.services.rollbacks import AlarmRollback
    from tests.unit.sprout.services.fakes import FakeAlarms, FakeExecutions, FakeWatch

    lineage, canary, _, _, _, did = world
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    name = "sprout-ar-notes-prod-fast"
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    described = {"AlarmName": name, "AlarmArn": arn, "StateValue": "ALARM", "MetricName": "Errors5xx", "Threshold": 5.0}
    lineage.alarms[name] = WatchedAlarm(name, "notes", "prod", "fast", arn, definition_digest(described))
    event = AlarmEvent(name, arn, "ALARM", "5 errors in 10 s", NOW, [5.0])
    out = AlarmRollback(lineage, FakeAlarms(event, described), FakeExecutions(), FakeWatch(None)).resolve(
        {"id": "ev-canary"}, "arn:aws:states:us-east-1:123456789012:execution:sprout-rollback:x")
    assert out["status"] == "IGNORED" and "canary" in out["reason"]
    assert lineage.get_deployment("notes", "prod", did).status is DeploymentStatus.IN_PROGRESS
    assert run(canary, did, "BAKING", 0)["status"] == "BAKING"


def test_a_linear_promote_walks_its_weights_then_flips(world):
    """GIVEN a linear promote of 40 % every 5 s (steps 40, 80)
    WHEN each step's new version answers cleanly
    THEN the first PASS shifts to 80 % (a second step, recorded), the second flips to the new version."""
    lineage, canary, traffic, signal, clock, did = world
    lineage.record_strategy("notes", "prod", did, parse_strategy({"type": "linear", "percent": 40, "intervalSeconds": 5}).view())
    run(canary, did)
    run(canary, did, "SHIFT", 0)
    signal.counted[("notes-prod-Create", "2")] = (20, 0)
    clock.advance(5)
    assert run(canary, did, "BAKING", 0) == {"status": "SHIFT", "index": 1}
    assert run(canary, did, "SHIFT", 1) == {"status": "BAKING", "index": 1}
    assert traffic.aliases["notes-prod-Create"] == ("1", "2", 80)
    assert lineage.get_deployment("notes", "prod", did).steps[1]["baseline"] == [20, 0]
    signal.counted[("notes-prod-Create", "2")] = (45, 0)
    clock.advance(5)
    assert run(canary, did, "BAKING", 1)["status"] == "PROMOTE"
    steps = lineage.get_deployment("notes", "prod", did).steps
    assert [(s["weight"], s["verdict"], s["requests"]) for s in steps] == [(40, "PASS", 20), (80, "PASS", 25)]


def test_a_promote_without_a_strategy_takes_the_stages_default_and_records_it():
    """GIVEN an app whose prod's default strategy is canary10-30s
    WHEN build 1 is promoted to prod without a strategy, then with allAtOnce named
    THEN the first execution gets the canary strategy and the deployment records it; the second none."""
    import dataclasses

    from sprout.domain.canary import default_strategy
    from sprout.domain.model import StageSpec
    from sprout.services.delivery import Delivery
    from tests.unit.sprout.services.fakes import MACHINE, FakeExecutions, FakeRepositories, FakeTemplates

    app = dataclasses.replace(NOTES, stages=(StageSpec("dev", "main", True),
                                             StageSpec("prod", strategy=default_strategy("canary10-30s", "s"))))
    lineage = FakeLineage(app)
    b1 = lineage.add_build("notes", "c1")
    lineage.deploy("notes", "dev", b1)
    templates = FakeTemplates({b1.template_key: "Resources: {}\n"})
    executions = FakeExecutions()
    delivery = Delivery(lineage, templates, executions, FakeRepositories(),
                        promote_machine=MACHINE.format("promote"), rollback_machine=MACHINE.format("rollback"))
    started = delivery.promote("notes", "prod", 1, "prod.none.build-1", False, "ana")
    assert started.deployment.strategy["preset"] == "canary10-30s"
    assert executions.started[-1][2]["strategy"]["intervalSeconds"] == 30
    lineage.finish_deployment("notes", "prod", started.deployment.id, DeploymentStatus.FAILED, error="x")
    again = delivery.promote("notes", "prod", 1, "prod.none.build-1", False, "ana", parse_strategy("allAtOnce"))
    assert again.deployment.strategy["type"] == "allAtOnce" and "strategy" not in executions.started[-1][2]


def test_a_canary_stopped_while_publishing_puts_latest_back_and_closes(world):
    """GIVEN a canary whose publishing failed after the record named the functions (no version yet)
    WHEN the finalizer withdraws it
    THEN no alias is touched, each function's $LATEST goes back to the running build's code, and the
    deployment is closed FAILED."""
    lineage, canary, traffic, _, _, did = world

    def broken(function_name, s3_key):
        raise RuntimeError("publish failed")

    traffic.publish_artifact = broken
    with pytest.raises(RuntimeError):
        run(canary, did)
    d = lineage.get_deployment("notes", "prod", did)
    assert d.canary["state"] == "PUBLISHING" and d.canary["versions"] == {}
    assert canary.withdraw(d, "execution FAILED") is True
    assert [entry for entry in traffic.log if entry[0] == "weigh"] == []
    assert traffic.restored == [("notes-prod-Create", "artifacts/sha-1.zip")]
    assert lineage.get_deployment("notes", "prod", did).status is DeploymentStatus.FAILED


def test_a_canary_withdrawn_while_its_step_sets_the_weight_ends_with_no_weight(world):
    """GIVEN a canary whose execution ends (the finalizer withdraws it) while a step is setting its
    weight — the zero flip lands first, the step's 10 % after it
    WHEN the step's weighing returns
    THEN the step sees the deployment withdrawn and removes the weight again: no weight is left,
    and the loop is told ABORTED."""
    lineage, canary, traffic, _, _, did = world
    run(canary, did)
    original = traffic.weigh
    withdrawn = []

    def weigh_racing(weights):
        if not withdrawn:  # the finalizer's withdraw (its zero flip included) lands before this weight
            withdrawn.append(None)
            withdrawn[0] = canary.withdraw(lineage.get_deployment("notes", "prod", did), "execution ABORTED")
        return original(weights)

    traffic.weigh = weigh_racing
    assert run(canary, did, "SHIFT", 0) == {"status": "ABORTED", "index": 0}
    assert withdrawn == [True]
    assert traffic.aliases["notes-prod-Create"] == ("1", None, 0)
    assert lineage.get_deployment("notes", "prod", did).status is DeploymentStatus.FAILED
