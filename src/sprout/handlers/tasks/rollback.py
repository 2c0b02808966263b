"""The rollback state machine's own tasks (statemachines/rollback.asl.json): ResolveAlarm (when an
alarm started it) and FlipAliases. The stack is then reconciled through the deploy state machine,
whose tasks record the outcome."""

from __future__ import annotations

from typing import cast

from sprout import wiring
from sprout.adapters.aliases import Aliases, Flip
from sprout.adapters.stacks import StageStacks, stack_name
from sprout.handlers.contracts import AlarmResolved, Flipped, FlipRequest
from sprout.handlers.tasks.common import field, lineage, settings, task, with_execution
from sprout.observability import logger, metrics


@with_execution
def resolve_alarm_step(event: dict, execution: str | None) -> AlarmResolved:
    """An alarm went to ALARM: the rollback machine's first step decides whether to act
    (sprout.services.rollbacks.AlarmRollback), and if so holds the stage for this execution."""
    return cast(AlarmResolved, wiring.alarm_rollback().resolve(event, execution))


def flip_aliases_step(event: FlipRequest, aliases: Aliases | None = None, stacks: StageStacks | None = None) -> Flipped:
    """Point every function's ``live`` alias at the version recorded for the target deployment."""
    app_name, stage, number = field(event, "app"), field(event, "stage"), int(field(event, "build"))
    versions: dict[str, str] = field(event, "versions")
    lineage.renew_lease(app_name, stage, field(event, "deploymentId"))
    build = lineage.get_build(app_name, number)
    keys = {f.logical_id: f.s3_key for f in build.functions}
    names = (stacks or StageStacks()).function_names(stack_name(app_name, stage))
    flips = [Flip(lid, names[lid], version, keys.get(lid)) for lid, version in sorted(versions.items()) if lid in names]
    result = (aliases or Aliases(settings.artifact_bucket)).flip_all(flips)
    metrics.add_metric(name="AliasFlips", unit="Count", value=len(flips))
    logger.info(
        "aliases flipped",
        extra={"app": app_name, "stage": stage, "build": number, "functions": len(flips),
               "seconds": result.seconds, "republished": result.republished},
    )
    return {"versions": result.versions, "previous": result.previous, "republished": result.republished,
            "seconds": result.seconds}


resolve_alarm = task(resolve_alarm_step)
flip_aliases = task(flip_aliases_step)
