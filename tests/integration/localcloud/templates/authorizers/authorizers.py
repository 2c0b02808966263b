"""Two Lambda authorizers whose answer is chosen by the caller's token (tests only)."""

import uuid


def _policy(effect, resource, principal, context):
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": context,
    }


def token(event, context):
    """``Bearer allow-<user>``: Allow this method; ``deny``: Deny; ``unauthorized``: 401;
    ``boom``: an error; ``junk``: not a policy; ``other``: Allow another method only."""
    word = event["authorizationToken"].split(" ", 1)[1]
    kind, _, user = word.partition("-")
    extra = {"invocation": str(uuid.uuid4()), "user": user, "type": event["type"], "count": 3, "admin": True}
    if kind == "allow":
        # the whole API: the cached answer also serves the API's other methods
        api = event["methodArn"].split("/", 1)[0]
        return _policy("Allow", f"{api}/*", user, {**extra, "methodArn": event["methodArn"]})
    if kind == "deny":
        return _policy("Deny", event["methodArn"], user, extra)
    if kind == "unauthorized":
        raise Exception("Unauthorized")
    if kind == "boom":
        raise RuntimeError("boom")
    if kind == "other":
        return _policy("Allow", event["methodArn"].rsplit("/", 2)[0] + "/POST/elsewhere", user, extra)
    return {"hello": "not a policy"}


def request(event, context):
    """Allows tenant ``acme`` with key ``k1``; echoes what API Gateway passed."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    ok = headers.get("x-tenant") == "acme" and query.get("key") == "k1"
    seen = {
        "invocation": str(uuid.uuid4()),
        "type": event["type"],
        "resource": event.get("resource"),
        "httpMethod": event.get("httpMethod"),
        "tier": (event.get("stageVariables") or {}).get("tier"),
    }
    return _policy("Allow" if ok else "Deny", event["methodArn"], "tenant-" + headers.get("x-tenant", ""), seen)
