"""Sprout's one DynamoDB table (``SproutTable`` in template.yaml): its items as PynamoDB models, and
their key builders. (What the repositories share to read and write them is in ``table``.)

The table's name comes from ``sprout.settings`` (``TABLE_NAME``), read when the first model is used (not at import);
the endpoint is botocore's default (``AWS_ENDPOINT_URL`` is honoured: PynamoDB 6 hands
``host=None`` to botocore's ``create_client``).

The table, as template.yaml declares it::

    KeySchema: pk HASH, sk RANGE (all S); GSIs (Projection ALL): gsi1 (gsi1pk, gsi1sk), gsi2 (gsi2pk, gsi2sk)

Items (``pk`` / ``sk``; GSI keys where present):

==================  ================================  ===================================  ==============================
item                pk                                sk                                   GSI keys
==================  ================================  ===================================  ==============================
app                 ``APP#{app}``                     ``APP``                              gsi1 ``APPS`` / ``APP#{app}``
stage               ``APP#{app}``                     ``STAGE#{stage}``                    gsi1 ``REPO#{repo}#BRANCH#{b}``
                                                                                           / ``APP#{app}#STAGE#{stage}``
previews settings   ``APP#{app}``                     ``PREVIEWS``                         gsi1 ``PREVIEWS#REPO#{repo}`` / ``APP#{app}``
stack claim         ``STACK#{stack}``                 ``STACK``                            -
build               ``APP#{app}``                     ``BUILD#{number:010d}``              gsi2 ``COMMIT#{commit}`` / ``APP#{app}``
commit marker       ``APP#{app}``                     ``COMMIT#{commit}``                  -
build→stage link    ``APP#{app}``                     ``DEPLOYED#{number:010d}#{stage}``   -
deployment          ``APP#{app}#STAGE#{stage}``       ``DEPLOY#{seq:06d}``                 -
open work           ``EXEC#{executionArn}``           ``BUILD#{app}#{n}`` / ``DEPLOY#{app}#{stage}#{id}``  -
watched alarm       ``ALARM#{alarmName}``             ``ALARM``                            -
alarm event         ``ALARMEVENT#{eventId}``          ``EVENT``                            -
cached dependencies ``DEPENDENCIES#{key}``            ``DIGEST``                           -
==================  ================================  ===================================  ==============================

"Open work" items name what an execution opened and has not closed yet (a build BUILDING, a
deployment IN_PROGRESS holding its stage): they are written in the transaction that opens it and
deleted in the one that closes it, so that when an execution ends in any way, the finalizer
closes exactly what it left open.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from sprout.settings import lineage_region, lineage_table


class TableMeta:
    """Model settings from ``sprout.settings``, read the first time a model talks to DynamoDB."""

    @property
    def table_name(self) -> str:
        return lineage_table()

    @property
    def region(self) -> str | None:
        return lineage_region()


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


class Item(Model):
    # pynamodb types Meta as its MetaProtocol, whose other attributes MetaModel sets at class creation
    Meta = TableMeta()  # type: ignore[assignment]

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class AppItem(Item):
    name = UnicodeAttribute()
    repository = UnicodeAttribute()
    template_path = UnicodeAttribute()
    stages = JSONAttribute()  # [{"name", "branch", "auto_deploy"}], pipeline order
    created_at = UnicodeAttribute()
    builds = NumberAttribute(default=0)  # the build counter: the number of the newest build
    deleting = JSONAttribute(null=True)  # DELETE /apps/{app}: the recorded intent, while its stages go
    deleted_at = UnicodeAttribute(null=True)  # a deleted app's tombstone: its builds and history are kept
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_gsi1 = _Gsi1()


class StageItem(Item):
    app = UnicodeAttribute()
    name = UnicodeAttribute()
    branch = UnicodeAttribute(null=True)
    auto_deploy = BooleanAttribute(default=False)
    current_deployment = UnicodeAttribute(null=True)
    lock = UnicodeAttribute(null=True)  # id of the deployment holding the stage
    lock_execution = UnicodeAttribute(null=True)  # the execution holding it for that deployment
    lock_since = UnicodeAttribute(null=True)
    lock_expires = UnicodeAttribute(null=True)  # the lease: taken over after this
    deployments = NumberAttribute(default=0)  # the deployment counter
    version = VersionAttribute()
    preview = JSONAttribute(null=True)  # {"kind", "branch", "pullRequestId"?, "createdAt"} for a preview
    removing = JSONAttribute(null=True)  # the removal intent, recorded before the teardown acts
    removed_at = UnicodeAttribute(null=True)  # torn down: the stage's history stays readable
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_gsi1 = _Gsi1()
    gsi2pk = UnicodeAttribute(null=True)  # "PREVIEWS" for a live preview (the sweep's list)
    gsi2sk = UnicodeAttribute(null=True)
    by_gsi2 = _Gsi2()


class PreviewsItem(Item):
    """An app's preview settings (``PUT /apps/{app}/previews``); gsi1 ``PREVIEWS#REPO#{repo}`` while
    branch or pull request previews are on, so a push finds the apps that want previews."""

    app = UnicodeAttribute()
    settings = JSONAttribute()  # PreviewSettings.view()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_gsi1 = _Gsi1()


class StackClaimItem(Item):
    """A stage stack name, claimed by one app's stage: two apps never deploy into one stack."""

    app = UnicodeAttribute()
    stage = UnicodeAttribute()


