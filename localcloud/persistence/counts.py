"""What a snapshot holds, counted while it is pickled: ``up`` prints it when it restores one.

Counting through the endpoint's APIs after a restart cost more than the restart itself (a client
and moto's first request per service, some 5 s on a loaded machine, before `localcloud ready`);
the pickler already visits every object once, so each kind of thing is counted by its model class
as it is written (``Tally.reducers``), and the snapshot's header keeps the counts. Objects of
exact types only (the pickler's table is looked up by exact type): the subclasses are listed too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localcloud.moto_hooks import require
from localcloud.persistence.snapshot import subclasses as _subclasses

# (what, module, class, what one object counts as: a key, or None): in the order ``up`` prints them;
# objects with the same key count once (moto keeps two objects for a function's $LATEST, a state
# machine's versions and revisions and what executions hold of it are StateMachines too)
KINDS: tuple[tuple[str, str, str, Callable[[Any], Any]], ...] = (
    ("stacks", "localcloud.cloudformation.model", "Stack",
     lambda s: None if getattr(s, "status", "") == "DELETE_COMPLETE" else id(s)),
    ("functions", "moto.awslambda.models", "LambdaFunction", lambda f: _unqualified_latest(f)),
    ("tables", "moto.dynamodb.models.table", "Table", id),
    ("items", "moto.dynamodb.models.dynamo_type", "Item", id),
    ("buckets", "moto.s3.models", "FakeBucket", id),
    ("object versions", "moto.s3.models", "FakeKey",
     lambda k: (getattr(k, "bucket_name", None), getattr(k, "name", None), getattr(k, "version_id", None))),
    ("state machines", "moto.stepfunctions.models", "StateMachine", lambda m: _unversioned(getattr(m, "arn", ""))),
    ("executions", "moto.stepfunctions.parser.backend.execution", "Execution", id),
    ("rules", "moto.events.models", "Rule", id),
    ("alarms", "moto.cloudwatch.models", "Alarm", id),
    ("log groups", "moto.logs.models", "LogGroup", id),
    ("queues", "moto.sqs.models", "Queue", id),
    ("repositories", "moto.codecommit.models", "CodeCommit", id),
    ("roles", "moto.iam.models", "Role", id),
    ("REST APIs", "moto.apigateway.models", "RestAPI", id),
)


def _unqualified_latest(function: Any) -> str | None:
    """A function's ARN for its $LATEST (None for a published version)."""
    if getattr(function, "version", None) != "$LATEST":
        return None
    return str(getattr(function, "function_arn", "")).removesuffix(":$LATEST")


def _unversioned(arn: str) -> str | None:
    """A state machine's ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME); None for a version's."""
    return arn if arn.count(":") == 6 else None


def _class(module: str, name: str) -> type:
    if module.startswith("moto."):
        return require(module, name, "what a snapshot holds is counted by model class as it is written")  # type: ignore[no-any-return]
    import importlib

    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


class Tally:
    """Counts, per kind, the objects one pickling writes."""

    def __init__(self) -> None:
        self._seen: dict[str, set[Any]] = {what: set() for what, *_ in KINDS}

    @property
    def counts(self) -> dict[str, int]:
        return {what: len(keys) for what, keys in self._seen.items()}

    def reducers(self, inner: dict[type, Callable[[Any], Any]]) -> dict[type, Callable[[Any], Any]]:
        """``inner`` (how some types are written) with every counted type counted first."""
        out = dict(inner)
        for what, module, name, key in KINDS:
            try:
                classes = _subclasses(_class(module, name))
            except Exception:  # a kind that cannot be found is not counted; never a reason not to save
                continue
            for cls in classes:
                out[cls] = self._counting(what, key, inner.get(cls))
        return out

    def _counting(
        self, what: str, key: Callable[[Any], Any], inner: Callable[[Any], Any] | None
    ) -> Callable[[Any], Any]:
        seen = self._seen[what]

        def reduce(obj: Any) -> Any:
            k = key(obj)
            if k is not None:
                seen.add(k)
            return inner(obj) if inner is not None else obj.__reduce_ex__(5)

        return reduce


def counts(meta: dict[str, Any]) -> dict[str, int]:
    """The counts a snapshot's header holds (none from a snapshot written before they were kept)."""
    found = meta.get("counts")
    if not isinstance(found, dict):
        return {}
    return {what: int(found[what]) for what, *_ in KINDS if isinstance(found.get(what), int)}
