"""Per-stage settings and secrets (issue 22): the rules (sprout.domain.settings_values) and the use
cases (sprout.services.stage_settings) against in-memory fakes."""

from __future__ import annotations

from typing import Any

import pytest

from sprout.domain import settings_values as rules
from sprout.domain.app_roles import AppRoles, bound_roles
from sprout.domain.errors import InvalidInput, PackagingError, StageNotFound
from sprout.domain.settings_values import StageSettings
from sprout.services.stage_settings import SecretNotFound, StageSettingsService, deploy_parameters

SECRET = "s3cr3t-Value-0xC0FFEE"


class MemorySettings:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], StageSettings] = {}
        self.moved_once = False  # when True, the next write finds the record moved on

    def read_settings(self, app: str, stage: str) -> StageSettings:
        return self.items.get((app, stage), StageSettings())

    def write_settings(self, app: str, stage: str, settings: StageSettings) -> bool:
        current = self.items.get((app, stage))
        if self.moved_once:
            self.moved_once = False
            self.items[(app, stage)] = StageSettings({**(current.values if current else {}), "Other": "x"},
                                                     current.secrets if current else {}, (settings.version or 0) + 1)
            return False
        if (current.version if current else None) != settings.version:
            return False
        self.items[(app, stage)] = StageSettings(settings.values, settings.secrets, (settings.version or 0) + 1)
        return True


