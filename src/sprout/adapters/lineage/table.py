"""What the lineage's repositories per aggregate (apps, builds, deployments, alarm events) share
over the one table (its items in ``items``): conversions to domain types, reads, pages,
transactions whose failures come back by label, and the optimistic-retry loop."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from sprout.adapters.lineage.items import (
    MODELS,
    AppItem,
    BuildItem,
    DeploymentItem,
    Item,
    StageItem,
    TableMeta,
)
from sprout.domain.errors import Conflict, InvalidInput
from sprout.domain.model import (
    App,
    Build,
    BuildStatus,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    FunctionArtifact,
    Preview,
    Stage,
    StageLock,
    StageSpec,
)
from sprout.domain.tokens import seal, unseal

MAX_ATTEMPTS = 30  # optimistic retries on a counter or version race
CONDITION_FAILED = "ConditionalCheckFailed"


def now() -> datetime:
    return datetime.now(UTC)


def now_iso() -> str:
    return now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- conversions -------------------------------------------------------------------------------


def to_preview(doc: dict | None) -> Preview | None:
    if not doc:
        return None
    return Preview(doc["kind"], doc["branch"], doc.get("createdAt", ""), doc.get("pullRequestId"), doc.get("commentId"))


def spec_doc(spec: StageSpec) -> dict:
    """A stage as the app item's ``stages`` list stores it."""
    doc: dict = {"name": spec.name, "branch": spec.branch, "auto_deploy": spec.auto_deploy}
    if spec.preview:
        doc["preview"] = spec.preview.view()
    if spec.strategy:
        doc["strategy"] = spec.strategy
    return doc


def to_app(item: AppItem) -> App:
    return App(
        name=item.name,
        repository=item.repository,
        template_path=item.template_path,
        stages=tuple(StageSpec(s["name"], s.get("branch"), bool(s.get("auto_deploy")), preview=to_preview(s.get("preview")),
                               strategy=s.get("strategy")) for s in item.stages or ()),
        created_at=item.created_at,
    )


def to_build(item: BuildItem) -> Build:
    return Build(
        app=item.app,
        number=int(item.number),
        commit_id=item.commit_id,
        branch=item.branch,
        status=BuildStatus(item.status),
        message=item.message or "",
        author=item.author or "",
        created_at=item.created_at,
        finished_at=item.finished_at,
        functions=tuple(FunctionArtifact(**f) for f in item.functions or ()),
        template_key=item.template_key,
        failure=item.failure,
        execution=item.execution,
        quarantined=item.quarantined,
        notes=item.notes,
    )


def to_deployment(item: DeploymentItem) -> Deployment:
    return Deployment(
        app=item.app,
        stage=item.stage,
        id=item.id,
        build=int(item.build),
        kind=DeploymentKind(item.kind),
        status=DeploymentStatus(item.status),
        trigger=item.trigger or {},
        replaces=item.replaces,
        versions=item.versions or {},
        started_at=item.started_at,
        finished_at=item.finished_at,
        error=item.error,
        step=item.step,
        execution=item.execution,
        took_over=item.took_over,
        change_set=item.change_set,
        notes=tuple(item.notes or ()),
        cause=item.cause,
        reconciled=item.reconciled,
        strategy=item.strategy,
        canary=item.canary,
        steps=tuple(item.steps or ()),
        control=item.control,
    )


def to_stage(item: StageItem) -> Stage:
    lock = None
    if item.lock:
        lock = StageLock(
            deployment=item.lock,
            execution=item.lock_execution,
            since=item.lock_since or "",
            expires_at=item.lock_expires or "1970-01-01T00:00:00.000Z",
        )
    return Stage(
        app=item.app,
        name=item.name,
        branch=item.branch,
        auto_deploy=bool(item.auto_deploy),
        current_deployment=item.current_deployment,
        lock=lock,
        version=int(item.version or 0),
        preview=to_preview(item.preview),
        removing=item.removing,
        removed_at=item.removed_at,
    )


# ---- reads -------------------------------------------------------------------------------------


def get(model: type[Model], pk: str, sk: str) -> Any:
    try:
        return model.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def batch_get(model: type[Model], keys: list[tuple[str, str]]) -> Iterator[Any]:
    if not keys:
        return iter(())
    return model.batch_get(keys, consistent_read=True)


