"""The use cases of stage changes, teardown and previews, on in-memory fakes: every removal is
recorded before anything acts on it, the sweep restarts what ended half-way, the teardown records
what it must delete before deleting, and previews keep to their limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sprout.domain.model import App, Preview, Stage, StageSpec
from sprout.domain.monitoring import ApiStage, StageInventory
from sprout.domain.previews import PreviewSettings
from sprout.domain.stages import MAX_DELETE_ATTEMPTS
from sprout.services.previews import Previews
from sprout.services.stage_changes import StageChanges
from sprout.services.teardown import Teardown

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:sprout-teardown"


class FakeLineage:
    def __init__(self, app: App):
        self.app = app
        self.stages = {s.name: Stage(app.name, s.name, s.branch, s.auto_deploy, preview=s.preview) for s in app.stages}
        self.log: list[str] = []
        self.previews: PreviewSettings | None = None

    def get_app(self, name):
        return self.app

    def get_stage(self, app, stage):
        return self.stages[stage]

    def list_stages(self, app):
        return list(self.stages.values())

    def stack_owner(self, stack):
        return None

    def add_stage(self, app_name, spec, after=None):
        self.log.append(f"add {spec.name}")
        self.app = replace(self.app, stages=(*self.app.stages, spec))
        self.stages[spec.name] = Stage(app_name, spec.name, spec.branch, spec.auto_deploy, preview=spec.preview)
        return self.app

    def begin_removal(self, app_name, stage, intent, holder_running=None, wait_for_lock=False):
        st = self.stages[stage]
        if st.removing:
            return st, False
        self.stages[stage] = replace(st, removing=dict(intent))
        self.log.append(f"record removal {stage}")
        return self.stages[stage], True

    def note_removal(self, app_name, stage, **fields):
        self.stages[stage] = replace(self.stages[stage], removing={**(self.stages[stage].removing or {}), **fields})
        self.log.append(f"note {stage} {sorted(fields)}")
        return self.stages[stage].removing

    def begin_app_deletion(self, app_name, intent):
        self.log.append("record app deletion")
        return self.app

    def removals_pending(self):
        return [s for s in self.stages.values() if s.removing and not s.removed_at]

    def finish_removal(self, app_name, stage):
        self.stages[stage] = replace(self.stages[stage], removed_at="2026-12-07T00:00:00.000Z")
        self.log.append(f"finish {stage}")
        return self.stages[stage]

    def finish_app_deletion(self, app_name):
        self.log.append("app deleted")

    def get_previews(self, app_name):
        return self.previews

    def put_previews(self, app, settings):
        self.previews = settings

    def apps_with_previews(self, repository):
        return [(self.app, self.previews)] if self.previews else []

    def stages_following(self, repository, branch):
        return [(self.app, s) for s in self.app.stages if s.branch == branch]

    def live_previews(self):
        return [s for s in self.stages.values() if s.preview and not s.removed_at]


class FakeExecutions:
    def __init__(self, lineage: FakeLineage, running: set[str] | None = None):
        self.lineage = lineage
        self.running = running or set()
        self.started: list[str] = []

    def start(self, machine, name, payload):
        self.lineage.log.append(f"start {payload['stages']}")
        self.started.append(name)
        return f"{machine}:{name}"

    def is_running(self, arn):
        return True if arn in self.running else (None if arn == "arn:starting" else False)


class NoStacks:
    def exists(self, stack):
        return False


def notes() -> App:
    return App("notes", "notes", stages=(StageSpec("dev", "main", True), StageSpec("prod")))


def test_given_a_stage_when_it_is_removed_then_its_removal_is_recorded_before_the_teardown_starts():
    """GIVEN a stage WHEN it is removed (twice) THEN the removal is recorded, then the teardown starts, once."""
    lineage = FakeLineage(notes())
    changes = StageChanges(lineage, FakeExecutions(lineage), NoStacks(), MACHINE, "sprout")
    answer = changes.remove("notes", "prod", "alice")
    assert lineage.log == ["record removal prod", "start ['prod']"]
    assert answer["removal"]["execution"].startswith("arn:aws:states:us-east-1:123456789012:execution:sprout-teardown:")
    # AND asking again starts nothing more: the recorded removal goes on
    changes.remove("notes", "prod", "alice")
    assert lineage.log == ["record removal prod", "start ['prod']"]


def test_given_removals_when_the_sweep_runs_then_only_the_ones_whose_execution_ended_start_again_recorded_first():
    """GIVEN one removal running and one killed WHEN the sweep runs THEN only the killed one restarts, its new execution recorded first."""
    lineage = FakeLineage(notes())
    lineage.stages["dev"] = replace(lineage.stages["dev"], removing={"execution": "arn:running"})
    lineage.stages["prod"] = replace(lineage.stages["prod"], removing={"execution": "arn:killed"})
    # a removal recorded just now whose execution does not exist yet is starting, not lost
    lineage.stages["qa"] = Stage("notes", "qa", removing={"execution": "arn:starting",
                                                         "requestedAt": datetime.now(UTC).isoformat()})
    changes = StageChanges(lineage, FakeExecutions(lineage, running={"arn:running"}), NoStacks(), MACHINE, "sprout")
    restarted = changes.sweep()
    assert [r["stage"] for r in restarted] == ["prod"] and restarted[0]["was"] == "arn:killed"
    assert lineage.log == ["note prod ['execution', 'restartedAt', 'restarts']", "start ['prod']"]
    assert lineage.stages["prod"].removing["execution"] == restarted[0]["execution"]


class FakeCloud:
    def __init__(self, log: list[str], statuses: list[str | None]):
        self.log = log
        self.statuses = statuses

    def inventory(self, stack):
        self.log.append("inventory")
        return StageInventory({"Create": "notes-prod-Create-1"}, (ApiStage("Api", "abc", "Prod"),))

    def unwatch(self, app, stage, inventory):
        assert inventory is not None  # the one read, handed on
        self.log.append("unwatch")
        return ["sprout-ar-notes-prod-fast"]

    def access_logs_off(self, inventory):
        assert inventory is not None
        self.log.append("access logs off")

    def delete_stack(self, stack):
        self.log.append("delete stack")

    def stack_status(self, stack):
        status = self.statuses.pop(0) if self.statuses else None
        blockers = [{"logicalId": "Uploads", "type": "AWS::S3::Bucket"}] if status == "DELETE_FAILED" else []
        return status, blockers

    def delete_log_groups(self, names):
        self.log.append(f"delete {names}")
        return names


def test_given_a_removal_when_the_teardown_runs_then_what_it_deletes_is_recorded_before_it_deletes_anything():
    """GIVEN a recorded removal WHEN the teardown's steps run THEN the plan is recorded before anything is deleted, DELETE_FAILED records its blockers, and the stage ends removed."""
    lineage = FakeLineage(notes())
    lineage.stages["prod"] = replace(lineage.stages["prod"], removing={"execution": "x"})
    cloud = FakeCloud(lineage.log, ["UPDATE_COMPLETE", "DELETE_FAILED"] + [None])
    teardown = Teardown(lineage, cloud)
    teardown.prepare("notes", "prod")
    assert lineage.log[:4] == ["inventory", "note prod ['plan', 'step']", "unwatch", "access logs off"]
    assert lineage.stages["prod"].removing["plan"]["logGroups"] == [
        "/aws/lambda/notes-prod/Create", "API-Gateway-Access-Logs_abc/Prod"]
    assert teardown.delete_stack("notes", "prod", 0)["attempt"] == 1
    failed = teardown.check_stack("notes", "prod", 1)
    assert failed["status"] == "FAILED" and not failed["giveUp"] and failed["backoffSeconds"] > 0
    assert lineage.stages["prod"].removing["blockers"] == [{"logicalId": "Uploads", "type": "AWS::S3::Bucket"}]
    assert teardown.check_stack("notes", "prod", 2)["status"] == "GONE"
    teardown.clean_up("notes", "prod")
    teardown.finish("notes", "prod")
    assert lineage.stages["prod"].removed_at and lineage.log[-1] == "finish prod"


