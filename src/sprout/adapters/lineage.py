"""Build lineage in DynamoDB: apps, stages, builds, deployments, on ONE table (PynamoDB models).

The table's name comes from ``TABLE_NAME`` (required: importing this module fails without it), its
region from ``AWS_REGION``/``AWS_DEFAULT_REGION``; the endpoint is botocore's default, so
``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_DYNAMODB`` are honoured (PynamoDB 6 hands ``host=None`` to
botocore's ``create_client``, which resolves the configured endpoint).

The table, as template.yaml must declare it (``SproutTable``)::

    BillingMode: PAY_PER_REQUEST
    AttributeDefinitions:            # all S
      pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk
    KeySchema: pk HASH, sk RANGE
    GlobalSecondaryIndexes (Projection ALL):
      gsi1: gsi1pk HASH, gsi1sk RANGE
      gsi2: gsi2pk HASH, gsi2sk RANGE

Items (``pk`` / ``sk``; GSI keys where present):

=================  ================================  ==========================  =====================================
item               pk                                sk                          GSI keys
=================  ================================  ==========================  =====================================
app                ``APP#{app}``                     ``APP``                     gsi1: ``APPS`` / ``APP#{app}``
stage              ``APP#{app}``                     ``STAGE#{stage}``           gsi1: ``REPO#{repo}#BRANCH#{branch}``
                                                                                 / ``APP#{app}#STAGE#{stage}`` (if the
                                                                                 stage follows a branch)
build              ``APP#{app}``                     ``BUILD#{number:010d}``     gsi2: ``COMMIT#{commit}`` / ``APP#{app}``
commit marker      ``APP#{app}``                     ``COMMIT#{commit}``         -
build→stage link   ``APP#{app}``                     ``DEPLOYED#{number:010d}#{stage}``  -
deployment         ``APP#{app}#STAGE#{stage}``       ``DEPLOY#{seq:06d}``        -
=================  ================================  ==========================  =====================================

The app item holds the build counter; a build is recorded in one transaction that moves the
counter from n to n+1 (conditioned on n), creates the commit marker (conditioned on its absence)
and the build: numbers have no gaps and an app builds a commit once, however many duplicate
events arrive. Gapless numbers make pages computable: a page of builds (or of a stage's
deployments) is one BatchGetItem of known keys, whatever the length of the history. The stage item holds the lock, the current deployment, the deployment counter and a
version attribute (every write of a stage is conditioned on the version it read).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from sprout.domain.errors import (
    AppAlreadyExists,
    AppNotFound,
    BuildNotFound,
    Conflict,
    DeploymentNotFound,
    InvalidInput,
    StageBusy,
    StageNotFound,
)
from sprout.domain.model import (
    App,
    Build,
    BuildStatus,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    FunctionArtifact,
    Stage,
    StageSpec,
)


def _table_name() -> str:
    name = os.environ.get("TABLE_NAME", "").strip()
    if not name:
        raise RuntimeError(
            "TABLE_NAME is not set: sprout.adapters.lineage needs the name of the lineage table "
            "(template.yaml passes SproutTable to every function as TABLE_NAME)"
        )
    return name


TABLE_NAME = _table_name()
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None

MAX_ATTEMPTS = 30  # optimistic retries on a counter or version race
CONDITION_FAILED = "ConditionalCheckFailed"


# ---- models ------------------------------------------------------------------------------------


class _Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _Gsi2(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class _Item(Model):
    class Meta:
        table_name = TABLE_NAME
        region = REGION

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class AppItem(_Item):
    name = UnicodeAttribute()
    repository = UnicodeAttribute()
    template_path = UnicodeAttribute()
    stages = JSONAttribute()  # [{"name", "branch", "auto_deploy"}], pipeline order
    created_at = UnicodeAttribute()
    builds = NumberAttribute(default=0)  # the build counter: the number of the newest build
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_gsi1 = _Gsi1()


class StageItem(_Item):
    app = UnicodeAttribute()
    name = UnicodeAttribute()
    branch = UnicodeAttribute(null=True)
    auto_deploy = BooleanAttribute(default=False)
    current_deployment = UnicodeAttribute(null=True)
    lock = UnicodeAttribute(null=True)  # id of the deployment holding the stage
    deployments = NumberAttribute(default=0)  # the deployment counter
    version = VersionAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_gsi1 = _Gsi1()


class BuildItem(_Item):
    app = UnicodeAttribute()
    number = NumberAttribute()
    commit_id = UnicodeAttribute()
    branch = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    message = UnicodeAttribute(default="")
    author = UnicodeAttribute(default="")
    created_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    functions = JSONAttribute(default=list)
    template_key = UnicodeAttribute(null=True)
    failure = JSONAttribute(null=True)
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    by_gsi2 = _Gsi2()


class CommitItem(_Item):
    """The per-app commit marker: an app builds a commit once."""

    app = UnicodeAttribute()
    commit_id = UnicodeAttribute()
    build = NumberAttribute()


class DeployedItem(_Item):
    """Where a build went: the newest deployment of build n to a stage."""

    app = UnicodeAttribute()
    build = NumberAttribute()
    stage = UnicodeAttribute()
    deployment = UnicodeAttribute()


class DeploymentItem(_Item):
    app = UnicodeAttribute()
    stage = UnicodeAttribute()
    id = UnicodeAttribute()
    build = NumberAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    trigger = JSONAttribute(default=dict)
    replaces = UnicodeAttribute(null=True)
    versions = JSONAttribute(default=dict)
    started_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)


MODELS = (AppItem, StageItem, BuildItem, CommitItem, DeployedItem, DeploymentItem)


# ---- keys --------------------------------------------------------------------------------------


def app_pk(app: str) -> str:
    return f"APP#{app}"


def stage_sk(stage: str) -> str:
    return f"STAGE#{stage}"


def build_sk(number: int) -> str:
    return f"BUILD#{number:010d}"


def commit_sk(commit_id: str) -> str:
    return f"COMMIT#{commit_id}"


def deployed_sk(number: int, stage: str) -> str:
    return f"DEPLOYED#{number:010d}#{stage}"


def deployments_pk(app: str, stage: str) -> str:
    return f"APP#{app}#STAGE#{stage}"


def deployment_sk(deployment_id: str) -> str:
    return f"DEPLOY#{deployment_id}"


def branch_gsi1pk(repository: str, branch: str) -> str:
    return f"REPO#{repository}#BRANCH#{branch}"


APPS_GSI1PK = "APPS"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _name(field: str, value: str) -> str:
    if not isinstance(value, str) or not value or "#" in value:
        raise InvalidInput(field, f"must be a non-empty name without '#', got {value!r}")
    return value


# ---- conversions -------------------------------------------------------------------------------


def _app(item: AppItem) -> App:
    return App(
        name=item.name,
        repository=item.repository,
        template_path=item.template_path,
        stages=tuple(StageSpec(s["name"], s.get("branch"), bool(s.get("auto_deploy"))) for s in item.stages or ()),
        created_at=item.created_at,
    )


def _build(item: BuildItem) -> Build:
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
    )


def _deployment(item: DeploymentItem) -> Deployment:
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
    )


def _stage(item: StageItem) -> Stage:
    return Stage(
        app=item.app,
        name=item.name,
        current_deployment=item.current_deployment,
        lock=item.lock,
        version=int(item.version or 0),
    )


# ---- pagination --------------------------------------------------------------------------------
#
# Builds and deployments are numbered by gapless counters (the app's and the stage's), so a page is
# known before it is read: numbers top..top-limit+1, fetched with one BatchGetItem. A page costs the
# same with ten builds or a million (a Query would too on DynamoDB, but not on moto, whose Query sorts
# the whole partition). The token is the number the next page starts at.


def _encode_token(number: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"n": number}).encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        number = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["n"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise InvalidInput("next_token", "is not a token this list returned") from None
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise InvalidInput("next_token", "is not a token this list returned")
    return number


def _numbered_page(
    model: type[Model], pk: str, sk_of: Callable[[int], str], newest: int, limit: int, next_token: str | None
) -> tuple[list, str | None]:
    """Items numbered ``newest`` down to 1, ``limit`` at a time, newest first."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise InvalidInput("limit", f"must be between 1 and 100, got {limit!r}")
    top = min(_decode_token(next_token), newest) if next_token else newest
    numbers = range(top, max(top - limit, 0), -1)
    items = sorted(_batch_get(model, [(pk, sk_of(n)) for n in numbers]), key=lambda item: item.sk, reverse=True)
    rest = top - limit
    return items, (_encode_token(rest) if rest >= 1 else None)


