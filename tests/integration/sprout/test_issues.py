"""Issues on the local cloud, with the notes app: build 1 deployed on dev (its function log groups
subscribed), build 2 breaks `create`, the NameError becomes one issue "new in build #2"; resolved,
it regresses when it happens again; a filter named like Sprout's on a group that is not the stage's
forges nothing. The tests of this module run in order, on one app."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from sprout.cli.client import ApiError, SproutClient
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app, wait_for

BROKEN = "gibberish.what\n"


@pytest.fixture(scope="module")
def notes(cloud, api, tmp_path_factory) -> AppRepo:
    """The notes app registered, pushed and deployed on dev (build 1)."""
    repo = registered_app(cloud, api, f"notes-iss-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("iss"))
    repo.commit_and_push("The notes app")
    assert repo.wait_build(1)["status"] == "SUCCEEDED"
    return repo


def issues_path(notes: AppRepo, rest: str = "") -> str:
    return f"/apps/{notes.name}/stages/dev/issues{rest}"


def create_log_group(notes: AppRepo) -> str:
    functions = notes.api.request("GET", f"/apps/{notes.name}/stages/dev/functions")["functions"]
    [create] = [f for f in functions if f["logicalId"] == "CreateNote" or "create" in f["logicalId"].lower()]
    assert create["logGroup"] == f"/aws/lambda/{notes.name}-dev/{create['logicalId']}"  # the name Package gave it
    return create["logGroup"]


def error_of(call) -> ApiError:
    with pytest.raises(ApiError) as e:
        call()
    return e.value


def test_given_a_deployed_stage_then_its_function_log_groups_are_subscribed_and_it_has_no_issue(notes, api, cloud):
    """GIVEN build 1 deployed on dev
    WHEN its issues are read and its create function's log group is looked at
    THEN there are none, nothing is unsubscribed, and Sprout's filter sprout-is#{app}#dev feeds IssuesFunction"""
    group = create_log_group(notes)
    logs = cloud.client("logs")

    def subscribed() -> list:
        try:
            return logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
        except logs.exceptions.ResourceNotFoundException:
            return []  # WatchStage has not made the group yet

    filters = wait_for("Sprout's filter on create's log group (WatchStage runs after the deployment is recorded)",
                       subscribed, timeout=60)
    answer = api.request("GET", issues_path(notes))
    assert answer == {"issues": [], "nextToken": None, "notSubscribed": []}
    assert [(f["filterName"], f["destinationArn"]) for f in filters] == [
        (f"sprout-is#{notes.name}#dev", cloud.sprout["IssuesFunctionArn"])]


def test_given_a_build_that_raises_when_create_is_called_then_one_issue_new_in_build_2_with_its_count(notes, api):
    """GIVEN build 2, whose create raises NameError (gibberish), deployed on dev
    WHEN POST /notes is called three times (502 each)
    THEN one open issue: NameError in create.py, new in build 2, counted for build 2, samples and deployments shown"""
    create = notes.work / "functions" / "create" / "create.py"
    create.write_text(BROKEN + create.read_text())
    notes.commit_and_push("Break create")
    assert notes.wait_build(2)["status"] == "SUCCEEDED"
    app = SproutClient(notes.stage_url("dev"))
    for _ in range(3):
        assert error_of(lambda: app.request("POST", "/notes", {"content": "boom"})).status == 502
    [issue] = wait_for(
        "the NameError's issue with its three occurrences",
        lambda: (found := api.request("GET", issues_path(notes))["issues"]) and found[0]["count"] >= 3 and found,
        timeout=60, show=lambda: api.request("GET", issues_path(notes)),
    )
    assert issue["type"] == "NameError" and issue["status"] == "open" and issue["newInBuild"] == 2
    assert issue["where"]["file"] == "create.py" and issue["title"].startswith("NameError in create.py")
    assert issue["firstSeen"]["build"] == 2 and issue["firstSeen"]["deployment"]
    detail = api.request("GET", issues_path(notes, f"/{issue['id']}"))
    assert detail["countsByBuild"] == [{"build": 2, "count": issue["count"]}]
    assert detail["samples"] and all("gibberish" in s["message"] for s in detail["samples"])
    assert any(d["firstSeenHere"] and d["build"] == 2 for d in detail["deployments"])
    # AND filtering by the build that brought it finds it, by another build nothing
    assert [i["id"] for i in api.request("GET", issues_path(notes), query={"build": "2"})["issues"]] == [issue["id"]]
    assert api.request("GET", issues_path(notes), query={"build": "1"})["issues"] == []


