"""PutEvents refuses the ``aws.*`` sources, entry by entry, as EventBridge does.

Events whose ``Source`` begins with ``aws.`` come from AWS services only: EventBridge answers such
an entry of a customer's PutEvents with ``ErrorCode: NotAuthorizedForSourceException`` and puts the
others (``FailedEntryCount`` counts it; the request itself succeeds). That is what keeps an app from
forging a ``CloudWatch Alarm State Change`` (``aws.cloudwatch``) or a CodeCommit push
(``aws.codecommit``) that a rule would act on.

On the local cloud the services that emit such events (alarms, CodeCommit, Step Functions) put
them with the root key, which plays the AWS services: under ``--enforce-iam`` every other caller
(an IAM user, a role session: a Lambda function, a state machine) is refused per entry. Without
enforcement every caller is the root, and nothing is refused.
"""

from __future__ import annotations

from typing import Any

from localcloud.moto_hooks import hook

REFUSED = {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
MAX_ENTRIES = 10  # more is moto's (and AWS's) ValidationException for the whole request


def refused(entry: Any) -> bool:
    return isinstance(entry, dict) and str(entry.get("Source") or "").startswith("aws.")


def install() -> None:
    from localcloud import iam

    @hook(
        "moto.events.models",
        "EventsBackend.put_events",
        "with --enforce-iam, an entry with an aws.* source from a caller other than the root is refused",
    )
    def put_events(original: Any, backend: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not events or len(events) > MAX_ENTRIES or iam.caller_is_root() or not any(refused(e) for e in events):
            return original(backend, events)
        allowed = [e for e in events if not refused(e)]
        results = iter(original(backend, allowed) if allowed else [])
        return [dict(REFUSED) if refused(e) else next(results) for e in events]
