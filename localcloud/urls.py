"""Where things of the local cloud live over HTTP. One place, so that the provisioner's stack
outputs, the HTTP gateway and the git server agree."""

from __future__ import annotations

import re

# API Gateway stages are served under this prefix: {endpoint}/_aws/execute-api/{apiId}/{stage}/{path}
EXECUTE_API_PREFIX = "/_aws/execute-api/"
# Lambda function URLs: {endpoint}/_aws/lambda-url/{urlId}/{path} serves https://{urlId}.lambda-url.{region}.on.aws/{path}
LAMBDA_URL_PREFIX = "/_aws/lambda-url/"
# CodeCommit repositories: {endpoint}/v1/repos/{repositoryName} (the path CodeCommit's own URLs use)
GIT_PREFIX = "/v1/repos/"

_AWS_EXECUTE_API = re.compile(
    r"https://(?P<api>[A-Za-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<rest>/[^\s\"']*)?"
)


_AWS_LAMBDA_URL = re.compile(r"https://(?P<id>[a-z0-9]+)\.lambda-url\.(?P<region>[a-z0-9-]+)\.on\.aws(?P<rest>/[^\s\"']*)?")


def execute_api_url(endpoint: str, api_id: str, stage: str) -> str:
    return f"{endpoint}{EXECUTE_API_PREFIX}{api_id}/{stage}"


def localize_execute_api_urls(text: str, endpoint: str) -> str:
    """Rewrite AWS ``https://{api}.execute-api.{region}.amazonaws.com/{stage}/...`` URLs in ``text``
    to the local gateway's URLs (and function URLs ``https://{id}.lambda-url.{region}.on.aws/...``
    to ``{endpoint}/_aws/lambda-url/{id}/...``)."""

    def repl(m: re.Match) -> str:
        return f"{endpoint}{EXECUTE_API_PREFIX}{m.group('api')}{m.group('rest') or '/'}"

    def repl_url(m: re.Match) -> str:
        return f"{endpoint}{LAMBDA_URL_PREFIX}{m.group('id')}{m.group('rest') or '/'}"

    return _AWS_LAMBDA_URL.sub(repl_url, _AWS_EXECUTE_API.sub(repl, text))


def git_clone_url(endpoint: str, repository: str) -> str:
    return f"{endpoint}{GIT_PREFIX}{repository}"