class MemorySecrets:
    def __init__(self) -> None:
        self.values: dict[str, tuple[str, int]] = {}

    def put(self, path: str, value: str) -> int:
        version = self.values.get(path, ("", 0))[1] + 1
        self.values[path] = (value, version)
        return version

    def delete(self, path: str) -> bool:
        return self.values.pop(path, None) is not None

    def versions(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {p.rsplit("/", 1)[-1]: {"version": v, "at": "2026-12-07T00:00:00.000Z"}
                for p, (_, v) in self.values.items() if p.rsplit("/", 1)[0] == prefix}


class Stages:
    def get_stage(self, app: str, stage: str) -> Any:
        if stage not in ("dev", "prod"):
            raise StageNotFound(f"stage {stage} not found", field="stage")
        return stage


@pytest.fixture
def world():
    store, secrets = MemorySettings(), MemorySecrets()
    return store, secrets, StageSettingsService(store, secrets, Stages(), lambda: "2026-12-07T00:00:00.000Z")


def test_merge_sets_and_removes_keys_per_stage(world):
    """GIVEN dev with two settings WHEN a merge sets one, removes another (null) THEN dev holds the
    result and prod is untouched."""
    store, _, service = world
    service.put_settings("greeter", "dev", {"values": {"Language": "fr", "LogLevel": "INFO"}})
    answer = service.put_settings("greeter", "dev", {"values": {"LogLevel": None, "Region": "eu"}})
    assert answer["values"] == {"Language": "fr", "Region": "eu"}
    assert service.get_settings("greeter", "prod")["values"] == {}


def test_merge_retries_when_the_record_moved(world):
    """GIVEN a concurrent writer WHEN a merge finds the record moved THEN it merges again over the
    other writer's keys (none lost)."""
    store, _, service = world
    service.put_settings("greeter", "dev", {"values": {"A": "1"}})
    store.moved_once = True
    assert service.put_settings("greeter", "dev", {"values": {"B": "2"}})["values"] == {"A": "1", "B": "2", "Other": "x"}


@pytest.mark.parametrize("body, field", [
    ({"values": {"bad-name": "x"}}, "values.bad-name"),
    ({"values": {"Stage": "x"}}, "values.Stage"),
    ({"values": {"A": ""}}, "values.A"),
    ({"values": {"A": "two\nlines"}}, "values.A"),
    ({"values": {"A": 3}}, "values.A"),
    ({"values": {"A": "x" * 4097}}, "values.A"),
    ({"values": ["A"]}, "values"),
    ({}, "values"),
    ({"values": {}, "extra": 1}, "extra"),
])
def test_bad_settings_are_refused_whole(world, body, field):
    """GIVEN a stage with a setting WHEN a merge holds one bad key or value THEN 400 naming it and
    nothing of the merge is written."""
    store, _, service = world
    service.put_settings("greeter", "dev", {"values": {"Keep": "me"}})
    with pytest.raises(InvalidInput) as e:
        service.put_settings("greeter", "dev", {**body, **({"values": {**body["values"], "New": "v"}} if isinstance(body.get("values"), dict) else {})})
    assert e.value.field == field
    assert service.get_settings("greeter", "dev")["values"] == {"Keep": "me"}


def test_settings_of_a_stage_that_does_not_exist(world):
    """GIVEN no stage qa WHEN its settings are set THEN not found naming the stage, nothing written."""
    store, _, service = world
    with pytest.raises(StageNotFound):
        service.put_settings("greeter", "qa", {"values": {"A": "1"}})
    assert store.items == {}


def test_a_secret_is_stored_and_listed_without_its_value(world):
    """GIVEN a secret set twice WHEN the secrets are listed THEN name, path, version 2, who and when,
    and the value appears in no answer."""
    _, secrets, service = world
    first = service.put_secret("greeter", "dev", "ApiKey", {"value": "old-" + SECRET}, "arn:aws:iam::1:user/ana")
    second = service.put_secret("greeter", "dev", "ApiKey", {"value": SECRET}, "arn:aws:iam::1:user/bo")
    listed = service.list_secrets("greeter", "dev")
    assert secrets.values["/sprout/greeter/dev/ApiKey"] == (SECRET, 2)
    assert listed["secrets"] == [{"name": "ApiKey", "path": "/sprout/greeter/dev/ApiKey", "version": 2,
                                  "by": "arn:aws:iam::1:user/bo", "at": "2026-12-07T00:00:00.000Z", "stored": True}]
    assert SECRET not in repr([first, second, listed, service.get_settings("greeter", "dev")])


@pytest.mark.parametrize("name, body, field", [
    ("Api-Key", {"value": SECRET}, "name"),
    ("Stage", {"value": SECRET}, "name"),
    ("ApiKey", {"value": ""}, "value"),
    ("ApiKey", {"value": SECRET + "\n"}, "value"),
    ("ApiKey", {"value": "é" * 2049}, "value"),  # 4098 bytes
    ("ApiKey", {"value": 7}, "value"),
    ("ApiKey", {}, "value"),
    ("ApiKey", {"value": SECRET, "Value": SECRET}, "Value"),
    ("Language", {"value": SECRET}, "name"),  # a setting's name
])
def test_bad_secrets_are_refused_before_parameter_store(world, name, body, field):
    """GIVEN a stage with a setting Language WHEN a bad secret is put THEN 400 naming the field, its
    message without the value, and nothing in Parameter Store."""
    _, secrets, service = world
    service.put_settings("greeter", "dev", {"values": {"Language": "fr"}})
    with pytest.raises(InvalidInput) as e:
        service.put_secret("greeter", "dev", name, body, "me")
    assert e.value.field == field
    assert SECRET not in str(e.value) and "é" not in str(e.value)
    assert secrets.values == {}


def test_a_setting_named_like_a_secret_is_refused(world):
    """GIVEN a secret ApiKey WHEN a setting ApiKey is set THEN 400 naming values.ApiKey."""
    _, _, service = world
    service.put_secret("greeter", "dev", "ApiKey", {"value": SECRET}, "me")
    with pytest.raises(InvalidInput) as e:
        service.put_settings("greeter", "dev", {"values": {"ApiKey": "x"}})
    assert e.value.field == "values.ApiKey"


def test_removing_a_secret(world):
    """GIVEN a secret WHEN it is removed, then removed again THEN it is gone, then 404 naming it."""
    _, secrets, service = world
    service.put_secret("greeter", "dev", "ApiKey", {"value": SECRET}, "me")
    assert service.delete_secret("greeter", "dev", "ApiKey") == {"name": "ApiKey", "deleted": True}
    assert secrets.values == {} and service.list_secrets("greeter", "dev")["secrets"] == []
    with pytest.raises(SecretNotFound):
        service.delete_secret("greeter", "dev", "ApiKey")


DECLARED = {"Stage": {"Type": "String", "Default": "dev"}, "Language": {"Type": "String", "Default": "en"},
            "ApiKey": {"Type": "String"}, "Token": {"Type": "String", "NoEcho": True, "Default": "t"}}


def test_deploy_parameters_pass_settings_and_secret_paths(world):
    """GIVEN settings Language (declared) and Colour (not declared) and a secret ApiKey WHEN a deploy
    resolves the template's parameters THEN Stage is the stage, Language its value, ApiKey the
    secret's path (never its value), Colour unused and nothing missing."""
    store, _, service = world
    service.put_settings("greeter", "prod", {"values": {"Language": "ko", "Colour": "red"}})
    service.put_secret("greeter", "prod", "ApiKey", {"value": SECRET}, "me")
    resolved = deploy_parameters(store, "greeter", "prod", {"Parameters": DECLARED})
    assert resolved.parameters == {"Stage": "prod", "Language": "ko", "ApiKey": "/sprout/greeter/prod/ApiKey"}
    assert resolved.unused == ["Colour"] and resolved.missing == [] and resolved.failure() is None


def test_a_declared_parameter_without_default_or_value_fails_naming_it(world):
    """GIVEN no secret ApiKey WHEN a deploy resolves THEN it fails naming ApiKey."""
    store, _, _ = world
    resolved = deploy_parameters(store, "greeter", "dev", {"Parameters": DECLARED})
    assert resolved.missing == ["ApiKey"]
    assert "ApiKey" in (resolved.failure() or "")


def test_the_configuration_shows_settings_old_to_new_and_masks_no_echo(world):
    """GIVEN a stack running Language=en, Token=**** WHEN settings change Language and Token THEN the
    change set's configuration shows Language en → fr, Token masked, the unused key and nothing
    missing."""
    _, _, service = world
    service.put_settings("greeter", "dev", {"values": {"Language": "fr", "Token": "new-token", "Colour": "red"}})
    service.put_secret("greeter", "dev", "ApiKey", {"value": SECRET}, "me")
    running = {"Stage": "dev", "Language": "en", "Token": "****", "ApiKey": "/sprout/greeter/dev/ApiKey"}
    shown = service.configuration("greeter", "dev", {"Parameters": DECLARED}, running)
    assert shown["changes"] == [
        {"key": "Language", "source": "setting", "before": "en", "after": "fr"},
        {"key": "Token", "source": "setting", "before": "****", "after": "****"},
    ]
    assert shown["unused"] == ["Colour"] and shown["missing"] == [] and shown["error"] is None
    assert "new-token" not in repr(shown) and SECRET not in repr(shown)


def test_package_refuses_sprout_tags():
    """GIVEN a template tagging a function sprout:app (the tag that scopes secrets) WHEN it is
    packaged THEN it is refused naming the tag; other tags pass."""
    roles = AppRoles("arn:aws:iam::1:policy/b", "/sprout/apps/")
    fn = {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "a.b", "Tags": {"team": "x"}}}
    bound_roles({"Resources": {"Fn": fn}}, roles)
    for tags in ({"Sprout:App": "other"}, [{"Key": "sprout:stage", "Value": "prod"}]):
        with pytest.raises(PackagingError, match="sprout:"):
            bound_roles({"Resources": {"Fn": {**fn, "Properties": {"Handler": "a.b", "Tags": tags}}}}, roles)
    with pytest.raises(PackagingError, match="Globals"):
        bound_roles({"Globals": {"Function": {"Tags": {"sprout:app": "x"}}}, "Resources": {}}, roles)


