"""Previews inherit settings (issue 22 item 3, issue 21): a preview's deploy gets its own settings
over those of the app's ``inheritFrom`` stage, that stage's secrets only when it is not the last of
the pipeline (prod's never reach a preview: the change set names what the preview lacks), and a
preview is never promoted to nor watched by auto-rollback. Rules and use cases on in-memory fakes."""

from __future__ import annotations

import pytest

from sprout.domain import settings_values as rules
from sprout.domain.model import App, Preview, StageSpec
from sprout.domain.previews import PreviewRefused, PreviewSettings, refuse_for_preview, settings_inheritance
from sprout.domain.settings_values import Inheritance, SecretMeta, StageSettings
from sprout.services.delivery import Delivery
from sprout.services.stage_settings import StageSettingsService, deploy_parameters
from tests.unit.sprout.services.fakes import (
    MACHINE,
    FakeExecutions,
    FakeLineage,
    FakeRepositories,
    FakeTemplates,
)
from tests.unit.sprout.test_stage_settings import MemorySecrets, MemorySettings

META = SecretMeta(1, "alice", "2026-12-07T00:00:00.000Z")
APP = App("greeter", "greeter-repo", stages=(
    StageSpec("dev", "main", True), StageSpec("staging"), StageSpec("prod"),
    StageSpec("pr-1", "feature/x", True, Preview("pullRequest", "feature/x", "2026-12-07T00:00:00.000Z", "1")),
))
TEMPLATE = {"Parameters": {"Stage": {"Type": "String"}, "Language": {"Type": "String"},
                           "LogLevel": {"Type": "String", "Default": "INFO"}, "ApiKey": {"Type": "String"}},
            "Resources": {}}


def previews(inherit_from: str | None) -> PreviewSettings:
    return PreviewSettings(pull_requests_enabled=True, inherit_from=inherit_from)


class Parents:
    def __init__(self, settings: PreviewSettings | None):
        self.settings = settings

    def settings_inheritance(self, app: str, stage: str) -> Inheritance | None:
        return settings_inheritance(APP, stage, self.settings)


@pytest.fixture
def store() -> MemorySettings:
    store = MemorySettings()
    for stage, language in (("dev", "fr"), ("staging", "de"), ("prod", "en")):
        store.items[("greeter", stage)] = StageSettings({"Language": language, "LogLevel": "DEBUG"}, {"ApiKey": META}, 1)
    return store


def test_given_previews_inheriting_when_asked_per_stage_then_only_a_preview_inherits_and_secrets_not_from_the_last():
    """GIVEN previews that inherit from dev, staging or prod WHEN each stage's inheritance is asked
    THEN only the preview inherits; secrets come from dev and staging, never from prod (the last
    stage); a removed or absent ``inheritFrom`` gives nothing."""
    assert settings_inheritance(APP, "pr-1", previews("dev")) == Inheritance("dev", secrets=True)
    assert settings_inheritance(APP, "pr-1", previews("staging")) == Inheritance("staging", secrets=True)
    assert settings_inheritance(APP, "pr-1", previews("prod")) == Inheritance("prod", secrets=False)
    assert settings_inheritance(APP, "dev", previews("dev")) is None
    assert settings_inheritance(APP, "pr-1", previews(None)) is None
    assert settings_inheritance(APP, "pr-1", previews("gone")) is None
    assert settings_inheritance(APP, "pr-1", None) is None


def test_given_own_and_parent_settings_then_own_keys_win_and_a_parent_secret_keeps_its_path():
    """GIVEN a preview with its own LogLevel and its own secret Token, and a parent with Language,
    LogLevel and the secret ApiKey WHEN merged THEN its own keys win, Language and ApiKey are
    inherited (ApiKey at the parent's path), and nothing of the parent's secrets when not allowed."""
    own = StageSettings({"LogLevel": "WARN"}, {"Token": META})
    parent = StageSettings({"Language": "fr", "LogLevel": "DEBUG", "Token": "shadowed"}, {"ApiKey": META})
    got = rules.effective("pr-1", own, parent, Inheritance("dev", secrets=True))
    assert got.values == {"LogLevel": "WARN", "Language": "fr"}
    assert got.secrets == {"Token": "pr-1", "ApiKey": "dev"}
    assert got.inherited == {"Language": "dev", "ApiKey": "dev"}
    assert rules.effective("pr-1", own, parent, Inheritance("prod", secrets=False)).secrets == {"Token": "pr-1"}


