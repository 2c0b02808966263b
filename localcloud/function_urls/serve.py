"""Serving ``{endpoint}/_aws/lambda-url/{urlId}/{path}`` as Lambda serves
``https://{urlId}.lambda-url.{region}.on.aws/{path}``.

The function is invoked with the function URL event (payload format 2.0: ``routeKey`` and ``stage``
``$default``, ``requestContext.domainName`` the URL's AWS host, ``accountId`` ``anonymous`` for
``AuthType: NONE``, ``authorizer.iam`` for ``AWS_IAM``) and its answer read as an HTTP API's 2.0
response. ``AWS_IAM`` URLs need a SigV4 signature for service ``lambda`` (else 403 ``{"Message":
"Forbidden"}``) and, with ``--enforce-iam``, ``lambda:InvokeFunctionUrl`` allowed to the caller;
``NONE`` URLs, with ``--enforce-iam``, need the function's resource-based policy to grant
``lambda:InvokeFunctionUrl`` to everyone (what SAM's ``FunctionUrlConfig`` adds). A function error
answers 502. A URL's ``Cors`` answers preflights and adds the allow headers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, unquote

from localcloud import iam
from localcloud.gateway import http_routes, proxy, sigv4
from localcloud.gateway.app import _read_body, _signed_headers, _status_line
from localcloud.gateway.http_api import Reply, _function_response, _headers
from localcloud.iam import actions as iam_actions
from localcloud.iam import policy as iam_policy
from localcloud.urls import LAMBDA_URL_PREFIX

from . import UrlConfig, find

log = logging.getLogger("localcloud.function_urls")

INVOKE_TIMEOUT_S = 900.0  # the runner ends the function at its own timeout


def _message(status: int, message: str) -> Reply:
    return Reply(status, [("Content-Type", "application/json")], json.dumps({"Message": message}, separators=(",", ":")).encode(), message)


class FunctionUrls:
    def __init__(self, cloud: Any):
        from localcloud.cloud import ROOT_ACCESS_KEY

        self.region = cloud.region
        self.account_id = cloud.account_id
        self.invoker = proxy.LambdaInvoker(cloud.wsgi_app, cloud.host, cloud.port, ROOT_ACCESS_KEY, cloud.region)
        self.verifier = sigv4.Verifier(service="lambda")
        self._lambda = None
        self._make_client = cloud.client

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or quote(environ.get("PATH_INFO", ""))
        raw_path, _, raw_query = raw_uri.partition("?")
        url_id, _, rest = raw_path[len(LAMBDA_URL_PREFIX) :].partition("/")
        request_id = str(uuid.uuid4())
        try:
            reply = self._serve(environ, unquote(url_id), "/" + rest, raw_path, raw_query, request_id)
        except Exception:  # never a stack trace to the client
            log.exception("function URL %s failed", url_id)
            reply = _message(502, "Internal Server Error")
        headers = [*reply.headers, ("x-amzn-RequestId", request_id), ("Content-Length", str(len(reply.body)))]
        start_response(_status_line(reply.status), headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else reply.body]

    def _serve(self, environ: dict, url_id: str, path: str, raw_path: str, raw_query: str, request_id: str) -> Reply:
        config = find(url_id)
        if config is None:
            return _message(404, f"No function URL {url_id}")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        origin = environ.get("HTTP_ORIGIN")
        if method == "OPTIONS" and config.cors and origin and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return Reply(200, http_routes.cors_headers(config.cors, origin, preflight=True), b"")
        cors = http_routes.cors_headers(config.cors, origin, preflight=False)
        body, problem = _read_body(environ)
        if problem is not None:
            return Reply(problem.status, problem.headers, problem.body)
        identity = None
        if config.auth_type == "AWS_IAM":
            try:
                identity = self.verifier.verify(environ, raw_path, raw_query, body)
                iam.authorize_request(
                    _signed_headers(environ),
                    raw_query,
                    iam_actions.Call("lambda", "InvokeFunctionUrl"),
                    checks=[iam_actions.Check("lambda:InvokeFunctionUrl", config.function_arn)],
                )
            except (sigv4.AuthError, iam.Denied):
                return _message(403, "Forbidden")
        elif iam.enforcing() and not self._public(config):
            return _message(403, "Forbidden")
        event = self._event(environ, config, path, raw_query, body, request_id, identity)
        try:
            status, headers, payload = self.invoker.invoke(
                config.function_name, config.qualifier, json.dumps(event).encode(), INVOKE_TIMEOUT_S
            )
        except (proxy.IntegrationTimeout, proxy.InvokeFailed) as e:
            log.warning("function URL %s: %s", url_id, e)
            return _message(502, "Internal Server Error")
        if status != 200 or headers.get("x-amz-function-error"):
            return _message(502, "Internal Server Error")
        reply = _function_response(payload)
        if reply.status == 500 and reply.error:
            return _message(502, "Internal Server Error")
        reply.headers += cors
        return reply

    def _public(self, config: UrlConfig) -> bool:
        """Whether the function's resource-based policy lets anyone call its URL."""
        if self._lambda is None:
            self._lambda = self._make_client("lambda")
        kwargs = {"FunctionName": config.function_name, **({"Qualifier": config.qualifier} if config.qualifier else {})}
        try:
            document = self._lambda.get_policy(**kwargs)["Policy"]
        except Exception:  # no policy at all
            return False
        request = iam_policy.Request(
            "lambda:InvokeFunctionUrl",
            config.function_arn,
            {"lambda:FunctionUrlAuthType": "NONE"},
            iam_policy.Caller(arn="anonymous"),
        )
        return iam_policy.evaluate([document], request) is iam_policy.Decision.ALLOW

    def _event(
        self, environ: dict, config: UrlConfig, path: str, raw_query: str, body: bytes, request_id: str, identity: Any
    ) -> dict[str, Any]:
        domain = f"{config.url_id}.lambda-url.{self.region}.on.aws"
        incoming = http_routes.Incoming(
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            raw_path=path,
            raw_query=raw_query,
            headers=_headers(environ),
            body=body,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
            protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            request_id=request_id,
            epoch=time.time(),
            domain=domain,
        )
        match = http_routes.RouteMatch(None, "$default")
        event = http_routes.event_v2(incoming, SimpleNamespace(api_id=config.url_id), "$default", match, {})
        context = event["requestContext"]
        context["accountId"] = identity.account_id if identity else "anonymous"
        if identity is not None:
            context["authorizer"] = {
                "iam": {
                    "accessKey": identity.access_key,
                    "accountId": identity.account_id,
                    "callerId": identity.caller,
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": identity.user_arn,
                    "userId": identity.user,
                }
            }
        return event