class BuildItem(Item):
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
    execution = UnicodeAttribute(null=True)
    quarantined = JSONAttribute(null=True)
    notes = JSONAttribute(null=True)
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    by_gsi2 = _Gsi2()


class CommitItem(Item):
    """The per-app commit marker: an app builds a commit once."""

    app = UnicodeAttribute()
    commit_id = UnicodeAttribute()
    build = NumberAttribute()


class DeployedItem(Item):
    """Where a build went: the newest deployment of build n to a stage."""

    app = UnicodeAttribute()
    build = NumberAttribute()
    stage = UnicodeAttribute()
    deployment = UnicodeAttribute()


class DeploymentItem(Item):
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
    step = UnicodeAttribute(null=True)
    execution = UnicodeAttribute(null=True)
    took_over = JSONAttribute(null=True)
    change_set = UnicodeAttribute(null=True)  # the change set it deployed through
    notes = JSONAttribute(null=True)  # what Sprout did on its way (e.g. deleted a failed first stack)
    cause = JSONAttribute(null=True)  # a failure's cause as CloudFormation told it
    reconciled = JSONAttribute(null=True)  # when a check found the record out of step with the stack
    strategy = JSONAttribute(null=True)  # a canary or linear promote's strategy (sprout.domain.canary)
    canary = JSONAttribute(null=True)  # its versions, the ones they replace, its state
    steps = JSONAttribute(null=True)  # each step: weight, startedAt, judgedAt, requests, errors, verdict
    control = JSONAttribute(null=True)  # what a person asked of it (finish, abort, resume), not yet done


class OpenItem(Item):
    """Work an execution opened and has not closed: a build or a deployment."""

    kind = UnicodeAttribute()  # "build" | "deployment"
    app = UnicodeAttribute()
    stage = UnicodeAttribute(null=True)
    build = NumberAttribute(null=True)
    deployment = UnicodeAttribute(null=True)


class AlarmEventItem(Item):
    """One alarm event as Sprout handled it: claimed once (a duplicated event acts once), with the
    outcome and why."""

    alarm = UnicodeAttribute()
    app = UnicodeAttribute(null=True)
    stage = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute()  # "RECEIVED" | "IGNORED" | "ROLLED_BACK"
    reason = UnicodeAttribute(null=True)
    deployment = UnicodeAttribute(null=True)
    at = UnicodeAttribute()


class WatchedAlarmItem(Item):
    """An alarm Sprout created for a watched stage, recorded after Sprout put it and deleted before
    Sprout deletes it: the only alarms the rollback path acts on (tags on an alarm prove nothing)."""

    app = UnicodeAttribute()
    stage = UnicodeAttribute()
    signal = UnicodeAttribute()
    arn = UnicodeAttribute()
    definition = UnicodeAttribute()  # sha256 of the definition DescribeAlarms showed once Sprout had put it
    recorded_at = UnicodeAttribute(attr_name="recordedAt")


class DependenciesItem(Item):
    """A set of installed dependencies in the cache: the object a trusted step stored, and its sha256,
    which Package checks before it uses the object."""

    key = UnicodeAttribute()
    object_key = UnicodeAttribute()  # dependencies/{key}/{sha256}.zip in the artifact bucket
    sha256 = UnicodeAttribute()
    app = UnicodeAttribute()  # the build whose dependency build made it
    build = NumberAttribute()
    codebuild = UnicodeAttribute(null=True)  # the dependency build's id
    at = UnicodeAttribute()


MODELS = (AlarmEventItem, WatchedAlarmItem, DependenciesItem, AppItem, StageItem, StackClaimItem, BuildItem, CommitItem,
          DeployedItem, DeploymentItem, OpenItem, PreviewsItem)


# ---- keys --------------------------------------------------------------------------------------


def app_pk(app: str) -> str:
    return f"APP#{app}"


def stage_sk(stage: str) -> str:
    return f"STAGE#{stage}"


def stack_pk(stack: str) -> str:
    return f"STACK#{stack}"


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


def open_pk(execution: str) -> str:
    return f"EXEC#{execution}"


def open_build_sk(app: str, number: int) -> str:
    return f"BUILD#{app}#{number:010d}"


def open_deployment_sk(app: str, stage: str, deployment_id: str) -> str:
    return f"DEPLOY#{app}#{stage}#{deployment_id}"


APPS_GSI1PK = "APPS"
REMOVING_GSI1PK = "REMOVING"  # stages whose removal is recorded and not finished (the sweep's list)
PREVIEWS_GSI2PK = "PREVIEWS"


def previews_gsi1pk(repository: str) -> str:
    return f"PREVIEWS#REPO#{repository}"