# ---- transactions ------------------------------------------------------------------------------

_connection: Connection | None = None


def _transaction() -> TransactWrite:
    global _connection
    if _connection is None:
        _connection = Connection(region=REGION)
    return TransactWrite(connection=_connection)


class _Txn:
    """A TransactWrite whose cancellation reasons come back by label.

    PynamoDB sends condition checks, then puts, then updates; labels follow that order."""

    def __init__(self) -> None:
        self._tw = _transaction()
        self._checks: list[str] = []
        self._puts: list[str] = []
        self._updates: list[str] = []

    def check(self, label: str, model: type[Model], hash_key: str, range_key: str, condition: Any) -> None:
        self._tw.condition_check(model, hash_key, range_key, condition=condition)
        self._checks.append(label)

    def put(self, label: str, item: Model, condition: Any = None) -> None:
        self._tw.save(item, condition=condition)
        self._puts.append(label)

    def update(self, label: str, item: Model, actions: list, condition: Any = None) -> None:
        self._tw.update(item, actions, condition=condition)
        self._updates.append(label)

    def commit(self) -> dict[str, str]:
        """Commit; {} when it went through, else {label: reason code} of the items that failed."""
        try:
            self._tw._commit()
        except TransactWriteError as e:
            if e.cause_response_code != "TransactionCanceledException":
                raise
            labels = self._checks + self._puts + self._updates
            reasons = e.cancellation_reasons or []
            failed = {label: r.code for label, r in zip(labels, reasons, strict=False) if r is not None and r.code}
            return failed or {"?": "TransactionCanceled"}
        return {}


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))


