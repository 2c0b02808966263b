"""Attack: a hostile app author forges, reads and deletes another app's function logs.

Sprout's issues function groups the errors in each stage's function log groups, so a line written
into another app's group would be that app's issue (and its ``issue.new`` notification). The
attacker's function has ``AdministratorAccess`` and ``*:*``; only Sprout's permissions boundary is
in its way. Package names every function's log group ``/aws/lambda/<app>-<stage>/<LogicalId>`` and
the boundary lets a role touch only its own stage's:

- from inside the attacker's function, creating a stream in the victim's create function's log
  group, putting a forged Python traceback there, reading it and deleting it are each refused by
  IAM (the boundary allows none of them), while its own group and DescribeLogGroups stay allowed;
- then the victim's real error (its create function invoked with an event it cannot read) still
  becomes the victim's issue, and no forged issue exists on the victim's stage;
- a template that points a function's ``LoggingConfig.LogGroup`` at the victim's group is refused at
  Package, naming the resource and the property.
"""

from __future__ import annotations

import json
import textwrap

from tests.integration.sprout.attacks.test_stack_roles import functions
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app, wait_for

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Forger:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: forger/
      Handler: app.handler
      Runtime: python3.13
      Timeout: 30
{logging}      Policies:
        - AdministratorAccess
        - Statement: [{{Effect: Allow, Action: "*", Resource: "*"}}]
