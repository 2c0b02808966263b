"""Settings and secrets per stage (issue 22), on the local cloud with IAM enforced, with the
greeter example: its GreetFunction answers in the stage's Language (a setting) to callers that send
the stage's ApiKey (a secret read at run time with Powertools' parameters, cached 2 s).

Shown: a value per stage; a rotation seen without a deploy; a settings change shown in the change
set (old → new) and applied by a redeploy of kind config, rolled back like any other; and the
secrets' values absent from the stacks' templates and parameters, the functions' configuration,
every log group, the lineage table, the Step Functions histories and every API answer."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from sprout.cli.client import ApiError
from sprout.domain.template import dump_template, load_template
from tests.integration.sprout.conftest import registered_app, wait_for


def greet(url: str, key: str | None) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/greet", headers={"x-api-key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Recorder:
    """Every API answer the test saw, to scan them all."""

    def __init__(self, api: Any):
        self.api = api
        self.answers: list[Any] = []

    def __call__(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        try:
            answer = self.api.request(method, path, body, query)
        except ApiError as e:
            self.answers.append(e.body)
            raise
        self.answers.append(answer)
        return answer


def deployment_settled(call, app: str, stage: str, deployment: str) -> dict:
    def ended():
        d = call("GET", f"/apps/{app}/stages/{stage}/deployments/{deployment}")
        return d if d["status"] in ("SUCCEEDED", "FAILED") and not call("GET", f"/apps/{app}/stages/{stage}").get("lock") else None
    return wait_for(f"deployment {deployment} of {stage}", ended, timeout=180)


def console_pages(api: Any, app: str) -> dict[str, str]:
    """Every page of the console (``sprout console``, a client of the API) about the app: rendered
    in process through its WSGI handler, as a browser would get them."""
    from sprout.console import pages  # noqa: F401 - registers the routes
    from sprout.console.server import Console

    console = Console(api, port=1)
    paths = ["/", f"/apps/{app}", f"/apps/{app}/builds/1"]
    for stage in ("dev", "prod"):
        paths += [f"/apps/{app}/stages/{stage}", f"/apps/{app}/stages/{stage}/deployments",
                  f"/apps/{app}/stages/{stage}/promote?build=1", f"/apps/{app}/stages/{stage}/rollback",
                  f"/apps/{app}/stages/{stage}/functions/GreetFunction"]
        for d in api.request("GET", f"/apps/{app}/stages/{stage}/deployments")["deployments"]:
            paths.append(f"/apps/{app}/stages/{stage}/deployments/{d['id']}")
    found = {}
    for path in paths:
        route, _, query = path.partition("?")
        response = console.handle({"REQUEST_METHOD": "GET", "PATH_INFO": route, "QUERY_STRING": query,
                                   "HTTP_HOST": "127.0.0.1:1"})
        assert response.status < 500, (path, response.body[:300])
        found[f"console {path}"] = response.body.decode("utf-8", "replace")
    return found


def everything_text(cloud, app: str) -> dict[str, str]:
    """Where a secret's value must never be: each place's whole text."""
    cfn, lam, logs = cloud.client("cloudformation"), cloud.client("lambda"), cloud.client("logs")
    places: dict[str, str] = {}
    for stage in ("dev", "prod"):
        stack = f"{app}-{stage}"
        places[f"{stack} template"] = json.dumps(cfn.get_template(StackName=stack)["TemplateBody"], default=str)
        places[f"{stack} stack"] = json.dumps(cfn.describe_stacks(StackName=stack)["Stacks"], default=str)
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]:
            if r["ResourceType"] == "AWS::Lambda::Function":
                for v in lam.list_versions_by_function(FunctionName=r["PhysicalResourceId"])["Versions"]:
                    places[f"{v['FunctionArn']} configuration"] = json.dumps(v, default=str)
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            texts = []
            for events in logs.get_paginator("filter_log_events").paginate(logGroupName=group["logGroupName"]):
                texts += [e["message"] for e in events["events"]]
            places[f"log group {group['logGroupName']}"] = "\n".join(texts)
    ddb = cloud.client("dynamodb")
    items = [i for page in ddb.get_paginator("scan").paginate(TableName=cloud.sprout["TableName"]) for i in page["Items"]]
    places["lineage table"] = json.dumps(items, default=str)
    sfn = cloud.client("stepfunctions")
    for machine in ("BuildStateMachineArn", "DeployStateMachineArn", "PromoteStateMachineArn", "RollbackStateMachineArn"):
        for e in sfn.list_executions(stateMachineArn=cloud.sprout[machine])["executions"]:
            history = sfn.get_execution_history(executionArn=e["executionArn"], maxResults=1000)["events"]
            places[f"history {e['executionArn']}"] = json.dumps(history, default=str)
    return places


def test_given_settings_and_secrets_per_stage_then_each_stage_sees_its_own_and_no_value_leaks(cloud, api, greeter_app):
    app = greeter_app.name
    call = Recorder(api)
    keys = {"dev": f"dev-key-{uuid.uuid4().hex}", "prod": f"prod-key-{uuid.uuid4().hex}",
            "rotated": f"rotated-key-{uuid.uuid4().hex}"}
    # GIVEN a setting and a secret per stage (Colour: a setting the template does not declare)
    call("PUT", f"/apps/{app}/stages/dev/settings", {"values": {"Language": "fr"}})
    call("PUT", f"/apps/{app}/stages/prod/settings", {"values": {"Language": "ko", "Colour": "red"}})
    for stage in ("dev", "prod"):
        stored = call("PUT", f"/apps/{app}/stages/{stage}/secrets/ApiKey", {"value": keys[stage]})
        assert stored["version"] == 1 and stored["path"] == f"/sprout/{app}/{stage}/ApiKey"
    listed = call("GET", f"/apps/{app}/stages/prod/secrets")["secrets"]
    assert [(s["name"], s["version"], bool(s["by"]), bool(s["at"])) for s in listed] == [("ApiKey", 1, True, True)]

    # (the greeter's GreetFunction alone, with its own dependency set: the other functions' sets are
    # test_dependency_builds' to build first)
    template = load_template((greeter_app.work / "template.yaml").read_text())
    for other in ("HelloFunction", "WhenFunction", "FormatsLayer"):
        del template["Resources"][other]
    (greeter_app.work / "template.yaml").write_text(dump_template(template))
    with (greeter_app.work / "greet" / "requirements.txt").open("a") as f:
        f.write("# the settings story's own dependency set\n")
    # WHEN the app is pushed (dev deploys) and promoted to prod after its change set
    greeter_app.commit_and_push("greeter with a setting and a secret")
    assert greeter_app.wait_build(1, "dev", timeout=300)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    changes = call("GET", f"/apps/{app}/stages/prod/changeset", query={"build": "1"})
    config = changes["configuration"]
    assert {"key": "Language", "source": "setting", "before": None, "after": "ko"} in config["changes"]
    assert {"key": "ApiKey", "source": "secret", "before": None, "after": f"/sprout/{app}/prod/ApiKey"} in config["changes"]
    assert config["unused"] == ["Colour"] and config["missing"] == []
    started = call("POST", f"/apps/{app}/stages/prod/promote", {"build": 1, "changesetId": changes["changesetId"]})
    assert deployment_settled(call, app, "prod", started["deployment"])["status"] == "SUCCEEDED"

    # THEN each stage answers in its language to its own key only
    dev, prod = greeter_app.stage_url("dev"), greeter_app.stage_url("prod")
    assert greet(dev, keys["dev"]) == (200, {"greeting": "Bonjour", "language": "fr"})
    assert greet(prod, keys["prod"]) == (200, {"greeting": "안녕하세요", "language": "ko"})
    assert greet(dev, keys["prod"])[0] == 403 and greet(prod, keys["dev"])[0] == 403 and greet(prod, None)[0] == 403

    # WHEN dev's key is rotated THEN dev takes the new key within its cache age, without a deploy
    deployments = call("GET", f"/apps/{app}/stages/dev/deployments")["deployments"]
    assert call("PUT", f"/apps/{app}/stages/dev/secrets/ApiKey", {"value": keys["rotated"]})["version"] == 2
    wait_for("dev to take the rotated key", lambda: greet(dev, keys["rotated"])[0] == 200, timeout=30)
    assert greet(dev, keys["dev"])[0] == 403
    assert call("GET", f"/apps/{app}/stages/dev/deployments")["deployments"] == deployments

    # WHEN dev's language changes THEN dev's change set of the build it runs shows fr → de
    call("PUT", f"/apps/{app}/stages/dev/settings", {"values": {"Language": "de"}})
    again = call("GET", f"/apps/{app}/stages/dev/changeset", query={"build": "1"})
    assert again["configuration"]["changes"] == [{"key": "Language", "source": "setting", "before": "fr", "after": "de"}]
    assert greet(dev, keys["rotated"])[1]["language"] == "fr"  # not applied until a redeploy
    # AND a redeploy applies it as a deployment of kind config
    redeploy = call("POST", f"/apps/{app}/stages/dev/redeploy", {})
    done = deployment_settled(call, app, "dev", redeploy["deployment"])
    assert (done["kind"], done["status"]) == ("config", "SUCCEEDED"), done
    assert greet(dev, keys["rotated"]) == (200, {"greeting": "Hallo", "language": "de"})
    # AND a rollback undoes it like any other deployment
    back = call("POST", f"/apps/{app}/stages/dev/rollback", {})
    assert deployment_settled(call, app, "dev", back["deployment"])["status"] == "SUCCEEDED"
    assert greet(dev, keys["rotated"])[1]["language"] == "fr"

    # AND no secret's value is anywhere but Parameter Store
    call("GET", f"/apps/{app}/stages/dev/settings")
    call("GET", f"/apps/{app}/stages/dev/secrets")
    call("GET", f"/apps/{app}/builds/1")
    call("GET", f"/apps/{app}/stages/prod")
    places = everything_text(cloud, app) | console_pages(api, app)
    places["API answers"] = json.dumps(call.answers, default=str, ensure_ascii=False)
    assert any("ApiKey" in text for text in places.values())  # the scan reads real text
    for value in keys.values():
        leaks = [where for where, text in places.items() if value in text]
        assert not leaks, leaks


def test_given_bad_settings_and_secrets_then_400_naming_the_field_and_nothing_written(cloud, api, notes_app):
    """GIVEN a registered app WHEN settings and secrets are sent with a bad name, a 5 KB value, an
    empty one, one with a newline, a secret named like a setting, for a stage that does not exist
    THEN each is refused naming the field (404 for the stage), no answer echoes the value, and no
    secret was written"""
    app = notes_app.name
    api.request("PUT", f"/apps/{app}/stages/dev/settings", {"values": {"LogLevel": "INFO"}})
    value = f"never-echoed-{uuid.uuid4().hex}"
    cases = [
        ("PUT", "dev/secrets/Bad-Name", {"value": value}, 400, "name"),
        ("PUT", "dev/secrets/ApiKey", {"value": value + "x" * 5000}, 400, "value"),
        ("PUT", "dev/secrets/ApiKey", {"value": ""}, 400, "value"),
        ("PUT", "dev/secrets/ApiKey", {"value": value + "\nsecond line"}, 400, "value"),
        ("PUT", "dev/secrets/LogLevel", {"value": value}, 400, "name"),
        ("PUT", "dev/secrets/ApiKey", {"valeu": value}, 400, "valeu"),
        ("PUT", "qa/secrets/ApiKey", {"value": value}, 404, None),
        ("PUT", "dev/settings", {"values": {"Level": value, "bad-key": "x"}}, 400, "values.bad-key"),
        ("PUT", "dev/settings", {"values": {"Level": value + "\n"}}, 400, "values.Level"),
        ("PUT", "qa/settings", {"values": {"Level": "x"}}, 404, None),
        ("DELETE", "dev/secrets/Nothing", None, 404, "name"),
    ]
    for method, path, body, status, field in cases:
        with pytest.raises(ApiError) as e:
            api.request(method, f"/apps/{app}/stages/{path}", body)
        assert e.value.status == status, (path, e.value.body)
        if field:
            assert e.value.body.get("field") == field, (path, e.value.body)
        assert value not in json.dumps(e.value.body), (path, e.value.body)
    assert api.request("GET", f"/apps/{app}/stages/dev/secrets")["secrets"] == []
    assert api.request("GET", f"/apps/{app}/stages/dev/settings")["values"] == {"LogLevel": "INFO"}
    names = cloud.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [f"/sprout/{app}"]}])["Parameters"]
    assert names == []


PLAIN = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  DatabaseUrl: {Type: String}
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Runtime: python3.13
      Environment: {Variables: {DATABASE_URL: !Ref DatabaseUrl}}
"""