def _get(model: type[Model], pk: str, sk: str) -> Any:
    try:
        return model.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


# ---- the repository ----------------------------------------------------------------------------


class Lineage:
    """Apps, stages, builds and deployments, as domain types."""

    # -- apps --

    def create_app(self, app: App) -> App:
        _name("name", app.name)
        if not app.repository:
            raise InvalidInput("repository", "is required")
        names = [_name("stages[].name", s.name) for s in app.stages]
        if len(set(names)) != len(names):
            raise InvalidInput("stages", f"stage names must be unique, got {names}")
        created = App(app.name, app.repository, app.template_path, tuple(app.stages), app.created_at or _now())
        txn = _Txn()
        txn.put(
            "app",
            AppItem(
                app_pk(app.name),
                "APP",
                name=app.name,
                repository=app.repository,
                template_path=app.template_path,
                stages=[asdict(s) for s in app.stages],
                created_at=created.created_at,
                builds=0,
                gsi1pk=APPS_GSI1PK,
                gsi1sk=app_pk(app.name),
            ),
            condition=AppItem.pk.does_not_exist(),
        )
        for spec in app.stages:
            follows = spec.branch is not None
            txn.put(
                f"stage {spec.name}",
                StageItem(
                    app_pk(app.name),
                    stage_sk(spec.name),
                    app=app.name,
                    name=spec.name,
                    branch=spec.branch,
                    auto_deploy=spec.auto_deploy,
                    deployments=0,
                    gsi1pk=branch_gsi1pk(app.repository, spec.branch) if follows else None,
                    gsi1sk=f"APP#{app.name}#STAGE#{spec.name}" if follows else None,
                ),
                condition=StageItem.pk.does_not_exist(),
            )
        if txn.commit():
            raise AppAlreadyExists(f"app {app.name} already exists")
        return created

    def get_app(self, name: str) -> App:
        return _app(self._app_item(name))

    def list_apps(self) -> list[App]:
        return [_app(item) for item in AppItem.by_gsi1.query(APPS_GSI1PK)]

    def stages_following(self, repository: str, branch: str) -> list[tuple[App, StageSpec]]:
        """Stages of every app in ``repository`` that follow ``branch``, apps by name, stages in
        pipeline order (auto_deploy or not: the caller decides)."""
        app_names = sorted({item.app for item in StageItem.by_gsi1.query(branch_gsi1pk(repository, branch))})
        found = []
        for item in AppItem.batch_get([(app_pk(n), "APP") for n in app_names]):
            app = _app(item)
            found += [(app, spec) for spec in app.stages_following(branch)]
        return sorted(found, key=lambda pair: (pair[0].name, pair[0].stages.index(pair[1])))

    def _app_item(self, name: str) -> AppItem:
        item = _get(AppItem, app_pk(name), "APP")
        if item is None:
            raise AppNotFound(f"app {name} not found")
        return item

    # -- builds --

    def record_build(
        self, app: App | str, commit_id: str, branch: str | None, message: str = "", author: str = ""
    ) -> tuple[Build, bool]:
        """The build of ``commit_id`` for ``app``: a new one numbered after the newest (created
        True), or the one already recorded for that commit (created False)."""
        name = app.name if isinstance(app, App) else app
        if not commit_id:
            raise InvalidInput("commit_id", "is required")
        for attempt in range(MAX_ATTEMPTS):
            existing = self._build_by_commit(name, commit_id)
            if existing is not None:
                return _build(existing), False
            app_item = self._app_item(name)
            counter = int(app_item.builds or 0)
            number = counter + 1
            build = BuildItem(
                app_pk(name),
                build_sk(number),
                app=name,
                number=number,
                commit_id=commit_id,
                branch=branch,
                status=BuildStatus.BUILDING.value,
                message=message or "",
                author=author or "",
                created_at=_now(),
                functions=[],
                gsi2pk=f"COMMIT#{commit_id}",
                gsi2sk=app_pk(name),
            )
            txn = _Txn()
            txn.put("commit", CommitItem(app_pk(name), commit_sk(commit_id), app=name, commit_id=commit_id, build=number),
                    condition=CommitItem.pk.does_not_exist())
            txn.put("build", build, condition=BuildItem.pk.does_not_exist())
            counter_unchanged = (AppItem.builds == counter) if app_item.builds is not None else AppItem.builds.does_not_exist()
            txn.update("app", app_item, [AppItem.builds.set(number)], condition=counter_unchanged)
            if not txn.commit():
                return _build(build), True
            _pause(attempt)  # another build took the number, or this commit: look again
        raise Conflict(f"could not record the build of {commit_id} for app {name}: too much contention")

    def finish_build(
        self,
        app: str,
        number: int,
        status: BuildStatus | str,
        functions: Iterable[FunctionArtifact] = (),
        template_key: str | None = None,
        failure: dict | None = None,
    ) -> Build:
        """Record how build ``number`` ended. Finishing it again the same way is a no-op."""
        status = BuildStatus(status)
        if status is BuildStatus.BUILDING:
            raise InvalidInput("status", "a build finishes as SUCCEEDED or FAILED")
        item = BuildItem(app_pk(app), build_sk(number))
        try:
            item.update(
                actions=[
                    BuildItem.status.set(status.value),
                    BuildItem.finished_at.set(_now()),
                    BuildItem.functions.set([asdict(f) for f in functions]),
                    BuildItem.template_key.set(template_key) if template_key else BuildItem.template_key.remove(),
                    BuildItem.failure.set(failure) if failure else BuildItem.failure.remove(),
                ],
                condition=BuildItem.status == BuildStatus.BUILDING.value,
            )
        except UpdateError as e:
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise
            current = self.get_build(app, number)
            if current.status is status:
                return current
            raise Conflict(f"build {number} of app {app} already finished as {current.status}") from None
        return _build(item)

    def get_build(self, app: str, number: int) -> Build:
        item = _get(BuildItem, app_pk(app), build_sk(int(number)))
        if item is None:
            raise BuildNotFound(f"build {number} of app {app} not found")
        return _build(item)

    def get_build_by_commit(self, app: str, commit_id: str) -> Build:
        item = self._build_by_commit(app, commit_id)
        if item is None:
            raise BuildNotFound(f"app {app} has no build of commit {commit_id}")
        return _build(item)

    def builds_of_commit(self, commit_id: str) -> list[Build]:
        """Every app's build of ``commit_id`` (through gsi2; eventually consistent on AWS)."""
        return [_build(item) for item in BuildItem.by_gsi2.query(f"COMMIT#{commit_id}")]

    def _build_by_commit(self, app: str, commit_id: str) -> BuildItem | None:
        marker = _get(CommitItem, app_pk(app), commit_sk(commit_id))
        if marker is None:
            return None
        return _get(BuildItem, app_pk(app), build_sk(int(marker.build)))

    def list_builds(self, app: str, limit: int = 25, next_token: str | None = None) -> tuple[list[Build], str | None]:
        """Builds newest first, and a token for the next page (None on the last page)."""
        newest = int(self._app_item(app).builds or 0)
        items, token = _numbered_page(BuildItem, app_pk(app), build_sk, newest, limit, next_token)
        return [_build(i) for i in items], token

    # -- stages and deployments --

    def get_stage(self, app: str, stage: str) -> Stage:
        return _stage(self._stage_item(app, stage))

    def _stage_item(self, app: str, stage: str) -> StageItem:
        item = _get(StageItem, app_pk(app), stage_sk(stage))
        if item is None:
            self._app_item(app)  # AppNotFound first, when it is the app that is missing
            raise StageNotFound(f"stage {stage} of app {app} not found")
        return item

    def begin_deployment(
        self, app: str, stage: str, build: Build | int, kind: DeploymentKind | str, trigger: dict
    ) -> Deployment:
        """Take the stage's lock and record an IN_PROGRESS deployment of ``build``.

        Raises StageBusy (naming the deployment holding the stage), StageNotFound, BuildNotFound."""
        number = build.number if isinstance(build, Build) else int(build)
        kind = DeploymentKind(kind)
        for attempt in range(MAX_ATTEMPTS):
            st = self._stage_item(app, stage)
            if st.lock:
                raise StageBusy(f"stage {stage} of app {app} is busy: deployment {st.lock} holds it")
            seq = int(st.deployments or 0) + 1
            deployment = DeploymentItem(
                deployments_pk(app, stage),
                deployment_sk(f"{seq:06d}"),
                app=app,
                stage=stage,
                id=f"{seq:06d}",
                build=number,
                kind=kind.value,
                status=DeploymentStatus.IN_PROGRESS.value,
                trigger=dict(trigger or {}),
                replaces=st.current_deployment,
                versions={},
                started_at=_now(),
            )
            txn = _Txn()
            txn.check("build", BuildItem, app_pk(app), build_sk(number), BuildItem.pk.exists())
            txn.put("deployment", deployment, condition=DeploymentItem.pk.does_not_exist())
            txn.put(
                "deployed",
                DeployedItem(app_pk(app), deployed_sk(number, stage), app=app, build=number, stage=stage,
                             deployment=deployment.id),
            )
            # the version attribute adds "version = <read>": a stale stage is refused
            txn.update("stage", st, [StageItem.lock.set(deployment.id), StageItem.deployments.set(seq)],
                       condition=StageItem.lock.does_not_exist())
            failed = txn.commit()
            if not failed:
                return _deployment(deployment)
            if failed.get("build") == CONDITION_FAILED:
                raise BuildNotFound(f"build {number} of app {app} not found")
            _pause(attempt)  # the stage changed since it was read: look again
        raise Conflict(f"could not lock stage {stage} of app {app}: too much contention")

    def finish_deployment(
        self,
        app: str,
        stage: str,
        deployment_id: str,
        status: DeploymentStatus | str,
        versions: dict[str, str] | None = None,
        error: str | None = None,
    ) -> Deployment:
        """Record how a deployment ended and release the stage's lock; SUCCEEDED also makes it
        the stage's current deployment. Finishing it again the same way is a no-op."""
        status = DeploymentStatus(status)
        if status is DeploymentStatus.IN_PROGRESS:
            raise InvalidInput("status", "a deployment finishes as SUCCEEDED or FAILED")
        for attempt in range(MAX_ATTEMPTS):
            st = self._stage_item(app, stage)
            item = _get(DeploymentItem, deployments_pk(app, stage), deployment_sk(deployment_id))
            if item is None:
                raise DeploymentNotFound(f"deployment {deployment_id} of stage {stage} of app {app} not found")
            if item.status != DeploymentStatus.IN_PROGRESS.value:
                if item.status == status.value:
                    return _deployment(item)
                raise Conflict(f"deployment {deployment_id} of {app}/{stage} already finished as {item.status}")
            txn = _Txn()
            txn.update(
                "deployment",
                item,
                [
                    DeploymentItem.status.set(status.value),
                    DeploymentItem.finished_at.set(_now()),
                    DeploymentItem.versions.set(dict(versions or {})),
                    DeploymentItem.error.set(error) if error else DeploymentItem.error.remove(),
                ],
                condition=DeploymentItem.status == DeploymentStatus.IN_PROGRESS.value,
            )
            stage_actions = []
            if st.lock == deployment_id:
                stage_actions.append(StageItem.lock.remove())
            if status is DeploymentStatus.SUCCEEDED:
                stage_actions.append(StageItem.current_deployment.set(deployment_id))
            if stage_actions:
                txn.update("stage", st, stage_actions)
            if not txn.commit():
                return self._deployment(app, stage, deployment_id)
            _pause(attempt)
        raise Conflict(f"could not finish deployment {deployment_id} of {app}/{stage}: too much contention")

    def _deployment(self, app: str, stage: str, deployment_id: str) -> Deployment:
        item = _get(DeploymentItem, deployments_pk(app, stage), deployment_sk(deployment_id))
        if item is None:
            raise DeploymentNotFound(f"deployment {deployment_id} of stage {stage} of app {app} not found")
        return _deployment(item)

    def get_deployment(self, app: str, stage: str, deployment_id: str) -> Deployment:
        return self._deployment(app, stage, deployment_id)

    def current_deployment(self, app: str, stage: str) -> Deployment | None:
        st = self._stage_item(app, stage)
        return self._deployment(app, stage, st.current_deployment) if st.current_deployment else None

    def list_deployments(
        self, app: str, stage: str, limit: int = 25, next_token: str | None = None
    ) -> tuple[list[Deployment], str | None]:
        """Deployments of a stage newest first, and a token for the next page (None on the last)."""
        newest = int(self._stage_item(app, stage).deployments or 0)
        items, token = _numbered_page(
            DeploymentItem, deployments_pk(app, stage), lambda n: deployment_sk(f"{n:06d}"), newest, limit, next_token
        )
        return [_deployment(i) for i in items], token

    def deployments_of_build(self, app: str, number: int) -> dict[str, Deployment]:
        """Where build ``number`` went: stage -> the newest deployment of that build to that stage
        (any status; compare with the stage's current deployment to tell whether it is live)."""
        links = list(DeployedItem.query(app_pk(app), DeployedItem.sk.startswith(f"DEPLOYED#{int(number):010d}#")))
        keys = [(deployments_pk(app, link.stage), deployment_sk(link.deployment)) for link in links]
        found = {d.stage: _deployment(d) for d in _batch_get(DeploymentItem, keys)}
        return dict(sorted(found.items()))


def _batch_get(model: type[Model], keys: list[tuple[str, str]]) -> Iterator[Any]:
    if not keys:
        return iter(())
    return model.batch_get(keys, consistent_read=True)


def reset_connections() -> None:
    """Forget the cached DynamoDB clients, so the next call resolves the endpoint again (for tests
    and tools that change AWS_ENDPOINT_URL within one process)."""
    global _connection
    _connection = None
    for model in (_Item, *MODELS):
        model._connection = None
