"""gateway: serves every REST API stage (and every HTTP API stage, see http_api.py) of the local cloud over HTTP, as API Gateway does.

``{endpoint}/_aws/execute-api/{apiId}/{stage}/{path}`` (localcloud.urls.EXECUTE_API_PREFIX):
routes from the API's resources (literal, ``{param}``, greedy ``{proxy+}``, ``ANY``), Lambda proxy
integrations run through the Lambda ``Invoke`` API of the local endpoint, MOCK integrations (CORS
preflight), SigV4 verification on ``AWS_IAM`` methods, Lambda authorizers (TOKEN and REQUEST, with
their result cache) on ``CUSTOM`` methods (authorizers.py), Cognito user pool authorizers (cognito.py), API keys and usage plans on methods that
require a key (api_keys.py), access logs in the stage's log group and ``AWS/ApiGateway`` metrics
written by a background service.
"""

from __future__ import annotations

from localcloud.urls import EXECUTE_API_PREFIX

from . import moto_patches, openapi
from .app import Gateway
from .cognito import UserPoolTokens
from .http_api import Dispatcher, HttpApiGateway
from .proxy import LambdaInvoker
from .telemetry import Telemetry

__all__ = ["Gateway", "install"]


class _Closing:
    """Stops the invoker's threads when the cloud stops."""

    def __init__(self, invoker: LambdaInvoker):
        self.invoker = invoker

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.invoker.close()


def install(cloud) -> None:
    from localcloud.cloud import REGION, ROOT_ACCESS_KEY

    openapi.install()
    moto_patches.install()
    invoker = LambdaInvoker(cloud.wsgi_app, cloud.host, cloud.port, ROOT_ACCESS_KEY, REGION)
    recorder = Telemetry(cloud.client)
    rest = Gateway(invoker, recorder, user_pools=UserPoolTokens(lambda: cloud.endpoint))
    cloud.mount(EXECUTE_API_PREFIX, Dispatcher(rest, HttpApiGateway(invoker, recorder)))
    cloud.add_service(recorder)
    cloud.add_service(_Closing(invoker))
