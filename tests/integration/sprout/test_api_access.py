"""Who may act on an app is IAM's answer: the README's example policy (``execute-api:Invoke`` scoped by
method and path) lets a team read its app, promote and roll back its prod, and read another app's
function logs, and nothing else, on the local cloud with IAM enforced."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest
from botocore.credentials import Credentials

from sprout.cli.client import ApiError, SproutClient
from tests.integration.sprout.conftest import NOTES, registered_app

ACCOUNT = "123456789012"


def status_of(call) -> int:
    try:
        call()
    except ApiError as e:
        return e.status
    return 200


@pytest.fixture
def team(cloud, api, uid, tmp_path) -> dict:
    """Apps notes-<uid> and billing-<uid>, and a client signing as an IAM user with the README's policy."""
    notes, billing = f"notes-{uid}", f"billing-{uid}"
    registered_app(cloud, api, notes, NOTES, tmp_path)
    registered_app(cloud, api, billing, NOTES, tmp_path)
    api_id = urlparse(cloud.sprout["ApiUrl"]).path.split("/")[3]  # …/_aws/execute-api/{apiId}/v1 locally
    base = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/v1"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": [
        f"{base}/GET/apps/{notes}",
        f"{base}/GET/apps/{notes}/*",
        f"{base}/POST/apps/{notes}/stages/prod/promote",
        f"{base}/POST/apps/{notes}/stages/prod/rollback",
        f"{base}/GET/apps/{billing}/stages/*/functions/*/logs",
    ]}]}
    iam = cloud.client("iam")
    iam.create_user(UserName=f"team-{uid}")
    iam.put_user_policy(UserName=f"team-{uid}", PolicyName="notes-team", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=f"team-{uid}")["AccessKey"]
    client = SproutClient(cloud.sprout["ApiUrl"])
    client._credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    return {"client": client, "notes": notes, "billing": billing}


def test_given_a_teams_policy_then_it_acts_on_its_app_and_reads_the_other_apps_logs_only(team):
    """GIVEN an IAM user with the README's policy for the team of notes
    WHEN it calls Sprout's API
    THEN it reads notes and may ask for notes' prod promote and rollback (Sprout answers: nothing
    to promote or roll back yet, never 403), may ask for billing's function logs; and is refused
    (403) listing apps, reading billing, promoting billing's prod or notes' dev"""
    client, notes, billing = team["client"], team["notes"], team["billing"]

    assert client.request("GET", f"/apps/{notes}")["name"] == notes
    assert status_of(lambda: client.request("POST", f"/apps/{notes}/stages/prod/promote", {})) not in (401, 403)
    assert status_of(lambda: client.request("POST", f"/apps/{notes}/stages/prod/rollback", {})) not in (401, 403)
    assert status_of(lambda: client.request("GET", f"/apps/{billing}/stages/dev/functions/create/logs")) not in (401, 403)

    assert status_of(lambda: client.request("GET", "/apps")) == 403
    assert status_of(lambda: client.request("GET", f"/apps/{billing}")) == 403
    assert status_of(lambda: client.request("POST", f"/apps/{billing}/stages/prod/promote", {})) == 403
    assert status_of(lambda: client.request("POST", f"/apps/{notes}/stages/dev/rollback", {})) == 403