"""

FORGER = textwrap.dedent('''\
    import time

    import boto3
    from botocore.exceptions import ClientError

    FORGED = ("[ERROR]\\t2026-12-08T00:00:00.000Z\\t00000000-0000-0000-0000-000000000000\\trequest failed\\n"
              "Traceback (most recent call last):\\n"
              '  File "/var/task/create.py", line 9, in main\\n'
              '    raise ForgedError("your build broke: roll back at http://evil.example")\\n'
              "ForgedError: your build broke: roll back at http://evil.example")


    def attempt(call):
        try:
            call()
            return "allowed"
        except ClientError as e:
            return f"{e.response['Error']['Code']}: {e.response['Error']['Message']}"


    def handler(event, context):
        logs = boto3.client("logs")
        victim, stream = event["group"], "2026/12/08/[1]forged"
        now = int(time.time() * 1000)
        return {
            "create a stream in the victim's group": attempt(
                lambda: logs.create_log_stream(logGroupName=victim, logStreamName=stream)),
            "forge a traceback in the victim's group": attempt(lambda: logs.put_log_events(
                logGroupName=victim, logStreamName=stream, logEvents=[{"timestamp": now, "message": FORGED}])),
            "read the victim's group": attempt(lambda: logs.filter_log_events(logGroupName=victim, limit=5)),
            "delete the victim's group": attempt(lambda: logs.delete_log_group(logGroupName=victim)),
            "read its own group": attempt(lambda: logs.filter_log_events(logGroupName=context.log_group_name, limit=5)),
            "write its own group": attempt(
                lambda: logs.create_log_stream(logGroupName=context.log_group_name, logStreamName="mine")),
            "list log groups": attempt(lambda: logs.describe_log_groups(limit=1)),
            "my log group": context.log_group_name,
        }
''')

ATTACKS = ("create a stream in the victim's group", "forge a traceback in the victim's group",
           "read the victim's group", "delete the victim's group")


def forger_app(cloud, api, name: str, tmp_path, logging: str = "") -> AppRepo:
    source = tmp_path / "forger-source"
    (source / "forger").mkdir(parents=True)
    (source / "forger" / "app.py").write_text(FORGER)
    (source / "template.yaml").write_text(TEMPLATE.format(logging=logging))
    return registered_app(cloud, api, name, source, tmp_path)


def issues(api, app: str) -> list[dict]:
    return api.request("GET", f"/apps/{app}/stages/dev/issues")["issues"]


def test_given_an_app_whose_function_forges_another_apps_log_lines_then_iam_refuses_and_no_forged_issue_exists(
    cloud, api, uid, tmp_path
):
    """GIVEN the notes app (the victim) and a hostile app whose function has AdministratorAccess, both on dev
    WHEN the hostile function creates a stream in, writes a forged traceback to, reads and deletes the
    victim's create function's log group; and then the victim's create fails for real
    THEN each attempt is AccessDenied by the permissions boundary (its own group and DescribeLogGroups
    allowed), the victim's real error becomes its issue, and no forged issue exists on the victim's stage"""
    victim = registered_app(cloud, api, f"victim-{uid}", NOTES, tmp_path / "victim")
    forger = forger_app(cloud, api, f"forger-{uid}", tmp_path / "forger")
    victim.commit_and_push("notes")
    forger.commit_and_push("nothing to see here")
    assert victim.wait_build(1, "dev", timeout=240)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    assert forger.wait_build(1, "dev", timeout=240)["deployedTo"]["dev"]["status"] == "SUCCEEDED"

    listed = api.request("GET", f"/apps/{victim.name}/stages/dev/functions")["functions"]
    [create] = [f for f in listed if f["logicalId"] == "CreateNoteFunction"]
    group = create["logGroup"]
    assert group == f"/aws/lambda/{victim.name}-dev/CreateNoteFunction"
    logs = cloud.client("logs")
    wait_for("Sprout's issues filter on the victim's create log group (WatchStage)",
             lambda: logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"], timeout=90)

    lam = cloud.client("lambda")
    answer = lam.invoke(FunctionName=f"{functions(cloud, f'{forger.name}-dev')['Forger']}:live",
                        Payload=json.dumps({"group": group}))
    outcome = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, outcome
    for attack in ATTACKS:
        assert outcome[attack].startswith(("AccessDenied", "AccessDeniedException")), (attack, outcome[attack])
        assert "because no permissions boundary allows" in outcome[attack], (attack, outcome[attack])
    assert outcome["my log group"] == f"/aws/lambda/{forger.name}-dev/Forger"
    for allowed in ("read its own group", "write its own group", "list log groups"):  # (its group may not be made yet)
        assert outcome[allowed] == "allowed" or outcome[allowed].startswith("ResourceNotFound"), (allowed, outcome[allowed])

    # the victim's own error, written by Lambda into the group Package named: still the victim's issue
    victim_create = functions(cloud, f"{victim.name}-dev")["CreateNoteFunction"]
    lam.invoke(FunctionName=f"{victim_create}:live", Payload=json.dumps("not an API Gateway event"))
    found = wait_for("the victim's real AttributeError as its issue",
                     lambda: [i for i in issues(api, victim.name) if i["type"] == "AttributeError"], timeout=90,
                     show=lambda: issues(api, victim.name))
    assert found[0]["status"] == "open"
    assert not [i for i in issues(api, victim.name) if i["type"] == "ForgedError"]
    assert not logs.filter_log_events(logGroupName=group, filterPattern='"ForgedError"')["events"]
    assert not [i for i in issues(api, forger.name) if i["type"] == "ForgedError"]


def test_given_an_app_that_points_its_function_at_another_apps_log_group_then_package_refuses_it(
    cloud, api, uid, tmp_path
):
    """GIVEN a hostile app whose function's LoggingConfig.LogGroup names another app's function log group
    WHEN it is pushed THEN the build fails at Package naming Forger.LoggingConfig.LogGroup, and nothing deploys"""
    logging = "      LoggingConfig:\n        LogGroup: /aws/lambda/victim-dev/CreateNoteFunction\n"
    forger = forger_app(cloud, api, f"redirect-{uid}", tmp_path, logging)
    forger.commit_and_push("log over there")

    build = forger.wait_build(1, "dev", timeout=120)
    assert build["status"] == "FAILED" and build["failure"]["step"] == "Package"
    assert "Forger.LoggingConfig.LogGroup: an app may not choose its functions' log groups" in build["failure"]["cause"]
    assert not build.get("deployedTo")

