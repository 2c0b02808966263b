"""The finalizer: an EventBridge rule on ``Step Functions Execution Status Change`` (FAILED,
TIMED_OUT, ABORTED) for Sprout's state machines invokes it with the event. Whatever that
execution opened and did not close — a build BUILDING, a deployment IN_PROGRESS holding its
stage — is closed FAILED with the execution's status and error as the reason; then each stage
it closed a deployment of is checked against its stack and ``live`` aliases (sprout.services.reconcile), and
its record repaired when the stack says another deployment runs. Running it twice for one event
changes nothing the second time."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout import wiring
from sprout.domain.errors import Conflict, NotFound
from sprout.domain.model import BuildStatus, DeploymentStatus
from sprout.handlers.contracts import Finalized
from sprout.observability import logger, metrics, tracer
from sprout.services.reconcile import reconcile

settings = wiring.settings()  # what this function needs, checked at its cold start
lineage = wiring.lineage()
ENDED = ("FAILED", "TIMED_OUT", "ABORTED")


def _cut(text: str | None, limit: int = 500) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def finalize(detail: dict) -> Finalized:
    execution, status = detail.get("executionArn") or "", detail.get("status") or ""
    if not execution or status not in ENDED:
        logger.info("nothing to finalize", extra={"execution": execution, "status": status})
        return {"execution": execution, "status": status, "closed": [], "reconciled": []}
    why = f"execution {status}" + (f": {detail['error']}" if detail.get("error") else "")
    if detail.get("cause"):
        why += f": {_cut(detail['cause'])}"
    closed: list[str] = []
    stages: set[tuple[str, str]] = set()
    for work in lineage.open_work(execution):
        try:
            if work.kind == "build" and work.build is not None:
                lineage.finish_build(
                    work.app, work.build, BuildStatus.FAILED,
                    failure={"step": "Execution", "error": status, "cause": why},
                )
                closed.append(f"build {work.app}#{work.build}")
            elif work.stage is not None and work.deployment is not None:
                open_deployment = lineage.get_deployment(work.app, work.stage, work.deployment)
                # a canary left mid-step: its weights removed (the aliases as the record says), then closed
                if not (open_deployment.canary and wiring.canary().withdraw(open_deployment, why)):
                    lineage.finish_deployment(
                        work.app, work.stage, work.deployment, DeploymentStatus.FAILED, error=why, step="Execution"
                    )
                closed.append(f"deployment {work.app}/{work.stage}/{work.deployment}")
                stages.add((work.app, work.stage))
        except (Conflict, NotFound) as e:  # closed meanwhile, or gone: nothing left to close
            logger.info("already closed", extra={"work": str(work), "reason": str(e)})
    checked = [_check(app, stage) for app, stage in sorted(stages)]
    if closed:
        metrics.add_metric(name="ExecutionsFinalized", unit="Count", value=1)
    logger.info("finalized", extra={"execution": execution, "status": status, "closed": closed})
    return {"execution": execution, "status": status, "closed": closed, "reconciled": checked}


def _check(app: str, stage: str) -> dict:
    """The stage's record against its stack, repaired where the stack says so; a failure to check
    is reported, never raised (what was closed stays closed)."""
    try:
        found = reconcile(app, stage, lineage, wiring.stacks())
    except Exception as e:  # noqa: BLE001 - the check is best effort: POST .../reconcile runs it again
        logger.warning("reconcile failed", extra={"app": app, "stage": stage, "error": str(e)})
        return {"app": app, "stage": stage, "error": str(e)}
    return {"app": app, "stage": stage, "consistent": found.get("consistent"), "repaired": found.get("repaired"),
            "message": found.get("message")}


@logger.inject_lambda_context(correlation_id_path="detail.executionArn")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> Finalized:
    return finalize(event.get("detail") or {})