def test_given_a_parameter_without_default_or_value_then_the_deploy_fails_naming_it(cloud, api, uid, tmp_path):
    """GIVEN an app whose template declares DatabaseUrl without a Default, and dev with only an
    undeclared setting WHEN it is pushed THEN dev's deployment fails naming DatabaseUrl;
    WHEN DatabaseUrl is set and it is pushed again THEN it deploys, the function holds the value,
    and the deployment notes the unused setting"""
    source = tmp_path / "plain-source"
    (source / "echo").mkdir(parents=True)
    (source / "echo" / "app.py").write_text("import os\n\ndef handler(event, context):\n    return os.environ['DATABASE_URL']\n")
    (source / "template.yaml").write_text(PLAIN)
    app = registered_app(cloud, api, f"plain-{uid}", source, tmp_path)
    api.request("PUT", f"/apps/{app.name}/stages/dev/settings", {"values": {"Colour": "red"}})
    app.commit_and_push("a required parameter")
    failed = app.wait_build(1, "dev", timeout=180)["deployedTo"]["dev"]
    assert failed["status"] == "FAILED" and "DatabaseUrl" in failed["error"], failed

    api.request("PUT", f"/apps/{app.name}/stages/dev/settings", {"values": {"DatabaseUrl": "postgres://dev"}})
    (app.work / "README.md").write_text("set\n")
    app.commit_and_push("again")
    deployed = app.wait_build(2, "dev", timeout=180)["deployedTo"]["dev"]
    assert deployed["status"] == "SUCCEEDED", deployed
    shown = api.request("GET", f"/apps/{app.name}/stages/dev/deployments/{deployed['id']}")
    assert any("Colour" in note for note in shown["notes"]), shown
    fn = next(r["PhysicalResourceId"] for r in cloud.client("cloudformation").describe_stack_resources(
        StackName=f"{app.name}-dev")["StackResources"] if r["ResourceType"] == "AWS::Lambda::Function")
    answer = cloud.client("lambda").invoke(FunctionName=f"{fn}:live")
    assert json.loads(answer["Payload"].read()) == "postgres://dev"
