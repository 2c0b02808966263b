"""Attack: a hostile app author goes after another app's secrets (issue 22).

The victim's stage holds a secret (a SecureString at ``/sprout/<victim>/dev/ApiKey``). The
attacker's function is given ``ssm:*`` and ``kms:*`` on ``*`` by its own template, and tries every
way Parameter Store offers: the victim's parameter with and without decryption, ``GetParameters``,
``GetParametersByPath`` on ``/``, ``/sprout`` and the victim's path, the history, and its own
app's prod secret from its dev function. Its own stage's secret (declared as a Parameter: Sprout
passes its path) is the allowed sentinel. AppRoleBoundary allows ``/sprout/...`` only under the
role's own ``sprout:app``/``sprout:stage`` tags (its stack's, which CloudFormation puts on its
roles), so every attempt is refused by IAM.

Then the template routes: a function tagged ``sprout:app`` (forging the tag the boundary reads) is
refused at Package; a ``{{resolve:ssm-secure:...}}`` of the victim's secret in a function's
environment, an ``AWS::SSM::Parameter::Value<String>`` parameter naming it, and an
``AWS::SSM::Parameter`` overwriting it all fail the deploy, and the victim's secret is unchanged.
"""

from __future__ import annotations

import json
import textwrap

from tests.integration.sprout.attacks.test_stack_roles import functions
from tests.integration.sprout.conftest import NOTES, registered_app

SPY = textwrap.dedent('''\
    import os

    import boto3
    from botocore.exceptions import ClientError


    def attempt(call):
        try:
            return "allowed: " + repr(call())[:300]
        except ClientError as e:
            return f"{e.response['Error']['Code']}: {e.response['Error']['Message']}"


    def handler(event, context):
        ssm = boto3.client("ssm")
        victim = event["victim"]
        return {
            "own secret": ssm.get_parameter(Name=os.environ["MINE"], WithDecryption=True)["Parameter"]["Value"],
            "victim decrypted": attempt(lambda: ssm.get_parameter(Name=victim, WithDecryption=True)),
            "victim ciphertext": attempt(lambda: ssm.get_parameter(Name=victim)),
            "victim by GetParameters": attempt(lambda: ssm.get_parameters(Names=[victim], WithDecryption=True)),
            "victim history": attempt(lambda: ssm.get_parameter_history(Name=victim, WithDecryption=True)),
            "path /": attempt(lambda: ssm.get_parameters_by_path(Path="/", Recursive=True, WithDecryption=True)),
            "path /sprout": attempt(lambda: ssm.get_parameters_by_path(Path="/sprout", Recursive=True, WithDecryption=True)),
            "victim's path": attempt(lambda: ssm.get_parameters_by_path(Path=victim.rsplit("/", 1)[0], WithDecryption=True)),
            "own prod secret": attempt(lambda: ssm.get_parameter(Name=event["own_prod"], WithDecryption=True)),
            "overwrite the victim": attempt(lambda: ssm.put_parameter(Name=victim, Value="pwned", Type="String", Overwrite=True)),
        }
''')

SPY_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Mine: {Type: String}
Resources:
  Spy:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: spy/
      Handler: app.handler
      Runtime: python3.13
      Timeout: 30
      Environment: {Variables: {MINE: !Ref Mine}}
      Policies:
        - Statement: [{Effect: Allow, Action: ["ssm:*", "kms:*"], Resource: "*"}]
"""

REFUSED = ("victim decrypted", "victim ciphertext", "victim by GetParameters", "victim history", "path /",
           "path /sprout", "victim's path", "own prod secret", "overwrite the victim")


def test_given_an_app_whose_function_may_read_every_parameter_then_it_reads_only_its_own_stages_secrets(
    cloud, api, uid, tmp_path
):
    """GIVEN a victim app whose dev stage holds the secret ApiKey, and a hostile app whose dev and
    prod stages hold a secret Mine and whose function's policy allows ssm:* and kms:* on *
    WHEN the hostile function tries the victim's secret every way, and its own prod secret
    THEN it reads its own dev secret (the sentinel) and every other attempt is refused by IAM;
    the victim's secret keeps its version and value"""
    victim = registered_app(cloud, api, f"victim-{uid}", NOTES, tmp_path)
    secret = f"victim-secret-{uid}"
    api.request("PUT", f"/apps/{victim.name}/stages/dev/secrets/ApiKey", {"value": secret})
    victim_path = f"/sprout/{victim.name}/dev/ApiKey"

    source = tmp_path / "spy-source"
    (source / "spy").mkdir(parents=True)
    (source / "spy" / "app.py").write_text(SPY)
    (source / "template.yaml").write_text(SPY_TEMPLATE)
    spy = registered_app(cloud, api, f"spy-{uid}", source, tmp_path)
    api.request("PUT", f"/apps/{spy.name}/stages/dev/secrets/Mine", {"value": f"spy-dev-{uid}"})
    api.request("PUT", f"/apps/{spy.name}/stages/prod/secrets/Mine", {"value": f"spy-prod-{uid}"})
    spy.commit_and_push("a spy")
    build = spy.wait_build(1, "dev", timeout=180)
    assert build["deployedTo"]["dev"]["status"] == "SUCCEEDED", build

    fn = functions(cloud, f"{spy.name}-dev")["Spy"]
    payload = {"victim": victim_path, "own_prod": f"/sprout/{spy.name}/prod/Mine"}
    answer = cloud.client("lambda").invoke(FunctionName=f"{fn}:live", Payload=json.dumps(payload))
    outcome = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, outcome
    assert outcome["own secret"] == f"spy-dev-{uid}"
    for attack in REFUSED:
        assert outcome[attack].startswith(("AccessDenied", "AccessDeniedException")), (attack, outcome[attack])
    assert secret not in json.dumps(outcome) and f"spy-prod-{uid}" not in json.dumps(outcome)

    found = cloud.client("ssm").get_parameter(Name=victim_path, WithDecryption=True)["Parameter"]
    assert (found["Value"], found["Version"], found["Type"]) == (secret, 1, "SecureString")
    # a read without decryption answers ciphertext, as SSM does: never the value
    assert secret not in cloud.client("ssm").get_parameter(Name=victim_path)["Parameter"]["Value"]