def test_secret_paths():
    """GIVEN an app and stage THEN the path is /sprout/<app>/<stage>/<name>."""
    assert rules.secret_path("notes", "prod", "DbUrl") == "/sprout/notes/prod/DbUrl"


GREETER = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "Language": {"Type": "String", "Default": "en"}},
    "Globals": {"Function": {"Timeout": 10}},
    "Resources": {
        "Greet": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "s3://b/greet.zip", "Environment": {"Variables": {"LANG": {"Ref": "Language"}}}}},
        "When": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "s3://b/when.zip", "Layers": [{"Ref": "Formats"}]}},
        "Formats": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "s3://b/f1.zip"}},
    },
}


def test_a_settings_change_changes_the_version_key_of_the_functions_that_use_it_only():
    """GIVEN a packaged template (each function's AutoPublishCodeSha256 from its SproutVersion
    parameter) WHEN Language changes, then the layer's content THEN Greet's key changes with
    Language and When's with its layer, each keeping its key otherwise; the keys are not shown as
    configuration changes."""
    import copy

    packaged = copy.deepcopy(GREETER)
    rules.add_version_parameters(packaged, "AWS::Serverless::Function")
    assert packaged["Resources"]["Greet"]["Properties"]["AutoPublishCodeSha256"] == {"Ref": "SproutVersionGreet"}
    assert packaged["Parameters"]["SproutVersionWhen"]["Default"] == ""
    en = rules.resolve(packaged, "greeter", "dev", {}, [])
    fr = rules.resolve(packaged, "greeter", "dev", {"Language": "fr"}, [])
    assert en.parameters["SproutVersionGreet"] != fr.parameters["SproutVersionGreet"]
    assert en.parameters["SproutVersionWhen"] == fr.parameters["SproutVersionWhen"]
    assert en.missing == [] and en.unused == []
    layered = copy.deepcopy(packaged)
    layered["Resources"]["Formats"]["Properties"]["ContentUri"] = "s3://b/f2.zip"
    assert rules.resolve(layered, "greeter", "dev", {}, []).parameters["SproutVersionWhen"] != en.parameters["SproutVersionWhen"]
    shown = rules.configuration_changes(fr, en.parameters)
    assert shown == [{"key": "Language", "source": "setting", "before": None, "after": "fr"}]