def test_given_a_preview_inheriting_from_dev_when_deployed_then_dev_settings_and_dev_secret_path(store):
    """GIVEN previews inheriting from dev WHEN pr-1's deploy parameters are resolved THEN Language
    is dev's, ApiKey is the path of dev's secret (never a value), Stage is pr-1's; dev itself is
    unaffected by the preview."""
    resolved = deploy_parameters(store, "greeter", "pr-1", TEMPLATE, Parents(previews("dev")))
    assert resolved.parameters == {"Stage": "pr-1", "Language": "fr", "LogLevel": "DEBUG",
                                   "ApiKey": "/sprout/greeter/dev/ApiKey"}
    assert resolved.missing == [] and resolved.failure() is None
    assert deploy_parameters(store, "greeter", "dev", TEMPLATE, Parents(previews("dev"))).parameters["ApiKey"] == \
        "/sprout/greeter/dev/ApiKey"


def test_given_a_preview_inheriting_from_prod_when_deployed_then_settings_come_and_the_missing_secret_is_named(store):
    """GIVEN previews inheriting from prod (the last stage) WHEN pr-1's parameters and change set
    configuration are resolved THEN prod's settings come, its secret does not: the deploy fails
    naming ApiKey, and once pr-1 has its own ApiKey it resolves to pr-1's path."""
    parents = Parents(previews("prod"))
    resolved = deploy_parameters(store, "greeter", "pr-1", TEMPLATE, parents)
    assert resolved.parameters["Language"] == "en" and "ApiKey" not in resolved.parameters
    assert resolved.missing == ["ApiKey"] and "ApiKey" in (resolved.failure() or "")
    service = StageSettingsService(store, MemorySecrets(), FakeLineage(APP), lambda: "now", None, parents)
    assert service.configuration("greeter", "pr-1", TEMPLATE, None)["missing"] == ["ApiKey"]
    store.items[("greeter", "pr-1")] = StageSettings({}, {"ApiKey": META}, 1)
    assert deploy_parameters(store, "greeter", "pr-1", TEMPLATE, parents).parameters["ApiKey"] == \
        "/sprout/greeter/pr-1/ApiKey"


def test_given_a_preview_when_its_settings_are_read_then_what_it_inherits_is_shown_without_values_of_secrets(store):
    """GIVEN previews inheriting from staging WHEN GET pr-1's settings THEN its own values are
    empty and ``inherited`` names staging, its values and its secrets' names (no secret value)."""
    service = StageSettingsService(store, MemorySecrets(), FakeLineage(APP), lambda: "now", None,
                                   Parents(previews("staging")))
    view = service.get_settings("greeter", "pr-1")
    assert view["values"] == {}
    assert view["inherited"] == {"from": "staging", "secrets": True,
                                 "values": {"Language": "de", "LogLevel": "DEBUG"}, "secretNames": ["ApiKey"]}
    assert "inherited" not in service.get_settings("greeter", "dev")


def test_given_a_preview_when_promoted_to_or_watched_then_refused_and_nothing_starts():
    """GIVEN pr-1, a preview WHEN a build is promoted to it THEN PreviewRefused (409) names the stage
    and no execution starts; the same rule refuses auto-rollback on it, and lets prod be."""
    lineage, executions = FakeLineage(APP), FakeExecutions()
    delivery = Delivery(lineage, FakeTemplates(), executions, FakeRepositories(),
                        promote_machine=MACHINE.format("promote"), rollback_machine=MACHINE.format("rollback"))
    with pytest.raises(PreviewRefused, match="pr-1"):
        delivery.promote("greeter", "pr-1", None, None, False, "alice")
    assert executions.started == []
    with pytest.raises(PreviewRefused, match="rolled back"):
        refuse_for_preview(APP, "pr-1", "previews are never rolled back automatically")
    refuse_for_preview(APP, "prod", "previews are never rolled back automatically")