# ---- pagination --------------------------------------------------------------------------------
#
# Builds and deployments are numbered by gapless counters (the app's and the stage's), so a page is
# known before it is read: numbers top..top-limit+1, fetched with one BatchGetItem. A page costs the
# same with ten builds or a million. The token is the number the next page starts at, sealed for
# its listing (sprout.domain.tokens).


def encode_token(name: str, number: int) -> str:
    """The ``nextToken`` of listing ``name`` (``sprout.domain.tokens.listing``) starting at ``number``."""
    return seal(name, {"n": number})


def decode_token(name: str, token: str) -> int:
    number = unseal(name, token).get("n")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise InvalidInput("nextToken", "is not a token this list returned")
    return number


def numbered_page(
    model: type[Model], pk: str, sk_of: Callable[[int], str], newest: int, limit: int, next_token: str | None,
    name: str,
) -> tuple[list, str | None]:
    """Items numbered ``newest`` down to 1, ``limit`` at a time, newest first; the tokens are
    listing ``name``'s (a token of another listing is refused)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise InvalidInput("limit", "must be a whole number from 1 to 100")
    top = min(decode_token(name, next_token), newest) if next_token else newest
    numbers = range(top, max(top - limit, 0), -1)
    items = sorted(batch_get(model, [(pk, sk_of(n)) for n in numbers]), key=lambda item: item.sk, reverse=True)
    rest = top - limit
    return items, (encode_token(name, rest) if rest >= 1 else None)


# ---- transactions ------------------------------------------------------------------------------

_connection: Connection | None = None


def _shared_connection() -> Connection:
    global _connection
    if _connection is None:
        _connection = Connection(region=TableMeta().region)
    return _connection


class Txn:
    """One TransactWriteItems whose cancellation reasons come back by label.

    PynamoDB sends condition checks, then deletes, then puts, then updates; labels follow that order."""

    def __init__(self) -> None:
        self._ops: dict[str, list[tuple[str, Callable[[TransactWrite], None]]]] = {
            "check": [], "delete": [], "put": [], "update": []
        }

    def check(self, label: str, model: type[Model], hash_key: str, range_key: str, condition: Any) -> None:
        self._ops["check"].append((label, lambda tw: tw.condition_check(model, hash_key, range_key, condition=condition)))

    def delete(self, label: str, item: Model, condition: Any = None) -> None:
        self._ops["delete"].append((label, lambda tw: tw.delete(item, condition=condition)))

    def put(self, label: str, item: Model, condition: Any = None) -> None:
        self._ops["put"].append((label, lambda tw: tw.save(item, condition=condition)))

    def update(self, label: str, item: Model, actions: list, condition: Any = None) -> None:
        self._ops["update"].append((label, lambda tw: tw.update(item, actions, condition=condition)))

    def commit(self) -> dict[str, str]:
        """Commit; {} when it went through, else {label: reason code} of the items that failed."""
        ordered = [op for kind in ("check", "delete", "put", "update") for op in self._ops[kind]]
        try:
            with TransactWrite(connection=_shared_connection()) as tw:
                for _, add in ordered:
                    add(tw)
        except TransactWriteError as e:
            if e.cause_response_code != "TransactionCanceledException":
                raise
            reasons = e.cancellation_reasons or []
            labels = [label for label, _ in ordered]
            failed = {label: r.code for label, r in zip(labels, reasons, strict=False) if r is not None and r.code}
            return failed or {"?": "TransactionCanceled"}
        return {}


T = TypeVar("T")


def optimistically(what: str, attempt_once: Callable[[], T | None]) -> T:
    """Run ``attempt_once`` until it returns something other than None (it returns None when what
    it read changed before it wrote: a counter or version race), with a short random pause."""
    for attempt in range(MAX_ATTEMPTS):
        result = attempt_once()
        if result is not None:
            return result
        time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))
    raise Conflict(f"could not {what}: too much contention")


def _subclasses(model: type[Model]) -> list[type[Model]]:
    """Every item model, those of modules that keep their own (``lineage.issues``) included."""
    found = []
    for sub in model.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def reset_connections() -> None:
    """Forget the cached DynamoDB clients, so the next call resolves the endpoint again (for tests
    and tools that change AWS_ENDPOINT_URL within one process)."""
    global _connection
    _connection = None
    models: list[type[Model]] = [Item, *MODELS, *_subclasses(Item)]
    for model in models:
        model._connection = None
