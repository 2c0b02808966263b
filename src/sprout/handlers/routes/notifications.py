"""``/apps/{app}/notifications``: an app's notification targets (webhooks, Slack), replaced whole by
PUT (a webhook's generated secret is in that answer only), read by GET (no secrets), and a test
notification to each (POST ``…/test``). Who may change an app's targets is IAM's answer, as for
every route: ``execute-api:Invoke`` on ``…/PUT/apps/<app>/notifications``."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.handlers.http import body_of, caller, json_response
from sprout.services.notifications import NotificationSettings

router = Router()


def _notifications() -> NotificationSettings:
    notifications: NotificationSettings = router.context["notifications"]
    return notifications


@router.get("/apps/<app>/notifications")
def get_notifications(app: str) -> Response:
    return json_response(200, _notifications().show(app))


@router.put("/apps/<app>/notifications")
def put_notifications(app: str) -> Response:
    return json_response(200, _notifications().put(app, body_of(router)))


@router.post("/apps/<app>/notifications/test")
def test_notifications(app: str) -> Response:
    return json_response(202, _notifications().test(app, caller(router)))
