"""Monitoring a stage through Sprout's API, on the local cloud with the notes app deployed on dev
(one deployment of build 1, then one push of a broken `create`): access logs turned on in one
call, read with a status filter and pages; API metrics with percentiles; the failing function's
logs and Lambda metrics; bad input. The tests of this module run in order, on one app."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from sprout.cli.client import ApiError, SproutClient
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app, wait_for

BROKEN = "gibberish.what\n"


@pytest.fixture(scope="module")
def notes(cloud, api, tmp_path_factory) -> AppRepo:
    """The notes app registered, pushed and deployed on dev (build 1)."""
    repo = registered_app(cloud, api, f"notes-mon-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("mon"))
    repo.commit_and_push("The notes app")
    assert repo.wait_build(1)["status"] == "SUCCEEDED"
    return repo


def stage_path(notes: AppRepo, rest: str = "", stage: str = "dev") -> str:
    return f"/apps/{notes.name}/stages/{stage}{rest}"


def error_of(call) -> ApiError:
    with pytest.raises(ApiError) as e:
        call()
    return e.value


def access_log_groups(cloud, api_id: str) -> list[str]:
    found = cloud.client("logs").describe_log_groups(logGroupNamePrefix=f"API-Gateway-Access-Logs_{api_id}")
    return [g["logGroupName"] for g in found["logGroups"]]


def test_given_a_deployed_stage_when_access_logs_are_enabled_twice_then_the_second_call_changes_nothing(notes, api, cloud):
    # WHEN access logs are turned on, twice
    first = api.request("PUT", stage_path(notes, "/access-logs"), {"enabled": True})
    second = api.request("PUT", stage_path(notes, "/access-logs"), {"enabled": True})
    # THEN both answers are the same end state: on, for the stage's one REST API, with a retention
    assert first == second
    assert first["enabled"] is True and first["retentionDays"] == 30
    [entry] = first["apis"]
    assert entry["stage"] == "dev" and entry["logGroup"] == f"API-Gateway-Access-Logs_{entry['apiId']}/dev"
    assert entry["destinationArn"].endswith(f":log-group:{entry['logGroup']}")
    # AND one log group exists, the stage logs into it, and the account's role is Sprout's (or one kept)
    assert access_log_groups(cloud, entry["apiId"]) == [entry["logGroup"]]
    apigw = cloud.client("apigateway")
    settings = apigw.get_stage(restApiId=entry["apiId"], stageName="dev")["accessLogSettings"]
    assert settings["destinationArn"] == entry["destinationArn"] and "$context.requestId" in settings["format"]
    role = apigw.get_account()["cloudwatchRoleArn"]
    assert first["accountRole"]["arn"] == role
    assert first["accountRole"]["kept"] is (role != cloud.sprout["ApiGatewayLoggingRoleArn"])
    # AND the settings read back the same
    assert api.request("GET", stage_path(notes, "/access-logs/settings")) == first


def test_given_access_logs_on_when_requests_succeed_and_then_a_broken_create_is_deployed_then_logging_stays_on_and_502s_appear(
    notes, api
):
    # GIVEN successful requests on build 1 (two creates, a list) and one 404
    app = SproutClient(notes.stage_url("dev"))
    for n in range(2):
        app.request("POST", "/notes", {"content": f"note {n}"})
    app.request("GET", "/notes")
    assert error_of(lambda: app.request("GET", "/notes/does-not-exist")).status == 404
    # WHEN a commit breaking `create`, and changing the API (a new API deployment: the stage is
    # updated by CloudFormation), is pushed and deployed
    logged = api.request("GET", stage_path(notes, "/access-logs/settings"))["apis"][0]
    apigw = notes.cloud.client("apigateway")
    before = apigw.get_stage(restApiId=logged["apiId"], stageName="dev")["deploymentId"]
    create = notes.work / "functions" / "create" / "create.py"
    create.write_text(BROKEN + create.read_text())
    template = notes.work / "template.yaml"
    template.write_text(template.read_text().replace('AllowOrigin: "\'*\'"', 'AllowOrigin: "\'*\'"\n        MaxAge: "\'600\'"', 1))
    notes.commit_and_push("Break create")
    assert notes.wait_build(2)["status"] == "SUCCEEDED"
    # THEN the stage now serves another API deployment, and its access logging is still on
    stage = apigw.get_stage(restApiId=logged["apiId"], stageName="dev")
    assert stage["deploymentId"] != before
    assert stage["accessLogSettings"]["destinationArn"] == logged["destinationArn"]
    assert api.request("GET", stage_path(notes, "/access-logs/settings"))["enabled"] is True
    # AND POST /notes now fails with 502, and those requests are in the access logs with their status
    for _ in range(3):
        assert error_of(lambda: app.request("POST", "/notes", {"content": "boom"})).status == 502
    entries = wait_for(
        "the 502s in the access logs",
        lambda: (e := api.request("GET", stage_path(notes, "/access-logs"), query={"since": "15m", "limit": "100"})["entries"])
        and sum(x["status"] == 502 for x in e) == 3 and e,
        timeout=20,
    )
    statuses = sorted(x["status"] for x in entries)
    assert statuses.count(502) == 3 and 404 in statuses and sum(200 <= s < 300 for s in statuses) >= 3
    assert all(x["httpMethod"] == "POST" and x["resourcePath"] == "/notes" for x in entries if x["status"] == 502)
    assert [x["requestTimeEpoch"] for x in entries] == sorted((x["requestTimeEpoch"] for x in entries), reverse=True)
    # AND status=5xx returns only the 502s, status=404 only the 404
    only_5xx = api.request("GET", stage_path(notes, "/access-logs"), query={"since": "15m", "status": "5xx"})["entries"]
    assert [x["status"] for x in only_5xx] == [502, 502, 502]
    assert [x["status"] for x in api.request("GET", stage_path(notes, "/access-logs"), query={"status": "404"})["entries"]] == [404]


def test_given_logged_requests_when_read_two_at_a_time_then_the_pages_hold_each_entry_once_newest_first(notes, api):
    # GIVEN the access log of the previous test; WHEN read two at a time following nextToken
    whole = api.request("GET", stage_path(notes, "/access-logs"), query={"since": "15m", "limit": "100"})
    pages, token, paged = 0, None, []
    while True:
        page = api.request("GET", stage_path(notes, "/access-logs"), query={"since": "15m", "limit": "2", "nextToken": token})
        paged += page["entries"]
        pages += 1
        token = page["nextToken"]
        if not token:
            break
    # THEN the pages together are the whole list, in the same order, with nothing repeated
    assert whole["nextToken"] is None and len(whole["entries"]) >= 6
    assert [e["requestId"] for e in paged] == [e["requestId"] for e in whole["entries"]]
    assert pages >= 3


def test_given_requests_when_api_metrics_are_read_then_they_count_them_and_give_percentiles(notes, api):
    # WHEN the stage's API metrics of the last 15 minutes are read per minute
    def read():
        answer = api.request("GET", stage_path(notes, "/metrics"), query={"since": "15m", "period": "60"})
        total = {k: sum(p[k] for p in answer["points"]) for k in ("requests", "4xx", "5xx")}
        # 2 creates, 1 list, 1 not found, 3 failed creates
        return answer if total["5xx"] >= 3 and total["4xx"] >= 1 and total["requests"] >= 7 else None

    def show():
        return api.request("GET", stage_path(notes, "/metrics"), query={"since": "15m", "period": "60"})

    answer = wait_for("API metrics counting the requests", read, timeout=20, show=show)
    # THEN requests, 4xx and 5xx are counted, and the latency has an average and percentiles
    assert answer["period"] == 60
    busy = [p for p in answer["points"] if p["requests"]]
    assert busy and all(p["latencyP99"] is not None and p["latencyP99"] >= p["latencyP90"] > 0 for p in busy)


def test_given_the_broken_create_when_its_error_logs_are_read_then_the_name_error_shows_and_successful_lines_do_not(notes, api):
    # WHEN the errors of `create` (a short form) are read
    answer = wait_for(
        "the NameError in create's logs",
        lambda: (a := api.request("GET", stage_path(notes, "/functions/create/logs"), query={"errors": "true", "since": "15m"}))
        and any("gibberish" in e["message"] for e in a["events"]) and a,
        timeout=20,
    )
    # THEN the NameError naming gibberish is there, and no line of a successful invocation is
    assert answer["function"] == "CreateNoteFunction"
    assert any("NameError" in e["message"] and "gibberish" in e["message"] for e in answer["events"])
    assert not any(e["message"].startswith(("START", "END", "REPORT")) for e in answer["events"])
    # AND without errors=true the successful invocations' lines are there too
    everything = api.request("GET", stage_path(notes, "/functions/CreateNoteFunction/logs"), query={"since": "15m", "limit": "500"})
    assert any(e["message"].startswith("START") for e in everything["events"])


def test_given_the_broken_create_when_its_lambda_metrics_are_read_then_errors_are_counted_for_live_and_all(notes, api):
    def read():
        answer = api.request("GET", stage_path(notes, "/functions/create/metrics"), query={"since": "15m"})
        return answer if sum(p["errors"] for p in answer["live"]) >= 3 else None

    answer = wait_for("Lambda metrics counting create's errors", read, timeout=20)
    assert answer["function"] == "CreateNoteFunction"
    for scope in ("live", "all"):
        assert sum(p["invocations"] for p in answer[scope]) >= 5
        assert sum(p["errors"] for p in answer[scope]) >= 3
        assert any(p["durationP99"] is not None for p in answer[scope])


def test_given_a_stage_when_its_functions_are_listed_then_each_has_its_name_and_live_version(notes, api):
    functions = {f["logicalId"]: f for f in api.request("GET", stage_path(notes, "/functions"))["functions"]}
    assert set(functions) >= {"CreateNoteFunction", "GetNoteFunction", "ListNotesFunction"}
    assert functions["CreateNoteFunction"]["version"] == "2" and functions["GetNoteFunction"]["version"] == "1"
    assert all(f["functionName"] for f in functions.values())


@pytest.mark.parametrize(
    "path, query, status, field",
    [
        ("/access-logs", {"since": "yesterday"}, 400, "since"),
        ("/access-logs", {"since": "1h", "until": "2h"}, 400, "since"),
        ("/access-logs", {"status": "6xx"}, 400, "status"),
        ("/access-logs", {"limit": "0"}, 400, "limit"),
        ("/access-logs", {"nextToken": "garbage"}, 400, "nextToken"),
        ("/metrics", {"period": "45"}, 400, "period"),
        ("/functions/note/logs", {}, 400, "fn"),
        ("/functions/nothing/logs", {}, 404, None),
        ("/functions/create/logs", {"errors": "maybe"}, 400, "errors"),
    ],
)
def test_given_bad_input_when_called_then_a_clear_4xx_names_it(notes, api, path, query, status, field):
    e = error_of(lambda: api.request("GET", stage_path(notes, path), query=query))
    assert e.status == status, e.body
    if field:
        assert e.body["field"] == field
    if path.startswith("/functions/note/"):  # the ambiguous short form lists what it matches
        assert "CreateNoteFunction" in e.body["message"] and "GetNoteFunction" in e.body["message"]


def test_given_unknown_or_undeployed_stages_when_called_then_404_and_409_name_them(notes, api):
    missing_app = error_of(lambda: api.request("GET", f"/apps/nope-{uuid.uuid4().hex[:6]}/stages/dev/functions"))
    missing_stage = error_of(lambda: api.request("GET", stage_path(notes, "/metrics", stage="qa")))
    never = error_of(lambda: api.request("PUT", stage_path(notes, "/access-logs", stage="prod"), {"enabled": True}))
    assert (missing_app.status, missing_stage.status, never.status) == (404, 404, 409)
    assert "qa" in missing_stage.body["message"] and "never deployed" in never.body["message"]
    bad_body = error_of(lambda: api.request("PUT", stage_path(notes, "/access-logs"), {"enabled": "yes"}))
    assert (bad_body.status, bad_body.body["field"]) == (400, "enabled")


def test_given_access_logs_on_when_disabled_then_reading_them_is_a_409_and_the_logs_are_kept(notes, api, cloud):
    answer = api.request("PUT", stage_path(notes, "/access-logs"), {"enabled": False})
    assert answer["enabled"] is False and answer["apis"][0]["destinationArn"] is None
    off = error_of(lambda: api.request("GET", stage_path(notes, "/access-logs")))
    assert off.status == 409 and "access-logs enable" in off.body["message"]
    assert access_log_groups(cloud, answer["apis"][0]["apiId"]) == [answer["apis"][0]["logGroup"]]


def _as_role_of(cloud, logical_id: str, service: str):
    """A client acting with the execution role of one of Sprout's functions (as its workers do)."""
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="sprout", LogicalResourceId=logical_id)
    name = resources["StackResources"][0]["PhysicalResourceId"]
    role = cloud.client("lambda").get_function_configuration(FunctionName=name)["Role"]
    c = cloud.client("sts").assume_role(RoleArn=role, RoleSessionName=name)["Credentials"]
    return cloud.client(service, aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])


def test_given_the_monitoring_role_then_it_may_pass_only_the_logging_role_and_write_no_lineage(cloud):
    # GIVEN a role API Gateway could assume, other than Sprout's logging role
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    other = cloud.client("iam").create_role(RoleName=f"other-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    apigw = _as_role_of(cloud, "MonitoringFunction", "apigateway")
    ddb = _as_role_of(cloud, "MonitoringFunction", "dynamodb")
    # WHEN the monitoring function's role sets another role on the account, or writes the lineage
    with pytest.raises(ClientError) as passing:
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": other}])
    with pytest.raises(ClientError) as writing:
        ddb.put_item(TableName=cloud.sprout["TableName"], Item={"pk": {"S": "x"}, "sk": {"S": "y"}})
    # THEN both are refused, naming the action
    assert "iam:PassRole" in str(passing.value) and "dynamodb:PutItem" in str(writing.value)


def test_given_the_api_functions_role_then_it_may_not_read_logs(cloud):
    # logs and metrics reads do not belong on the function that registers apps
    logs = _as_role_of(cloud, "ApiFunction", "logs")
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/aws/lambda/anything")
    assert "logs:FilterLogEvents" in str(e.value)
