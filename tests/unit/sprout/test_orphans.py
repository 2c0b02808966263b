"""The sweep's rule for stacks of stages that no longer exist (sprout.domain.orphans and
StageChanges.sweep_orphans, on in-memory fakes): only this Sprout's tagged stage stacks are
considered, only those whose stage is gone are removed, recorded before the teardown starts."""

from __future__ import annotations

import pytest

from sprout.domain.model import App, Stage, StageSpec
from sprout.domain.orphans import TaggedStack, orphan_reason, stage_of
from sprout.services.stage_changes import StageChanges

from .test_stage_services import MACHINE, FakeExecutions, FakeLineage, NoStacks

ROLE = "arn:aws:iam::123456789012:role/sprout-StackDeployRole-1"


def tagged(name: str, app: str, stage: str, status: str = "UPDATE_COMPLETE", role: str | None = ROLE,
           stack_tag: str | None = None) -> TaggedStack:
    return TaggedStack(name, status, {"sprout:app": app, "sprout:stage": stage,
                                      "sprout:stack": name if stack_tag is None else stack_tag}, role)


@pytest.mark.parametrize(("stack", "expected"), [
    (tagged("notes-pr-7", "notes", "pr-7"), ("notes", "pr-7")),
    (TaggedStack("notes-pr-7", "UPDATE_COMPLETE", {}, ROLE), None),  # untagged: a stranger's
    (TaggedStack("notes-pr-7", "UPDATE_COMPLETE", {"sprout:app": "notes"}, ROLE), None),  # no stage tag
    (tagged("other-name", "notes", "pr-7"), None),  # its name is not the stage's stack name
    (tagged("notes-pr-7", "notes", "pr-7", stack_tag="x"), None),  # sprout:stack does not name it
    (tagged("notes-pr-7", "notes", "pr-7", role="arn:aws:iam::123456789012:role/other-sprout"), None),
    (tagged("notes-pr-7", "notes", "pr-7", role=None), None),  # not deployed with Sprout's role
    (tagged("notes-pr-7", "notes", "pr-7", status="DELETE_IN_PROGRESS"), None),  # already going
    (tagged("notes-pr-7", "notes", "pr-7", status="DELETE_FAILED"), ("notes", "pr-7")),
])
def test_given_a_stack_then_only_this_sprouts_tagged_stage_stacks_are_considered(stack, expected):
    """GIVEN stacks tagged, untagged, misnamed, deployed by another role or already deleting WHEN judged
    THEN only a stack tagged, named and deployed as this Sprout does is one of its stage stacks."""
    assert stage_of(stack, ROLE) == expected


@pytest.mark.parametrize(("presence", "orphan"), [
    ((True, "live", True), False),  # the stage exists
    ((True, "live", False), False),  # being removed (or added a moment ago): its own teardown owns it
    ((True, None, True), False),  # listed by the pipeline: exists even without its item
    ((False, "live", False), False),  # the app's deletion is removing it
    ((True, None, False), True),  # no record at all
    ((True, "removed", False), True),  # removed, and its stack is back
    ((False, None, False), True),  # the app is gone
    ((False, "removed", False), True),
])
def test_given_what_the_lineage_knows_then_a_stack_is_an_orphan_only_when_its_stage_is_gone(presence, orphan):
    """GIVEN the app's and the stage's records WHEN judged THEN the stack is an orphan only when its stage does not exist, with why."""
    reason = orphan_reason(*presence)
    assert (reason is not None) == orphan
    if reason:
        assert reason.startswith("orphan stack: ")