def test_given_the_issue_when_resolved_and_the_error_happens_again_then_it_is_regressed(notes, api):
    """GIVEN the open NameError issue
    WHEN it is resolved (PATCH) and create fails again
    THEN it reads resolved, then regressed, with its count grown"""
    [issue] = api.request("GET", issues_path(notes))["issues"]
    resolved = api.request("PATCH", issues_path(notes, f"/{issue['id']}"), {"status": "resolved"})
    assert resolved["status"] == "resolved" and resolved["statusChangedBy"]
    assert api.request("GET", issues_path(notes), query={"status": "open"})["issues"] == []
    app = SproutClient(notes.stage_url("dev"))
    assert error_of(lambda: app.request("POST", "/notes", {"content": "again"})).status == 502
    regressed = wait_for(
        "the issue regressed",
        lambda: (i := api.request("GET", issues_path(notes, f"/{issue['id']}")))["status"] == "regressed" and i,
        timeout=60,
    )
    assert regressed["count"] > issue["count"] and regressed["regressedAt"]


def test_given_bad_input_then_clear_answers_name_the_field(notes, api):
    """GIVEN an unknown issue id, a malformed one, a status PATCH may not set, a bad filter
    WHEN called
    THEN 404 / 400 naming id, status, build"""
    unknown = error_of(lambda: api.request("GET", issues_path(notes, "/0123456789abcdef0123")))
    assert unknown.status == 404
    bad = error_of(lambda: api.request("PATCH", issues_path(notes, "/0123456789abcdef0123"), {"status": "regressed"}))
    assert bad.status == 400 and "status" in str(bad)
    assert error_of(lambda: api.request("GET", issues_path(notes), query={"status": "closed"})).status == 400
    assert error_of(lambda: api.request("GET", issues_path(notes), query={"build": "x"})).status == 400
    assert error_of(lambda: api.request("GET", f"/apps/{notes.name}/stages/nope/issues")).status == 404


def test_given_a_filter_named_like_sprouts_on_another_group_then_it_forges_no_issue(notes, api, cloud):
    """GIVEN a log group that is not the stage's, subscribed to IssuesFunction under the stage's own
    filter name (what a hostile app's stack could declare)
    WHEN it receives a forged error, and then the real create fails with a new sentinel error
    THEN the sentinel's issue appears and the forged one never does"""
    logs = cloud.client("logs")
    forged_group = f"/aws/lambda/forger-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=forged_group)
    logs.put_subscription_filter(logGroupName=forged_group, filterName=f"sprout-is#{notes.name}#dev", filterPattern="",
                                 destinationArn=cloud.sprout["IssuesFunctionArn"])
    logs.create_log_stream(logGroupName=forged_group, logStreamName="2026/12/07/[1]forged")
    logs.put_log_events(logGroupName=forged_group, logStreamName="2026/12/07/[1]forged", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": "[ERROR] ForgedError: click http://evil.example"}])
    real = create_log_group(notes)
    stream = "2026/12/07/[2]sentinel"
    logs.create_log_stream(logGroupName=real, logStreamName=stream)
    logs.put_log_events(logGroupName=real, logStreamName=stream, logEvents=[
        {"timestamp": int(time.time() * 1000), "message": "[ERROR] SentinelError: the real group's line"}])
    wait_for("the sentinel's issue", lambda: any(i["type"] == "SentinelError"
                                                 for i in api.request("GET", issues_path(notes))["issues"]), timeout=60)
    assert not any(i["type"] == "ForgedError" for i in api.request("GET", issues_path(notes))["issues"])


def test_given_a_line_with_secrets_then_the_issues_samples_and_the_logs_endpoint_mask_them(notes, api, cloud):
    """GIVEN create logging an error that carries a password pair and an access key id
    WHEN its issue and create's error logs are read
    THEN neither shows the secrets, both say (value masked)"""
    logs = cloud.client("logs")
    group, stream = create_log_group(notes), "2026/12/07/[2]leak"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{
        "timestamp": int(time.time() * 1000), "message": "[ERROR] LeakError: login password=hunter2 key AKIAABCDEFGHIJKLMNOP"}])
    [issue] = wait_for("the LeakError's issue", lambda: [i for i in api.request("GET", issues_path(notes))["issues"]
                                                       if i["type"] == "LeakError"], timeout=60)
    samples = api.request("GET", issues_path(notes, f"/{issue['id']}"))["samples"]
    events = api.request("GET", f"/apps/{notes.name}/stages/dev/functions/create/logs",
                         query={"errors": "true", "since": "15m", "limit": "100"})["events"]
    leaks = [e["message"] for e in events if "LeakError" in e["message"]]
    assert samples and leaks
    for text in [s["message"] for s in samples] + leaks:
        assert "hunter2" not in text and "AKIAABCDEFGHIJKLMNOP" not in text and "(value masked)" in text


