"""Attack: a hostile app author escalates through their app's stack.

Their template gives a function ``AdministratorAccess`` and an inline ``*:*`` policy, declares a
raw ``AWS::IAM::Role`` with ``AdministratorAccess`` and no boundary for a second function, and
(in a second push) an alarm named like Sprout's (``sprout-ar-…``) for another app's stage. Sprout
packages every role with its permissions boundary and deploys the stack with StackDeployRole:

- the stack deploys, its roles carry Sprout's boundary, and the functions can do what their
  policies give them on the app's own resources — but every attempt on Sprout's lineage table,
  artifact bucket and functions, and on their own role's boundary, is refused by IAM with the
  boundary's explicit deny (asserted from inside the function: the app's policies do allow those
  calls, so only the boundary can be what stops them);
- the alarm is refused at deploy time: StackDeployRole may not create alarms with Sprout's prefix,
  so the deploy fails naming ``cloudwatch:PutMetricAlarm`` (the deploy-time answer, since
  CloudFormation itself makes that call) and no such alarm exists;
- a function that names one of Sprout's roles as its own fails the deploy naming ``iam:PassRole``;
- an app that sets its own permissions boundary is refused at Package, naming the resource;
- meanwhile the victim (the notes app) keeps building and deploying, and its records are untouched.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.integration.sprout.conftest import NOTES, registered_app

EVIL_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  Loot:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Thief:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: thief/
      Handler: app.handler
      Runtime: python3.13
      Timeout: 30
      Environment: {Variables: {LOOT: !Ref Loot}}
      Policies:
        - AdministratorAccess
        - Statement: [{Effect: Allow, Action: "*", Resource: "*"}]
  Unbounded:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]
  Accomplice:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: thief/
      Handler: app.handler
      Runtime: python3.13
      Timeout: 30
      Role: !GetAtt Unbounded.Arn
      Environment: {Variables: {LOOT: !Ref Loot}}
"""

THIEF = textwrap.dedent('''\
    import os

    import boto3
    from botocore.exceptions import ClientError


    def attempt(call):
        try:
            call()
            return "allowed"
        except ClientError as e:
            return f"{e.response['Error']['Code']}: {e.response['Error']['Message']}"


    def handler(event, context):
        ddb, s3 = boto3.client("dynamodb"), boto3.client("s3")
        iam, lam = boto3.client("iam"), boto3.client("lambda")
        cw, sfn, events = boto3.client("cloudwatch"), boto3.client("stepfunctions"), boto3.client("events")
        me = boto3.client("sts").get_caller_identity()["Arn"].split("/")[1]
        forged = events.put_events(Entries=[{
            "Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change",
            "Detail": '{"alarmName": "%s", "state": {"value": "ALARM"}}' % event["alarm"]}])["Entries"][0]
        return {
            "forge an alarm event": forged.get("ErrorCode", "allowed"),
            "fire sprout's alarm": attempt(lambda: cw.set_alarm_state(
                AlarmName=event["alarm"], StateValue="ALARM", StateReason="forged")),
            "forge the fast signal": attempt(lambda: cw.put_metric_data(
                Namespace="Sprout", MetricData=[{"MetricName": "Errors5xx", "Value": 100.0}])),
            "forge a sprout issue event": attempt(lambda: events.put_events(Entries=[{
                "Source": "sprout", "DetailType": "Sprout Issue State Change", "Detail": '{"event": "issue.new"}'}])),
            "forge a sprout notification": attempt(lambda: events.put_events(Entries=[{
                "Source": "sprout", "DetailType": "Sprout Notification",
                "Detail": '{"app": "victim", "target": "x", "body": {"text": "pwned"}}'}])),
            "queue a sprout notification": attempt(lambda: boto3.client("sqs").create_queue(QueueName="sprout-n-victim-evil")),
            "own sprout's notification pipe": attempt(lambda: boto3.client("pipes").create_pipe(
                Name="sprout-n-victim-evil", RoleArn=event["pipe_role"], Source="arn:aws:sqs:us-east-1:123456789012:evil",
                Target="arn:aws:events:us-east-1:123456789012:api-destination/evil/x")),
            "own sprout's notification routes": attempt(lambda: events.create_connection(
                Name="sprout-n-victim-evil", AuthorizationType="API_KEY",
                AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})),
            "start a rollback": attempt(lambda: sfn.start_execution(stateMachineArn=event["rollback"], input="{}")),
            "own table": attempt(lambda: ddb.put_item(TableName=os.environ["LOOT"], Item={"pk": {"S": "mine"}})),
            "read sprout's table": attempt(lambda: ddb.scan(TableName=event["table"], Limit=5)),
            "write sprout's table": attempt(lambda: ddb.put_item(
                TableName=event["table"], Item={"pk": {"S": event["victim_pk"]}, "sk": {"S": "app"}})),
            "write the artifacts": attempt(lambda: s3.put_object(Bucket=event["bucket"], Key="artifacts/x.zip", Body=b"x")),
            "invoke sprout": attempt(lambda: lam.invoke(FunctionName=event["function"], Payload=b"{}")),
            "drop the boundary": attempt(lambda: iam.delete_role_permissions_boundary(RoleName=me)),
            "become admin": attempt(lambda: iam.attach_role_policy(
                RoleName=me, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")),
        }
''')

