"""Canary and linear deploys (issue 23): the whole stage shifts as one unit, judged by the new
build's own requests and errors — a promote with a strategy, and a push's deploy to a stage whose
strategy is canary or linear (sprout.services.deploy.stage_strategy).

The deploy machine (statemachines/deploy.asl.json, which a promote starts too) calls
``Canary.step`` in a loop, in the execution that runs the deploy (the lock stays with the
execution that holds it: a promote's, or the deploy's own for a push); each call
reads the record, does one thing, records it — BEFORE acting on the aliases — and says what comes
next (``status``):

* ``BEGIN``: publish the build's artifact as a new version of every function whose code changed
  (the canary versions; a function added by the build, or changed only in configuration, goes at
  the final flip), and record them with the versions they replace. Nothing changed: ``DEPLOY``.
* ``SHIFT``: record the step (weight, startedAt, the new versions' counts so far), then give every
  function's ``live`` alias that weight to its new version, in parallel.
* ``BAKING`` / ``PAUSED``: a person's request first (finish, abort, resume), then the judge
  (sprout.domain.canary.judge) on the new versions' ``AWS/Lambda`` Invocations and Errors with
  ``ExecutedVersion`` since the step began: FAIL aborts; PASS records the verdict and shifts the
  next weight, or after the last step flips every alias to the new version (``PROMOTE``: the deploy
  machine then converges the stack on the build and closes the deployment SUCCEEDED); too few
  requests waits, then pauses ``INCONCLUSIVE`` (the stage stays held; after PAUSE_LIMIT_SECONDS
  unresumed it is aborted).

An abort removes every alias's weight in one parallel flip, then closes the deployment FAILED
(step ``canary``, error ``CanaryAborted``, the datapoints as its cause) through the one path that
closes deployment records, puts each function's ``$LATEST`` code back to the build the stage runs
(so that nothing later publishes the aborted code), and — when the judge found it bad — quarantines
the build as auto-rollback does. ``withdraw`` does the same for the finalizer when an execution
ended mid-canary: the aliases as the record says.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sprout.domain.canary import (
    LOOKUP_SECONDS,
    PAUSE_LIMIT_SECONDS,
    Control,
    Verdict,
    Weight,
    bad_count,
    control_refusal,
    judge,
    strategy_of,
)
from sprout.domain.errors import Conflict, named
from sprout.domain.function_logs import function_log_group
from sprout.domain.model import Build, Deployment, DeploymentStatus
from sprout.domain.pipeline import iso, parse_iso, stack_name
from sprout.observability import logger, metrics

PARALLEL = 16  # functions published at once


class Traffic(Protocol):
    def publish_artifact(self, function_name: str, s3_key: str) -> str: ...

    def restore_code(self, function_name: str, s3_key: str) -> None: ...

    def weigh(self, weights: list[Weight]) -> float: ...


class VersionSignal(Protocol):
    def counts(self, sides: dict[str, dict[str, str]], since: datetime,
               until: datetime) -> dict[str, dict[str, tuple[int, int]]]: ...


class VersionFaults(Protocol):
    def access_logs(self, stack: str) -> list[str]: ...

    def answered_5xx(self, access_logs: list[str], streams: dict[str, tuple[str, str]], since: datetime,
                     until: datetime) -> dict[str, int]: ...


class FunctionNames(Protocol):
    def function_names(self, stack: str) -> dict[str, str]: ...


class CanaryLineage(Protocol):
    def get_deployment(self, app: str, stage: str, deployment_id: str) -> Deployment: ...

    def get_build(self, app: str, number: int) -> Build: ...

    def current_deployment(self, app: str, stage: str) -> Deployment | None: ...

    def renew_lease(self, app: str, stage: str, deployment_id: str) -> bool: ...

    def record_canary(self, app: str, stage: str, deployment_id: str, canary: dict[str, Any]) -> Deployment: ...

    def record_step(self, app: str, stage: str, deployment_id: str, index: int, step: dict[str, Any]) -> Deployment: ...

    def clear_control(self, app: str, stage: str, deployment_id: str) -> None: ...

    def finish_deployment(self, app: str, stage: str, deployment_id: str, status: DeploymentStatus | str,
                          versions: dict[str, str] | None = None, error: str | None = None, step: str | None = None,
                          cause: dict[str, Any] | None = None) -> Deployment: ...

    def quarantine(self, app: str, number: int, reason: dict[str, Any] | None) -> Build: ...


class Canary:
    def __init__(self, lineage: CanaryLineage, traffic: Traffic, signal: VersionSignal, stacks: FunctionNames,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), faults: VersionFaults | None = None):
        self.lineage, self.traffic, self.signal, self.stacks, self.now = lineage, traffic, signal, stacks, now
        self.faults = faults

    # -- the machine's one step --

    def step(self, app: str, stage: str, deployment_id: str, status: str, index: int) -> dict[str, Any]:
        d = self.lineage.get_deployment(app, stage, deployment_id)
        if d.status is not DeploymentStatus.IN_PROGRESS:
            return {"status": "ABORTED", "index": index}  # closed meanwhile (the finalizer, a person)
        self.lineage.renew_lease(app, stage, deployment_id)
        if status == "BEGIN":
            return self._begin(d)
        if d.canary is None:
            return {"status": "DEPLOY", "index": index}
        if status == "SHIFT":
            return self._shift(d, index)
        return self._check(d, index)

    def _begin(self, d: Deployment) -> dict[str, Any]:
        current = self.lineage.current_deployment(d.app, d.stage)
        build = self.lineage.get_build(d.app, d.build)
        running = self.lineage.get_build(d.app, current.build) if current else None
        old = {f.logical_id: f for f in running.functions} if running else {}
        stack = stack_name(d.app, d.stage)
        names = self.stacks.function_names(stack)
        changed = [f for f in build.functions if f.logical_id in old and f.logical_id in names and current
                   and f.logical_id in current.versions and old[f.logical_id].sha256 != f.sha256]
        if not changed or current is None:
            return {"status": "DEPLOY", "index": 0}
        canary = {"state": "PUBLISHING", "startedAt": iso(self.now()), "functions": {f.logical_id: names[f.logical_id] for f in changed},
                  "previous": {f.logical_id: current.versions[f.logical_id] for f in changed},
                  "restore": {f.logical_id: old[f.logical_id].s3_key for f in changed}, "versions": {},
                  # where the judge finds the new versions' handled 5xx (_counts): the stage's access
                  # logs and each function's log group (the one place Sprout names them)
                  "accessLogs": self.faults.access_logs(stack) if self.faults else [],
                  "logGroups": {f.logical_id: function_log_group(stack, f.logical_id) for f in changed}}
        self.lineage.record_canary(d.app, d.stage, d.id, canary)  # recorded before $LATEST changes
        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(changed))) as pool:  # the functions in parallel
            published = list(pool.map(lambda f: self.traffic.publish_artifact(names[f.logical_id], f.s3_key), changed))
        versions = {f.logical_id: v for f, v in zip(changed, published, strict=True)}
        self.lineage.record_canary(d.app, d.stage, d.id, {**canary, "state": "SHIFTING", "versions": versions})
        logger.info("canary versions published", extra={"app": d.app, "stage": d.stage, "versions": versions})
        return {"status": "SHIFT", "index": 0}

    def _counts(self, canary: dict[str, Any], step: dict[str, Any] | None = None) -> dict[str, tuple[int, int, dict[str, list[int]]]]:
        """Requests and errors since the canary began of its new versions (``"versions"``: what the
        judge reads) and of the versions they replace (``"previous"``: shown beside, never judged),
        each as (requests, errors, per function): both sides in one read of the signal."""
        started = parse_iso(canary["startedAt"]).replace(second=0, microsecond=0)
        sides = {side: {canary["functions"][lid]: canary[side][lid] for lid in canary["versions"]}
                 for side in ("versions", "previous")}
        until = self.now() + timedelta(seconds=60)
        counted = self.signal.counts(sides, started, until)
        answered = self._answered_5xx(canary, started, until, step)
        out = {}
        for side in sides:
            per = counted.get(side) or {}
            if side == "versions":  # the new versions' failures: Lambda errors or 5xx answers, counted once
                per = {name: (r, bad_count(e, answered.get(name, 0))) for name, (r, e) in per.items()}
            out[side] = (sum(r for r, _ in per.values()), sum(e for _, e in per.values()),
                         {name: [r, e] for name, (r, e) in per.items()})
        return out

    def _answered_5xx(self, canary: dict[str, Any], since: datetime, until: datetime,
                      step: dict[str, Any] | None) -> dict[str, int]:
        """The 5xx each new version answered since the canary began (a handler that returns 500
        is no Lambda error): from the stage's access logs, none read when there is no access log.
        A step keeps the last answer (``answered5xx``) and reads again after LOOKUP_SECONDS."""
        groups = canary.get("logGroups") or {}
        if self.faults is None or not canary.get("accessLogs") or not groups:
            return {}
        kept = (step or {}).get("answered5xx")
        if kept and (self.now() - parse_iso(kept["at"])).total_seconds() < LOOKUP_SECONDS:
            return dict(kept["perFunction"])
        streams = {canary["functions"][lid]: (groups[lid], v) for lid, v in canary["versions"].items() if lid in groups}
        answered = self.faults.answered_5xx(list(canary["accessLogs"]), streams, since, until)
        if step is not None:
            step["answered5xx"] = {"at": iso(self.now()), "perFunction": answered}
        return answered

    def _shift(self, d: Deployment, index: int) -> dict[str, Any]:
        canary = d.canary or {}
        plan = strategy_of(d.strategy).weights()
        step = {"index": index, "weight": plan[index], "verdict": None, **self._started(canary)}
        self.lineage.record_step(d.app, d.stage, d.id, index, step)  # recorded before it is acted on
        seconds = self.traffic.weigh(self._weights(canary, plan[index]))
        after = self.lineage.get_deployment(d.app, d.stage, d.id)
        if after.status is not DeploymentStatus.IN_PROGRESS or (after.canary or {}).get("state") == "ABORTING":
            # withdrawn while this weight was being set (the execution ended, the finalizer ran): its
            # zero flip may have come first, so the weight this step set is removed again
            self.traffic.weigh(self._weights(canary, 0))
            logger.warning("canary withdrawn mid-shift", extra={"app": d.app, "stage": d.stage, "deployment": d.id})
            return {"status": "ABORTED", "index": index}
        logger.info("canary step", extra={"app": d.app, "stage": d.stage, "weight": plan[index], "seconds": seconds})
        return {"status": "BAKING", "index": index}

    def _started(self, canary: dict[str, Any]) -> dict[str, Any]:
        """What a step (or a resumed one) starts from: now, nothing counted yet, and the counts so far
        of both sides as its baselines."""
        counted = self._counts(canary)
        requests, errors, _ = counted["versions"]
        replaced, replaced_errors, _ = counted["previous"]
        return {"startedAt": iso(self.now()), "judgedAt": None, "requests": 0, "errors": 0,
                "baseline": [requests, errors],
                "replaced": {"requests": 0, "errors": 0, "baseline": [replaced, replaced_errors]}}

    @staticmethod
    def _replaced(step: dict[str, Any], counted: tuple[int, int, dict[str, list[int]]]) -> dict[str, Any]:
        """The replaced versions' requests and errors in the step so far (``counted``: since the canary
        began): for the console's chart beside the new version's (the judge never reads them)."""
        known = step.get("replaced") or {}
        base = known.get("baseline") or [0, 0]
        requests, errors, _ = counted
        return {"requests": requests - base[0], "errors": errors - base[1], "baseline": base}

    @staticmethod
    def _weights(canary: dict[str, Any], percent: int) -> list[Weight]:
        return [Weight(canary["functions"][lid], canary["previous"][lid], v if percent else None, percent)
                for lid, v in sorted(canary["versions"].items())]

    def _check(self, d: Deployment, index: int) -> dict[str, Any]:
        canary = d.canary or {}
        step = dict(d.steps[index]) if index < len(d.steps) else None
        if step is None:
            return {"status": "SHIFT", "index": index}
        if d.control:
            return self._control(d, canary, step, index)
        if canary.get("state") == Verdict.INCONCLUSIVE.value:
            paused = (self.now() - parse_iso(step["judgedAt"])).total_seconds()
            if paused > PAUSE_LIMIT_SECONDS:
                return self._abort(d, step, index, f"INCONCLUSIVE for over {PAUSE_LIMIT_SECONDS} s and not resumed",
                                   bad=False)
            return {"status": "PAUSED", "index": index}
        strategy = strategy_of(d.strategy)
        counted = self._counts(canary, step)  # one read: the judge's side and the chart's
        requests, errors, per = counted["versions"]
        base = step.get("baseline") or [0, 0]
        step |= {"requests": requests - base[0], "errors": errors - base[1], "perFunction": per,
                 "replaced": self._replaced(step, counted["previous"])}
        elapsed = (self.now() - parse_iso(step["startedAt"])).total_seconds()
        verdict = judge(step["requests"], step["errors"], elapsed, strategy.interval_seconds)
        step["reason"] = verdict.reason
        if verdict.verdict is Verdict.FAIL:
            return self._abort(d, step, index, verdict.reason, bad=True)
        if verdict.verdict in (Verdict.BAKING, Verdict.WAITING):
            step["verdict"] = verdict.verdict.value
            self.lineage.record_step(d.app, d.stage, d.id, index, step)
            return {"status": "BAKING", "index": index}
        step |= {"judgedAt": iso(self.now()), "verdict": verdict.verdict.value}
        self.lineage.record_step(d.app, d.stage, d.id, index, step)
        if verdict.verdict is Verdict.INCONCLUSIVE:
            self.lineage.record_canary(d.app, d.stage, d.id, {**canary, "state": Verdict.INCONCLUSIVE.value})
            logger.warning("canary inconclusive", extra={"app": d.app, "stage": d.stage, "reason": verdict.reason})
            return {"status": "PAUSED", "index": index}
        if index + 1 < len(strategy.weights()):
            return {"status": "SHIFT", "index": index + 1}
        return self._promote(d, canary, index)

    def _control(self, d: Deployment, canary: dict[str, Any], step: dict[str, Any], index: int) -> dict[str, Any]:
        control = d.control or {}
        action, by = Control(control["action"]), str(control.get("by") or "someone")
        self.lineage.clear_control(d.app, d.stage, d.id)
        if action is Control.ABORT:
            return self._abort(d, step, index, f"aborted by {by}", bad=False)
        if action is Control.FINISH:
            step |= {"judgedAt": iso(self.now()), "verdict": f"FINISHED by {by}"}
            self.lineage.record_step(d.app, d.stage, d.id, index, step)
            return self._promote(d, canary, index)
        # resume: the step starts over from now, with the counts so far as its baseline
        step |= {"verdict": f"RESUMED by {by}", **self._started(canary)}
        self.lineage.record_step(d.app, d.stage, d.id, index, step)
        self.lineage.record_canary(d.app, d.stage, d.id, {**canary, "state": "SHIFTING"})
        return {"status": "BAKING", "index": index}

    def _promote(self, d: Deployment, canary: dict[str, Any], index: int) -> dict[str, Any]:
        """The final flip: every alias on its new version, no weights, at once; the deploy machine
        then converges the stack on the build and closes the deployment."""
        self.lineage.record_canary(d.app, d.stage, d.id, {**canary, "state": "PROMOTING"})
        flips = [Weight(canary["functions"][lid], v) for lid, v in sorted(canary["versions"].items())]
        seconds = self.traffic.weigh(flips)
        logger.info("canary promoted", extra={"app": d.app, "stage": d.stage, "seconds": seconds})
        return {"status": "PROMOTE", "index": index}

    # -- aborting --

    def _abort(self, d: Deployment, step: dict[str, Any], index: int, why: str, bad: bool) -> dict[str, Any]:
        canary = d.canary or {}
        step |= {"judgedAt": iso(self.now()), "verdict": Verdict.FAIL.value if bad else "ABORTED", "reason": why}
        self.lineage.record_step(d.app, d.stage, d.id, index, step)
        self.lineage.record_canary(d.app, d.stage, d.id, {**canary, "state": "ABORTING"})
        seconds = self.traffic.weigh(self._weights(canary, 0))  # every weight back to 0 in one parallel flip
        cause = {"step": index, "weight": step.get("weight"), "requests": step.get("requests"),
                 "errors": step.get("errors"), "perFunction": step.get("perFunction"), "flipSeconds": seconds,
                 "reason": why}
        self._close(d, canary, f"CanaryAborted: {why}", cause)
        if bad:
            self.lineage.quarantine(d.app, d.build, {"stage": d.stage, "deployment": d.id, "reason": why[:300],
                                                    "at": step["judgedAt"], "canary": True})
        metrics.add_metric(name="CanariesAborted", unit="Count", value=1)
        logger.warning("canary aborted", extra={"app": d.app, "stage": d.stage, "reason": why, "seconds": seconds})
        return {"status": "ABORTED", "index": index}

    def _close(self, d: Deployment, canary: dict[str, Any], error: str, cause: dict[str, Any]) -> None:
        try:
            self.lineage.finish_deployment(d.app, d.stage, d.id, DeploymentStatus.FAILED, versions=dict(canary["previous"]),
                                           error=error, step="canary", cause=cause)
        except Conflict:
            logger.info("canary deployment already closed", extra={"app": d.app, "stage": d.stage, "deployment": d.id})
        for lid, key in sorted((canary.get("restore") or {}).items()):
            try:  # $LATEST back to the code the stage runs: nothing later publishes the aborted code
                self.traffic.restore_code(canary["functions"][lid], key)
            except Exception as e:  # noqa: BLE001 - the traffic is back already; the record says what is left
                logger.warning("code not restored", extra={"function": lid, "error": str(e)})

    def withdraw(self, d: Deployment, why: str) -> bool:
        """An execution ended mid-canary (the finalizer): the weights removed, the deployment closed
        FAILED saying so. False when ``d`` had no canary on the aliases (nothing to withdraw)."""
        canary = d.canary or {}
        if d.status is not DeploymentStatus.IN_PROGRESS or not canary.get("functions"):
            return False
        if canary.get("state") == "PROMOTING":
            return False  # the aliases run the new versions: the stack's check decides what runs
        canary = {**canary, "state": "ABORTING"}
        self.lineage.record_canary(d.app, d.stage, d.id, canary)  # recorded before the weights go
        # no versions yet: it stopped while publishing them (no weight was set; $LATEST is put back)
        seconds = self.traffic.weigh(self._weights(canary, 0)) if canary.get("versions") else 0.0
        self._close(d, canary, f"CanaryAborted: {why}", {"reason": why, "flipSeconds": seconds})
        return True

    def abandon(self, app: str, stage: str, deployment_id: str, why: str) -> None:
        """A canary task failed for good: the weights removed (when there are any) and the
        deployment closed FAILED with the task's error."""
        d = self.lineage.get_deployment(app, stage, deployment_id)
        if not self.withdraw(d, why) and d.status is DeploymentStatus.IN_PROGRESS:
            try:
                self.lineage.finish_deployment(app, stage, deployment_id, DeploymentStatus.FAILED, error=why, step="canary")
            except Conflict:
                pass



class ControlLineage(Protocol):
    def get_deployment(self, app: str, stage: str, deployment_id: str) -> Deployment: ...

    def request_control(self, app: str, stage: str, deployment_id: str, action: str, by: str) -> Deployment: ...


def request_control(lineage: ControlLineage, app: str, stage: str, deployment_id: str, action: Control,
                    who: str) -> Deployment:
    """A person's finish, abort or resume of a canary in progress, recorded for its execution to
    act on at its next look (every CHECK_SECONDS). Conflict (409) when there is nothing to act on."""
    d = lineage.get_deployment(app, stage, deployment_id)
    refusal = control_refusal(action, (d.canary or {}).get("state") if d.canary else None, d.status.value)
    if refusal:
        raise Conflict(f"{describe(d)}: {refusal}")
    return lineage.request_control(app, stage, deployment_id, action.value, who)


def describe(d: Deployment) -> str:
    return f"deployment {named(d.id)} of {named(d.app)}/{named(d.stage)}"
