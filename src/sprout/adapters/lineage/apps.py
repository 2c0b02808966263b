"""Apps and their stages, and the stage stack names they claim (one aggregate: an app registers
with its stages in one transaction)."""

from __future__ import annotations

from sprout.adapters.lineage.items import (
    APPS_GSI1PK,
    AppItem,
    StackClaimItem,
    StageItem,
    app_pk,
    branch_gsi1pk,
    stack_pk,
    stage_sk,
)
from sprout.adapters.lineage.table import Txn, batch_get, get, now_iso, spec_doc, to_app, to_stage
from sprout.domain.errors import (
    AppAlreadyExists,
    AppNotFound,
    InvalidInput,
    StackNameTaken,
    StageNotFound,
    named,
)
from sprout.domain.model import App, Stage, StageSpec
from sprout.domain.pipeline import check_stages, stage_stacks


def _name(field: str, value: str) -> str:
    if not isinstance(value, str) or not value or "#" in value:
        raise InvalidInput(field, "must be a non-empty name without '#'")
    return value


class AppRepository:
    """Apps, as domain types; each app's stages and the stack names they deploy into."""

    def create_app(self, app: App) -> App:
        """Register ``app`` with its stages, claiming each stage's stack name. Raises
        AppAlreadyExists, or StackNameTaken naming the app and stage that own a clashing name."""
        _name("name", app.name)
        if not app.repository:
            raise InvalidInput("repository", "is required")
        for s in app.stages:
            _name("stages[].name", s.name)
        stages = check_stages(app.stages)
        created = App(app.name, app.repository, app.template_path, stages, app.created_at or now_iso())
        txn = Txn()
        txn.put(
            "app",
            AppItem(
                app_pk(app.name), "APP",
                name=app.name, repository=app.repository, template_path=app.template_path,
                stages=[spec_doc(s) for s in stages], created_at=created.created_at, builds=0,
                gsi1pk=APPS_GSI1PK, gsi1sk=app_pk(app.name),
            ),
            condition=AppItem.pk.does_not_exist(),
        )
        stacks = stage_stacks(created)
        for spec in stages:
            follows = spec.branch is not None
            txn.put(
                f"stage {spec.name}",
                StageItem(
                    app_pk(app.name), stage_sk(spec.name),
                    app=app.name, name=spec.name, branch=spec.branch, auto_deploy=spec.auto_deploy,
                    deployments=0,
                    gsi1pk=branch_gsi1pk(app.repository, spec.branch) if spec.branch is not None else None,
                    gsi1sk=f"APP#{app.name}#STAGE#{spec.name}" if follows else None,
                ),
                condition=StageItem.pk.does_not_exist(),
            )
            txn.put(
                f"stack {stacks[spec.name]}",
                StackClaimItem(stack_pk(stacks[spec.name]), "STACK", app=app.name, stage=spec.name),
                condition=StackClaimItem.pk.does_not_exist(),
            )
        failed = txn.commit()
        if not failed:
            return created
        if "app" in failed:
            old = get(AppItem, app_pk(app.name), "APP")
            if old is not None and old.deleted_at:
                raise AppAlreadyExists(f"app {named(app.name)} was deleted at {old.deleted_at}; its builds and history "
                                       "are kept under that name: choose another name")
            raise AppAlreadyExists(f"app {named(app.name)} already exists")
        for label in failed:
            if label.startswith("stack "):
                stack = label.removeprefix("stack ")
                owner = self.stack_owner(stack)
                whose = f"app {named(owner[0])}'s stage {named(owner[1])}" if owner else "another app's stage"
                raise StackNameTaken(f"stack name {named(stack)} is already {whose}: choose another app or stage name")
        raise AppAlreadyExists(f"app {named(app.name)} already exists")

    def stack_owner(self, stack: str) -> tuple[str, str] | None:
        """(app, stage) of the stage that claimed ``stack``, if any."""
        claim = get(StackClaimItem, stack_pk(stack), "STACK")
        return (claim.app, claim.stage) if claim else None

    def get_app(self, name: str) -> App:
        return to_app(self._app_item(name))

    def list_apps(self) -> list[App]:
        return [to_app(item) for item in AppItem.by_gsi1.query(APPS_GSI1PK)]

    def stages_following(self, repository: str, branch: str) -> list[tuple[App, StageSpec]]:
        """Stages of every app in ``repository`` that follow ``branch``, apps by name, stages in
        pipeline order (auto_deploy or not: the caller decides)."""
        app_names = sorted({item.app for item in StageItem.by_gsi1.query(branch_gsi1pk(repository, branch))})
        found = []
        for item in AppItem.batch_get([(app_pk(n), "APP") for n in app_names]):
            app = to_app(item)
            found += [(app, spec) for spec in app.stages_following(branch)]
        return sorted(found, key=lambda pair: (pair[0].name, pair[0].stages.index(pair[1])))

    def get_stage(self, app: str, stage: str) -> Stage:
        return to_stage(self._stage_item(app, stage))

    def list_stages(self, app: str) -> list[Stage]:
        registered = self.get_app(app)
        items = {i.name: i for i in batch_get(StageItem, [(app_pk(app), stage_sk(s.name)) for s in registered.stages])}
        return [to_stage(items[s.name]) for s in registered.stages if s.name in items]

    def _app_item(self, name: str) -> AppItem:
        item = get(AppItem, app_pk(name), "APP")
        if item is None or item.deleted_at:
            raise AppNotFound(f"app {named(name)} not found", field="app")
        return item

    def _stage_item(self, app: str, stage: str) -> StageItem:
        item = get(StageItem, app_pk(app), stage_sk(stage))
        if item is None:
            self._app_item(app)  # AppNotFound first, when it is the app that is missing
            raise StageNotFound(f"app {named(app)} has no stage {named(stage)}", field="stage")
        return item