def test_a_template_without_parameters_or_with_its_own_sha_is_left_alone():
    """GIVEN a template without Parameters, or whose function sets AutoPublishCodeSha256 THEN
    Package adds no version parameter to it."""
    bare = {"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/f.zip"}}}}
    rules.add_version_parameters(bare, "AWS::Serverless::Function")
    assert "Parameters" not in bare and "AutoPublishCodeSha256" not in bare["Resources"]["F"]["Properties"]
    own = {"Parameters": {"A": {"Type": "String"}}, "Resources": {"F": {"Type": "AWS::Serverless::Function",
           "Properties": {"AutoPublishCodeSha256": "abc"}}}}
    rules.add_version_parameters(own, "AWS::Serverless::Function")
    assert list(own["Parameters"]) == ["A"]


def test_a_config_deployment_is_rolled_back_to_the_deployment_before_it():
    """GIVEN build 1 deployed, then redeployed with new settings (kind config, new versions)
    WHEN the rollback target is chosen THEN it is build 1's first deployment; after a plain deploy
    of the same build (same versions) nothing earlier of build 1 is a target"""
    from sprout.domain.errors import NothingToRollBackTo
    from sprout.domain.model import Deployment, DeploymentKind, DeploymentStatus
    from sprout.domain.pipeline import rollback_target

    def d(id_: str, kind: DeploymentKind, versions: dict) -> Deployment:
        return Deployment("greeter", "dev", id_, 1, kind, DeploymentStatus.SUCCEEDED, {}, versions=versions)

    first, config = d("000001", DeploymentKind.DEPLOY, {"Greet": "1"}), d("000002", DeploymentKind.CONFIG, {"Greet": "2"})
    assert rollback_target([config, first], config) == first
    again = d("000002", DeploymentKind.DEPLOY, {"Greet": "1"})
    with pytest.raises(NothingToRollBackTo):
        rollback_target([again, first], again)


def test_given_an_api_change_only_when_version_keys_are_computed_then_the_functions_it_invokes_keep_their_versions():
    """GIVEN a function invoked by an API whose CORS changed between two builds (nothing of the function
    changed) WHEN each build's version keys are computed THEN the function's key is the same (no new version,
    as on AWS), while a change of a value it uses gives it a new one."""
    from sprout.domain.settings_values import version_keys

    def template(max_age: str) -> dict:
        return {
            "Parameters": {"Level": {"Type": "String"}, "SproutVersionGetFn": {"Type": "String", "Default": ""}},
            "Resources": {
                "Api": {"Type": "AWS::Serverless::Api", "Properties": {"Cors": {"AllowOrigin": "'*'", "MaxAge": max_age}}},
                "GetFn": {"Type": "AWS::Serverless::Function", "Properties": {
                    "CodeUri": "s3://b/k", "Environment": {"Variables": {"LEVEL": {"Ref": "Level"}}},
                    "AutoPublishCodeSha256": {"Ref": "SproutVersionGetFn"},
                    "Events": {"Get": {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/", "Method": "get"}}}}},
            },
        }

    assert version_keys(template("'300'"), {"Level": "info"}) == version_keys(template("'600'"), {"Level": "info"})
    assert version_keys(template("'300'"), {"Level": "info"}) != version_keys(template("'300'"), {"Level": "debug"})
