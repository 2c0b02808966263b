"""Sprout's API on the local cloud: IAM auth, bad input named, unknown and duplicate apps."""

from __future__ import annotations

import pytest
import requests

from sprout.cli.client import ApiError


@pytest.fixture
def repo(cloud, uid) -> str:
    """A CodeCommit repository apps can be registered on."""
    name = f"repo-{uid}"
    cloud.client("codecommit").create_repository(repositoryName=name)
    return name


def call_error(api, method, path, body=None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        api.request(method, path, body)
    return caught.value


def test_given_an_unsigned_request_when_it_reaches_the_api_then_api_gateway_refuses_it(cloud):
    answer = requests.get(f"{cloud.sprout['ApiUrl']}/apps", timeout=30)
    assert answer.status_code == 403
    assert answer.json() == {"message": "Missing Authentication Token"}


def test_given_an_app_when_registered_then_it_is_listed_and_shown_with_default_stages(api, uid, repo):
    created = api.request("POST", "/apps", {"name": f"app-{uid}", "repository": repo})
    assert created["stages"] == [
        {"name": "dev", "branch": "main", "autoDeploy": True},
        {"name": "prod", "branch": None, "autoDeploy": False},
    ]
    # an empty repository has no branch head to build yet
    assert created.pop("builds") == []
    assert api.request("GET", f"/apps/app-{uid}") == created
    assert f"app-{uid}" in [a["name"] for a in api.request("GET", "/apps")["apps"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"repository": "r"}, "name"),
        ({"name": "x", "stages": [{"name": "dev"}]}, "repository"),
        ({"name": "Upper", "repository": "r"}, "name"),
        (
            {"name": "x", "repository": "r", "stages": [{"name": "dev", "autoDeploy": "yes"}]},
            "stages.0.autoDeploy",
        ),
        ({"name": "x", "repository": "r", "stages": [{"name": "dev"}, {"name": "dev"}]}, "stages"),
        ({"name": "x", "repository": "r", "stages": [{"name": "dev", "autoDeploy": True}]}, "stages"),
    ],
)
def test_given_a_malformed_app_when_registered_then_400_names_the_field(api, body, field):
    error = call_error(api, "POST", "/apps", body)
    assert error.status == 400
    assert error.body["field"] == field


def test_given_a_body_that_is_not_json_when_registered_then_400_names_the_body(cloud, api):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{cloud.sprout['ApiUrl']}/apps"
    request = AWSRequest(
        method="POST", url=url, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials("localcloud", "localcloud"), "execute-api", "us-east-1").add_auth(request)
    answer = requests.post(url, data=b"{not json", headers=dict(request.headers.items()), timeout=30)
    assert answer.status_code == 400
    assert answer.json()["field"] == "body"


def test_given_an_unknown_app_when_asked_for_then_404(api, uid):
    for path in (f"/apps/none-{uid}", f"/apps/none-{uid}/builds", f"/apps/none-{uid}/builds/1"):
        error = call_error(api, "GET", path)
        assert (error.status, error.body["message"]) == (404, f"app none-{uid} not found")


def test_given_an_app_when_registered_again_then_409(api, uid, repo):
    api.request("POST", "/apps", {"name": f"dup-{uid}", "repository": repo})
    error = call_error(api, "POST", "/apps", {"name": f"dup-{uid}", "repository": repo})
    assert error.status == 409 and f"dup-{uid}" in error.body["message"]


def test_given_a_known_app_when_an_unknown_build_is_asked_for_then_404(api, uid, repo):
    api.request("POST", "/apps", {"name": f"nob-{uid}", "repository": repo})
    assert call_error(api, "GET", f"/apps/nob-{uid}/builds/7").status == 404
    assert call_error(api, "GET", f"/apps/nob-{uid}/builds/seven").body["field"] == "number"
    assert api.request("GET", f"/apps/nob-{uid}/builds") == {"builds": [], "nextToken": None}


def test_given_a_build_request_naming_neither_branch_nor_commit_when_sent_then_400(api, uid, repo):
    api.request("POST", "/apps", {"name": f"req-{uid}", "repository": repo})
    error = call_error(api, "POST", f"/apps/req-{uid}/builds", {})
    assert (error.status, error.body["field"]) == (400, "branch or commit")