def test_given_a_stack_that_stays_delete_failed_then_the_teardown_gives_up_at_the_last_attempt():
    """GIVEN a stack still DELETE_FAILED WHEN checked at the last attempt THEN the teardown gives up (the sweep retries later)."""
    lineage = FakeLineage(notes())
    lineage.stages["prod"] = replace(lineage.stages["prod"], removing={"execution": "x"})
    teardown = Teardown(lineage, FakeCloud(lineage.log, ["DELETE_FAILED"]))
    assert teardown.check_stack("notes", "prod", MAX_DELETE_ATTEMPTS)["giveUp"] is True


def test_given_a_deletion_in_progress_when_checked_with_a_follow_budget_then_it_is_read_again_until_it_settles():
    """GIVEN a stack DELETE_IN_PROGRESS twice, then gone WHEN CheckStack follows it for 5 s THEN it answers GONE
    after two short sleeps; AND with a budget smaller than one sleep it answers IN_PROGRESS at once (the Wait loop goes on)."""
    lineage = FakeLineage(notes())
    lineage.stages["prod"] = replace(lineage.stages["prod"], removing={"execution": "x"})
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    cloud = FakeCloud(lineage.log, ["DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS", None])
    teardown = Teardown(lineage, cloud, clock=lambda: now[0], sleep=sleep)
    assert teardown.check_stack("notes", "prod", 1, follow_s=5.0)["status"] == "GONE"
    assert slept == [0.2, 0.2] and cloud.statuses == []
    cloud.statuses = ["DELETE_IN_PROGRESS", None]
    assert teardown.check_stack("notes", "prod", 1, follow_s=0.1)["status"] == "IN_PROGRESS"
    assert slept == [0.2, 0.2] and cloud.statuses == [None]


def test_given_branch_previews_when_branches_are_pushed_then_each_gets_a_stage_until_the_limit():
    """GIVEN branch previews with limit 1 WHEN branches are pushed and one deleted THEN one preview is made, the next refused with why, and the deleted branch's removal recorded then started."""
    lineage = FakeLineage(notes())
    changes = StageChanges(lineage, FakeExecutions(lineage), NoStacks(), MACHINE, "sprout")
    previews = Previews(lineage, changes)
    previews.put("notes", {"branches": {"enabled": True, "pattern": "feature/*"}, "limit": 1}, "alice")
    made = previews.ensure_branch("notes", "feature/a")
    assert made[0]["created"] and made[0]["stage"].startswith("feature-a-")
    assert previews.ensure_branch("notes", "main") == []  # dev follows it: no preview
    assert previews.ensure_branch("notes", "other") == []  # does not match
    refused = previews.ensure_branch("notes", "feature/b")
    assert refused[0]["created"] is False and "limit" in refused[0]["reason"]
    # WHEN feature/a is deleted THEN its preview's removal is recorded, then started
    removed = previews.branch_deleted("notes", "feature/a", "bob")
    assert removed[0]["stage"] == made[0]["stage"] and lineage.log[-2:] == [
        f"record removal {made[0]['stage']}", f"start ['{made[0]['stage']}']"]
    assert isinstance(lineage.app.stages[-1].preview, Preview)