SPROUTS = ("read sprout's table", "write sprout's table", "write the artifacts", "invoke sprout",
           "drop the boundary", "become admin", "fire sprout's alarm", "forge the fast signal", "start a rollback", "forge a sprout issue event",
           "forge a sprout notification", "own sprout's notification routes", "queue a sprout notification",
           "own sprout's notification pipe")


@pytest.fixture
def victim(cloud, api, uid, tmp_path):
    """The notes app of another team, pushed and deployed to dev."""
    app = registered_app(cloud, api, f"victim-{uid}", NOTES, tmp_path)
    app.commit_and_push("notes")
    assert app.wait_build(1, "dev", timeout=180)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    return app


def evil_app(cloud, api, uid, tmp_path, template: str = EVIL_TEMPLATE):
    """The attacker's app, registered like any other (dev follows main), its source in a working copy."""
    source = tmp_path / "evil-source"
    (source / "thief").mkdir(parents=True)
    (source / "thief" / "app.py").write_text(THIEF)
    (source / "template.yaml").write_text(template)
    return registered_app(cloud, api, f"evil-{uid}", source, tmp_path)


def functions(cloud, stack: str) -> dict[str, str]:
    resources = cloud.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
            if r["ResourceType"] in ("AWS::Lambda::Function", "AWS::IAM::Role")}


def test_given_an_app_whose_functions_are_given_administrator_access_then_they_cannot_touch_sprout(
    cloud, api, uid, tmp_path, victim
):
    """GIVEN the hostile app above (AdministratorAccess, *:*, a raw admin role without boundary)
    WHEN it is pushed, deployed to dev, and its functions try Sprout's table, bucket, functions,
    alarms, fast signal and rollback machine, their own boundary, and a forged alarm event
    THEN the stack deploys with Sprout's boundary on both roles, the functions may write their own
    table, every attempt on Sprout is refused by the boundary's explicit deny, and EventBridge
    refuses the forged aws.cloudwatch entry;
    the victim's records are untouched and its next push deploys"""
    evil = evil_app(cloud, api, uid, tmp_path)
    evil.commit_and_push("nothing to see here")
    build = evil.wait_build(1, "dev", timeout=180)
    assert build["deployedTo"]["dev"]["status"] == "SUCCEEDED", build

    found = functions(cloud, f"evil-{uid}-dev")
    iam = cloud.client("iam")
    boundary = cloud.sprout["AppRoleBoundaryArn"]
    for role_id in ("ThiefRole", "Unbounded"):
        role = iam.get_role(RoleName=found[role_id])["Role"]
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert role["Path"] == "/sprout/apps/"

    victim_pk = f"app#{victim.name}"
    before = cloud.client("dynamodb").get_item(
        TableName=cloud.sprout["TableName"], Key={"pk": {"S": victim_pk}, "sk": {"S": "app"}}).get("Item")
    payload = {"table": cloud.sprout["TableName"], "bucket": cloud.sprout["ArtifactBucketName"],
               "function": cloud.sprout["FastSignalFunctionArn"], "victim_pk": victim_pk,
               "alarm": f"sprout-ar-{victim.name}-dev-fast", "rollback": cloud.sprout["RollbackStateMachineArn"],
               "pipe_role": f"arn:aws:iam::123456789012:role/sprout/apps/{found['ThiefRole']}"}
    for function in ("Thief", "Accomplice"):
        answer = cloud.client("lambda").invoke(FunctionName=f"{found[function]}:live", Payload=json.dumps(payload))
        outcome = json.loads(answer["Payload"].read())
        assert "FunctionError" not in answer, outcome

        assert outcome["own table"] == "allowed"
        assert outcome["forge an alarm event"] == "NotAuthorizedForSourceException"
        for attack in SPROUTS:
            assert "explicit deny in a permissions boundary" in outcome[attack], (function, attack, outcome[attack])
            assert outcome[attack].startswith(("AccessDenied", "AccessDeniedException")), outcome[attack]

    after = cloud.client("dynamodb").get_item(
        TableName=cloud.sprout["TableName"], Key={"pk": {"S": victim_pk}, "sk": {"S": "app"}}).get("Item")
    assert after == before
    create = victim.work / "functions" / "create" / "create.py"
    create.write_text(create.read_text() + "\n# still here\n")
    victim.commit_and_push("the victim keeps shipping")
    assert victim.wait_build(2, "dev", timeout=180)["deployedTo"]["dev"]["status"] == "SUCCEEDED"