class OrphanLineage(FakeLineage):
    """FakeLineage plus what the sweep asks of orphans: the app may be gone, a stage item may be missing."""

    def __init__(self, app: App):
        super().__init__(app)
        self.claims: dict[str, tuple[str, str]] = {}
        self.others: dict[tuple[str, str], Stage] = {}  # stage items of apps that no longer exist

    def _item(self, app_name, stage):
        return self.stages.get(stage) if app_name == self.app.name else self.others.get((app_name, stage))

    def stage_presence(self, app_name, stage):
        st = self._item(app_name, stage)
        record = None if st is None else ("removed" if st.removed_at else "live")
        live = app_name == self.app.name
        return live, record, live and any(s.name == stage for s in self.app.stages)

    def stack_owner(self, stack):
        return self.claims.get(stack)

    def begin_orphan_removal(self, app_name, stage, intent):
        st = self._item(app_name, stage)
        if st is not None and not st.removed_at:
            return st, False
        recorded = Stage(app_name, stage, removing=dict(intent))
        if app_name == self.app.name:
            self.stages[stage] = recorded
        else:
            self.others[(app_name, stage)] = recorded
        self.log.append(f"record orphan {app_name}/{stage}")
        return recorded, True


class Inventory:
    def __init__(self, stacks: list[TaggedStack]):
        self.stacks = stacks

    def tagged_stacks(self):
        return self.stacks


def test_given_stacks_of_gone_and_live_stages_when_the_sweep_runs_then_only_the_orphans_are_removed_recorded_first():
    """GIVEN a live stage's stack, a stack whose stage item is gone, one whose stage was removed, one of a
    deleted app, one of another Sprout and Sprout's own stack WHEN the sweep looks for orphans THEN the three
    orphans are recorded, then their teardowns start; the others are never touched; AND a second sweep starts nothing more."""
    app = App("notes", "notes", stages=(StageSpec("dev", "main", True), StageSpec("prod")))
    lineage = OrphanLineage(app)
    lineage.stages["old"] = Stage("notes", "old", removed_at="2026-12-01T00:00:00.000Z",
                                  removing={"reason": "asked"})
    stacks = [
        tagged("notes-dev", "notes", "dev"),  # exists
        tagged("notes-pr-3", "notes", "pr-3"),  # no record
        tagged("notes-old", "notes", "old"),  # removed, its stack back
        tagged("ghost-dev", "ghost", "dev"),  # the app is gone
        tagged("notes-pr-4", "notes", "pr-4", role="arn:aws:iam::123456789012:role/other-sprout"),
        TaggedStack("stranger", "CREATE_COMPLETE", {"team": "x"}, ROLE),
        tagged("sprout", "spr", "out", stack_tag="sprout"),  # misnamed anyway; never Sprout's own
    ]
    changes = StageChanges(lineage, FakeExecutions(lineage), NoStacks(), MACHINE, "sprout", Inventory(stacks), ROLE)
    removed = changes.sweep_orphans()
    assert [(r["app"], r["stage"]) for r in removed] == [("notes", "pr-3"), ("notes", "old"), ("ghost", "dev")]
    assert lineage.log == ["record orphan notes/pr-3", "start ['pr-3']", "record orphan notes/old", "start ['old']",
                           "record orphan ghost/dev", "start ['dev']"]
    assert lineage.stages["pr-3"].removing["reason"] == "orphan stack: its stage has no record"
    assert lineage.stages["pr-3"].removing["execution"] == removed[0]["execution"]
    assert removed[2]["reason"] == "orphan stack: its app no longer exists"
    # AND the next sweep finds their removals under way: nothing more starts
    lineage.log.clear()
    assert changes.sweep_orphans() == [] and lineage.log == []


def test_given_an_orphans_stack_name_claimed_by_a_live_stage_then_the_sweep_leaves_it():
    """GIVEN a stack whose tags name a stage with no record, while the lineage's claim on its name is another
    app's live stage WHEN the sweep looks for orphans THEN it is left alone; AND once that claim's stage is
    gone too, it is removed."""
    lineage = OrphanLineage(App("notes", "notes", stages=(StageSpec("dev", "main", True),)))
    lineage.claims["notes-pr-9"] = ("notes", "dev")  # (as if) the stack name were dev's
    changes = StageChanges(lineage, FakeExecutions(lineage), NoStacks(), MACHINE, "sprout",
                           Inventory([tagged("notes-pr-9", "notes", "pr-9")]), ROLE)
    assert changes.sweep_orphans() == [] and lineage.log == []
    lineage.claims["notes-pr-9"] = ("notes", "gone")
    assert [r["stage"] for r in changes.sweep_orphans()] == ["pr-9"]