def test_given_a_log_group_whose_two_filter_slots_are_the_apps_then_the_deploy_goes_on_and_says_it(notes, api, cloud):
    """GIVEN the get function's log group holding two subscription filters of the app's own (Sprout's removed)
    WHEN build 3 is pushed and deployed
    THEN the deploy succeeds, that function is listed as not subscribed with CloudWatch Logs' limit as the reason,
    and the other functions stay subscribed"""
    logs = cloud.client("logs")
    functions = api.request("GET", f"/apps/{notes.name}/stages/dev/functions")["functions"]
    [get] = [f for f in functions if "get" in f["logicalId"].lower()]
    group = get["logGroup"]
    logs.delete_subscription_filter(logGroupName=group, filterName=f"sprout-is#{notes.name}#dev")
    for name in ("team-a", "team-b"):
        logs.put_subscription_filter(logGroupName=group, filterName=name, filterPattern="",
                                     destinationArn=cloud.sprout["IssuesFunctionArn"])
    readme = notes.work / "README.md"
    readme.write_text(readme.read_text() + "\nbuild 3\n")
    create = notes.work / "functions" / "create" / "create.py"
    create.write_text(create.read_text() + "\n# build 3\n")
    notes.commit_and_push("Build 3")
    assert notes.wait_build(3)["status"] == "SUCCEEDED"
    [gap] = wait_for("the get function listed as not subscribed (WatchStage runs after the deployment is recorded)",
                     lambda: api.request("GET", issues_path(notes))["notSubscribed"], timeout=60)
    assert gap["function"] == get["logicalId"] and gap["logGroup"] == group
    assert "team-a" in gap["reason"] and "team-b" in gap["reason"] and "2 subscription filters" in gap["reason"]
    names = [f["filterName"] for f in logs.describe_subscription_filters(logGroupName=create_log_group(notes))[
        "subscriptionFilters"]]
    assert names == [f"sprout-is#{notes.name}#dev"]


def _as_role_of(cloud, logical_id: str, service: str):
    """A client acting with the execution role of one of Sprout's functions (as its workers do)."""
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="sprout", LogicalResourceId=logical_id)
    name = resources["StackResources"][0]["PhysicalResourceId"]
    role = cloud.client("lambda").get_function_configuration(FunctionName=name)["Role"]
    c = cloud.client("sts").assume_role(RoleArn=role, RoleSessionName=name)["Credentials"]
    return cloud.client(service, aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])


def test_given_the_issues_roles_then_they_may_do_their_part_only(cloud):
    """GIVEN IssuesFunction's and WatchStageFunction's roles
    WHEN the first reads logs, subscribes a group or starts a rollback, and the second subscribes Sprout's own log group
    THEN each is refused naming the action (the issues function only reads and writes the lineage and puts events)"""
    logs = _as_role_of(cloud, "IssuesFunction", "logs")
    for call, action in ((lambda: logs.filter_log_events(logGroupName="/aws/lambda/anything"), "logs:FilterLogEvents"),
                         (lambda: logs.put_subscription_filter(logGroupName="/aws/lambda/x", filterName="f",
                                                               filterPattern="", destinationArn="arn:aws:lambda:x"),
                          "logs:PutSubscriptionFilter")):
        with pytest.raises(ClientError) as e:
            call()
        assert action in str(e.value)
    sfn = _as_role_of(cloud, "IssuesFunction", "stepfunctions")
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=cloud.sprout["RollbackStateMachineArn"], input="{}")
    assert "states:StartExecution" in str(e.value)
    watch = _as_role_of(cloud, "WatchStageFunction", "logs")
    own = cloud.client("lambda").get_function_configuration(
        FunctionName=cloud.client("cloudformation").describe_stack_resources(
            StackName="sprout", LogicalResourceId="ApiFunction")["StackResources"][0]["PhysicalResourceId"])["FunctionName"]
    with pytest.raises(ClientError) as e:
        watch.put_subscription_filter(logGroupName=f"/aws/lambda/{own}", filterName="sprout-is#x#y", filterPattern="",
                                      destinationArn=cloud.sprout["IssuesFunctionArn"])
    assert "logs:PutSubscriptionFilter" in str(e.value) and "explicit deny" in str(e.value)