def test_given_an_app_that_declares_an_alarm_named_like_sprouts_then_its_deploy_fails_naming_the_action(
    cloud, api, uid, tmp_path
):
    """GIVEN a hostile app whose template declares the alarm sprout-ar-<another app>-dev-fast
    WHEN it is pushed and deployed
    THEN the deploy fails: StackDeployRole may not call cloudwatch:PutMetricAlarm on Sprout's alarms,
    the deployment's error names the action, and no such alarm exists"""
    alarm = f"sprout-ar-victim-{uid}-dev-fast"
    decoy = (
        "  Decoy:\n"
        "    Type: AWS::CloudWatch::Alarm\n"
        "    Properties:\n"
        f"      AlarmName: {alarm}\n"
        "      Namespace: Sprout\n"
        "      MetricName: Errors5xx\n"
        "      Statistic: Sum\n"
        "      Period: 10\n"
        "      EvaluationPeriods: 1\n"
        "      Threshold: 0\n"
        "      ComparisonOperator: GreaterThanOrEqualToThreshold\n"
    )
    evil = evil_app(cloud, api, uid, tmp_path, EVIL_TEMPLATE + decoy)
    evil.commit_and_push("a decoy alarm")

    deployment = evil.wait_build(1, "dev", timeout=180)["deployedTo"]["dev"]
    assert deployment["status"] == "FAILED"
    assert "is not authorized to perform: cloudwatch:PutMetricAlarm" in deployment["error"], deployment
    assert f"alarm:{alarm}" in deployment["error"]
    assert cloud.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == []


def test_given_an_app_whose_function_borrows_a_role_of_sprouts_then_its_deploy_fails_naming_passrole(
    cloud, api, uid, tmp_path
):
    """GIVEN a hostile app whose function names Sprout's PackageFunction role (it reads and writes
    Sprout's bucket and table) as its own
    WHEN it is pushed and deployed
    THEN the deploy fails: StackDeployRole may pass only the apps' roles (under the app path), so
    Lambda's iam:PassRole check refuses, naming the role; the role is not Sprout's to lend"""
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="sprout")["StackResources"]
    name = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "PackageFunctionRole")
    sprouts_role = cloud.client("iam").get_role(RoleName=name)["Role"]["Arn"]
    borrower = (
        "  Borrower:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: thief/\n"
        "      Handler: app.handler\n"
        "      Runtime: python3.13\n"
        f"      Role: {sprouts_role}\n"
    )
    evil = evil_app(cloud, api, uid, tmp_path, EVIL_TEMPLATE + borrower)
    evil.commit_and_push("a borrowed role")

    deployment = evil.wait_build(1, "dev", timeout=180)["deployedTo"]["dev"]
    assert deployment["status"] == "FAILED"
    assert f"is not authorized to perform: iam:PassRole on resource: {sprouts_role}" in deployment["error"], deployment


def test_given_an_app_that_sets_its_own_permissions_boundary_then_package_refuses_it_naming_the_resource(
    cloud, api, uid, tmp_path
):
    """GIVEN a hostile app that puts AdministratorAccess as its function's permissions boundary
    WHEN it is pushed THEN the build fails at Package naming Thief.PermissionsBoundary, and nothing deploys"""
    template = EVIL_TEMPLATE.replace(
        "      Handler: app.handler\n      Runtime: python3.13\n      Timeout: 30\n      Environment: {Variables: {LOOT: !Ref Loot}}\n      Policies:",
        "      Handler: app.handler\n      Runtime: python3.13\n      Timeout: 30\n      Environment: {Variables: {LOOT: !Ref Loot}}\n"
        "      PermissionsBoundary: arn:aws:iam::aws:policy/AdministratorAccess\n      Policies:",
    )
    evil = evil_app(cloud, api, uid, tmp_path, template)
    evil.commit_and_push("my own boundary")

    build = evil.wait_build(1, "dev", timeout=120)
    assert build["status"] == "FAILED"
    assert build["failure"]["step"] == "Package"
    assert "Thief.PermissionsBoundary: an app may not set its roles' permissions boundary" in build["failure"]["cause"]
    assert not build.get("deployedTo")