def _push(spy, template: str, message: str) -> dict:
    (spy.work / "template.yaml").write_text(template)
    spy.commit_and_push(message)
    return spy.builds()[0]


def test_given_templates_that_reach_for_another_apps_secret_then_the_build_or_the_deploy_fails(
    cloud, api, uid, tmp_path
):
    """GIVEN a victim's secret WHEN a hostile app pushes, one at a time, a function tagged
    sprout:app (forging the tag that scopes secrets), a function whose environment resolves the
    victim's secret with {{resolve:ssm-secure:...}}, a parameter of type
    AWS::SSM::Parameter::Value<String> naming it, and an AWS::SSM::Parameter overwriting it
    THEN the first is refused at Package naming the tag, the others fail their deploy,
    no function's configuration holds the value, and the victim's secret is unchanged"""
    victim = registered_app(cloud, api, f"victim-{uid}", NOTES, tmp_path)
    secret = f"victim-secret-{uid}"
    api.request("PUT", f"/apps/{victim.name}/stages/dev/secrets/ApiKey", {"value": secret})
    victim_path = f"/sprout/{victim.name}/dev/ApiKey"
    source = tmp_path / "spy-source"
    (source / "spy").mkdir(parents=True)
    (source / "spy" / "app.py").write_text(SPY)
    (source / "template.yaml").write_text("Resources: {}\n")
    spy = registered_app(cloud, api, f"spy-{uid}", source, tmp_path)
    base = SPY_TEMPLATE.replace("  Mine: {Type: String}\n", "  Mine: {Type: String, Default: none}\n")

    tagged = base.replace("      Timeout: 30\n", f"      Timeout: 30\n      Tags: {{'sprout:app': {victim.name}}}\n")
    (spy.work / "template.yaml").write_text(tagged)
    spy.commit_and_push("forge the tag")
    failed = spy.wait_build(1, stage=None, timeout=180)
    assert failed["status"] == "FAILED" and "sprout:app" in json.dumps(failed["failure"]), failed

    attempts = {
        "ssm-secure in the environment": base.replace(
            "{Variables: {MINE: !Ref Mine}}", "{Variables: {MINE: '{{resolve:ssm-secure:" + victim_path + "}}'}}"),
        "an SSM parameter type": base.replace(
            "  Mine: {Type: String, Default: none}\n",
            f"  Mine: {{Type: 'AWS::SSM::Parameter::Value<String>', Default: '{victim_path}'}}\n"),
        "an AWS::SSM::Parameter": base + (
            "  Overwrite:\n    Type: AWS::SSM::Parameter\n"
            f"    Properties: {{Name: '{victim_path}', Type: String, Value: pwned}}\n"),
    }
    for number, (what, template) in enumerate(attempts.items(), start=2):
        (spy.work / "template.yaml").write_text(template)
        spy.commit_and_push(what)
        build = spy.wait_build(number, stage="dev", timeout=180)
        deployed = (build.get("deployedTo") or {}).get("dev") or {}
        assert build["status"] == "FAILED" or deployed.get("status") == "FAILED", (what, build)

    lam = cloud.client("lambda")
    for page in lam.get_paginator("list_functions").paginate():
        assert secret not in json.dumps(page, default=str)
    found = cloud.client("ssm").get_parameter(Name=victim_path, WithDecryption=True)["Parameter"]
    assert (found["Value"], found["Version"], found["Type"]) == (secret, 1, "SecureString")
