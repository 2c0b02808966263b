"""The pipeline's changes and the previews' names: pure rules (sprout.domain.stages, .previews)."""

from __future__ import annotations

import re

import pytest

from sprout.domain.errors import Conflict, InvalidInput
from sprout.domain.model import Preview, StageSpec
from sprout.domain.previews import (
    PreviewSettings,
    branch_slug,
    branch_wants_preview,
    glob_matches,
    over_limit,
    pull_request_stage,
    settings_from_api,
)
from sprout.domain.stages import MAX_DELETE_ATTEMPTS, insert_stage, pipeline_order, stack_state

SLUG = re.compile(r"[a-z][a-z0-9-]{0,23}")
PIPELINE = (StageSpec("dev", "main", True), StageSpec("prod"),
            StageSpec("feature-x", "feature/x", True, Preview("branch", "feature/x")))


def test_a_new_stage_goes_before_the_previews_or_after_the_stage_named():
    """GIVEN dev, prod and a preview WHEN stages are added THEN they land before the previews, or after `after`."""
    assert [s.name for s in insert_stage(PIPELINE, StageSpec("qa"), None)] == ["dev", "prod", "qa", "feature-x"]
    assert [s.name for s in insert_stage(PIPELINE, StageSpec("qa"), "dev")] == ["dev", "qa", "prod", "feature-x"]
    preview = StageSpec("b", "b", True, Preview("branch", "b"))
    assert [s.name for s in insert_stage(PIPELINE, preview, None)][-1] == "b"


@pytest.mark.parametrize("spec, after, field", [
    (StageSpec("Prod!"), None, "name"),
    (StageSpec("qa", None, True), None, "autoDeploy"),
    (StageSpec("qa"), "nope", "after"),
    (StageSpec("qa"), "feature-x", "after"),
])
def test_a_bad_stage_is_refused_naming_the_field(spec, after, field):
    """GIVEN a bad name, auto-deploy without a branch, an unknown or preview `after` WHEN added THEN 400 naming it."""
    with pytest.raises(InvalidInput) as e:
        insert_stage(PIPELINE, spec, after)
    assert e.value.field == field


def test_a_stage_name_taken_is_a_conflict():
    """GIVEN a stage prod WHEN another prod is added THEN 409."""
    with pytest.raises(Conflict):
        insert_stage(PIPELINE, StageSpec("prod"), None)


def test_previews_come_after_the_pipeline():
    """GIVEN a preview stored among the stages WHEN ordered THEN it comes last."""
    mixed = (PIPELINE[2], PIPELINE[0], PIPELINE[1])
    assert [s.name for s in pipeline_order(mixed)] == ["dev", "prod", "feature-x"]


@pytest.mark.parametrize("branch", [
    "feature/login", "Feature/LOGIN", "x" * 200, "a;rm -rf /;", "../../prod", "prod", "pr-7", "123", "///", "é-ü",
    "main\nInjected: yes", "stack-name-with--dashes--",
])
def test_every_branch_slugs_to_a_safe_stage_name(branch):
    """GIVEN an attacker-written branch name WHEN slugged THEN lowercase a-z0-9-, at most 24, never prod nor pr-N."""
    slug = branch_slug(branch, {"dev", "prod"})
    assert SLUG.fullmatch(slug), slug
    assert slug != "prod" and not re.fullmatch(r"pr-[0-9]+", slug)
    assert branch_slug(branch, {"dev", "prod"}) == slug  # stable


def test_two_branches_that_would_collide_get_different_names():
    """GIVEN Feature/A and feature-a WHEN slugged THEN two names, and a taken name gets a hash suffix."""
    first = branch_slug("feature-a")
    assert first == "feature-a"
    assert branch_slug("Feature/A") != first
    assert branch_slug("feature-a", {"feature-a"}) != "feature-a"
    assert branch_slug("x" * 30) != branch_slug("x" * 31)


def test_glob_star_stays_in_its_segment():
    """GIVEN feature/* WHEN branches are matched THEN one segment matches, two need **."""
    assert glob_matches("feature/*", "feature/login")
    assert not glob_matches("feature/*", "feature/a/b")
    assert glob_matches("feature/**", "feature/a/b")
    assert not glob_matches("feature/*", "main")


def test_a_followed_branch_gets_no_preview_and_the_limit_holds():
    """GIVEN previews on WHEN main (followed) or a match past the limit is pushed THEN no preview, with a reason."""
    settings = PreviewSettings(branches_enabled=True, pattern="*", limit=1)
    assert not branch_wants_preview(settings, "main", followed=True)
    assert branch_wants_preview(settings, "topic", followed=False)
    assert over_limit(settings, 1) and over_limit(settings, 0) is None


def test_preview_settings_name_the_bad_field():
    """GIVEN bad settings WHEN parsed THEN 400 naming inheritFrom, limit, branches.pattern."""
    for body, field in [({"inheritFrom": "nope"}, "inheritFrom"), ({"limit": 99}, "limit"),
                        ({"branches": {"pattern": "a\nb"}}, "branches.pattern")]:
        with pytest.raises(InvalidInput) as e:
            settings_from_api(body, ["dev"])
        assert e.value.field == field
    with pytest.raises(InvalidInput):
        pull_request_stage("1; drop")
    assert pull_request_stage("12") == "pr-12"


def test_a_stack_stuck_in_delete_failed_backs_off_then_gives_up():
    """GIVEN DELETE_FAILED WHEN judged per attempt THEN a growing wait, and give-up at the last attempt."""
    waits = [stack_state("DELETE_FAILED", n).backoff_s for n in range(1, MAX_DELETE_ATTEMPTS + 1)]
    assert waits == sorted(waits) and waits[0] < waits[-1]
    assert stack_state("DELETE_FAILED", MAX_DELETE_ATTEMPTS).view()["giveUp"]
    assert stack_state(None, 1).status == "GONE" and stack_state("DELETE_COMPLETE", 1).status == "GONE"
    assert stack_state("DELETE_IN_PROGRESS", 1).status == "IN_PROGRESS"


def test_the_sweep_restarts_a_removal_whose_execution_ended_or_is_lost_after_the_grace():
    """GIVEN removals running, ended, unknown-and-recent, unknown-and-old WHEN judged THEN only ended and old restart."""
    from datetime import UTC, datetime, timedelta

    from sprout.domain.stages import START_GRACE, sweep_restarts

    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    recent = {"requestedAt": (now - START_GRACE / 2).isoformat()}
    old = {"requestedAt": (now - START_GRACE - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")}
    assert not sweep_restarts(recent, True, now) and sweep_restarts(recent, False, now)
    assert not sweep_restarts(recent, None, now) and sweep_restarts(old, None, now) and sweep_restarts({}, None, now)
