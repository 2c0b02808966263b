"""SigV4 verification for methods with ``authorizationType: AWS_IAM``, as API Gateway does it:
service ``execute-api``, region us-east-1, keys of the local account's IAM users (secrets read
from moto's IAM backend), the local root key pair and role sessions' temporary keys (moto's STS),
5 minutes of allowed clock skew.

Session tokens as AWS treats them: a temporary key needs its own session token
(``X-Amz-Security-Token``) and must not have expired; a long-term key (the root's, an IAM user's)
with a session token is refused like an unknown key (403, ``The security token included in the
request is invalid.``).

The errors carry API Gateway's messages and ``x-amzn-ErrorType`` values.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from localcloud.moto_hooks import require

from .config import ACCOUNT_ID, REGION

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)
ROOT_KEYS = {"localcloud": "localcloud"}  # LocalCloud.client's credentials

_sts_backends = require(
    "moto.sts.models",
    "sts_backends",
    "the gateway verifies role sessions' temporary keys (STSBackend.get_assumed_role_from_access_key, "
    "AssumedRole.{secret_access_key,session_token,expiration,arn,user_id})",
)
_iam_backends = require(
    "moto.iam.models",
    "iam_backends",
    "the gateway verifies SigV4 signatures of IAM-authorized API methods with the secret of the "
    "access key (IAMBackend.get_all_access_keys_for_all_users, AccessKey.{access_key_id,"
    "secret_access_key,status,user_name}, IAMBackend.get_user, User.{id,arn})",
)


@dataclass(frozen=True)
class Identity:
    access_key: str
    caller: str
    user: str
    user_arn: str
    account_id: str
    session_token: str | None = None  # a temporary key's (role session); None for a long-term key
    expires: datetime | None = None  # a temporary key's expiry (UTC)


class AuthError(Exception):
    def __init__(self, message: str, error_type: str, response_type: str):
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.response_type = response_type


def missing_token() -> AuthError:
    return AuthError("Missing Authentication Token", "MissingAuthenticationTokenException", "MISSING_AUTHENTICATION_TOKEN")


def _incomplete(message: str) -> AuthError:
    return AuthError(message, "IncompleteSignatureException", "INVALID_SIGNATURE")


def _invalid(message: str, response_type: str = "INVALID_SIGNATURE") -> AuthError:
    return AuthError(message, "InvalidSignatureException", response_type)


class KeyStore:
    """access key id -> (secret, Identity); hits are kept for a second so a warm request does
    not walk IAM, misses are always looked up again (a key created a moment ago works)."""

    TTL = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str, Identity]] = {}

    def lookup(self, access_key: str) -> tuple[str, Identity] | None:
        now = time.monotonic()
        hit = self._cache.get(access_key)
        if hit is not None and now - hit[0] < self.TTL:
            return hit[1], hit[2]
        found = self._load(access_key)
        if found is not None:
            with self._lock:
                self._cache[access_key] = (now, *found)
        return found

    @staticmethod
    def _load(access_key: str) -> tuple[str, Identity] | None:
        if access_key in ROOT_KEYS:
            root_arn = f"arn:aws:iam::{ACCOUNT_ID}:root"
            return ROOT_KEYS[access_key], Identity(access_key, ACCOUNT_ID, ACCOUNT_ID, root_arn, ACCOUNT_ID)
        iam = _iam_backends[ACCOUNT_ID]["aws"]
        for key in iam.get_all_access_keys_for_all_users():
            if key.access_key_id != access_key:
                continue
            if key.status != "Active":
                return None
            user = iam.get_user(key.user_name)
            return key.secret_access_key, Identity(access_key, user.id, user.id, user.arn, ACCOUNT_ID)
        session = _sts_backends[ACCOUNT_ID]["aws"].get_assumed_role_from_access_key(access_key)
        if session is not None:
            expires = session.expiration if session.expiration.tzinfo else session.expiration.replace(tzinfo=UTC)
            try:
                user_id = session.user_id
            except Exception:  # the role is gone: the session's key stays known, its caller id is the session's
                user_id = session.session_name
            identity = Identity(access_key, user_id, user_id, session.arn, ACCOUNT_ID, session.session_token, expires)
            return session.secret_access_key, identity
        return None


def _invalid_token() -> AuthError:
    return AuthError("The security token included in the request is invalid.", "UnrecognizedClientException", "UNAUTHORIZED")


def _header(environ: dict, name: str) -> str | None:
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _amz_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def _canonical_path(raw_path: str) -> str:
    # As botocore signs it: dot segments and empty segments removed, then URI-encoded again.
    parts = [p for p in raw_path.split("/") if p and p != "."]
    out: list[str] = []
    for p in parts:
        if p == "..":
            if out:
                out.pop()
        else:
            out.append(p)
    path = "/" + "/".join(out)
    if raw_path.endswith("/") and out:
        path += "/"
    return quote(path, safe="/~")


def _canonical_query(raw_query: str, skip: str | None = None) -> str:
    pairs = []
    for pair in raw_query.split("&") if raw_query else []:
        if not pair:
            continue
        k, _, v = pair.partition("=")
        k, v = unquote(k), unquote(v)
        if skip is not None and k == skip:
            continue
        pairs.append((quote(k, safe="-_.~"), quote(v, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _signing_key(secret: str, date: str, service: str = SERVICE) -> bytes:
    k = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (REGION, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


class Verifier:
    def __init__(self, keys: KeyStore | None = None, service: str = SERVICE):
        self.keys = keys or KeyStore()
        self.service = service  # the signing name: execute-api, or lambda for function URLs

    def verify(self, environ: dict, raw_path: str, raw_query: str, body: bytes) -> Identity:
        """The caller's identity, or AuthError as API Gateway would answer."""
        header = environ.get("HTTP_AUTHORIZATION")
        query_sig = "X-Amz-Signature=" in raw_query or "X-Amz-Algorithm=" in raw_query
        if header:
            parts = self._parse_header(header, environ)
            presigned_expires = None
        elif query_sig:
            parts, presigned_expires = self._parse_query(raw_query)
        else:
            raise missing_token()

        credential = parts["Credential"]
        scope = credential.split("/")
        if len(scope) != 5:
            raise _incomplete(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
                f" got '{credential}'"
            )
        access_key, scope_date, scope_region, scope_service, term = scope
        signed_headers = [h.strip().lower() for h in parts["SignedHeaders"].split(";") if h.strip()]
        if "host" not in signed_headers:
            raise _invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")

        when_text = parts.get("X-Amz-Date") or ""
        when = _amz_time(when_text) if when_text else None
        if when is None and not query_sig and environ.get("HTTP_DATE"):
            try:
                when = parsedate_to_datetime(environ["HTTP_DATE"]).astimezone(UTC)
                when_text = _stamp(when)
            except (TypeError, ValueError):
                when = None
        if when is None:
            raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{when_text}'. See http://en.wikipedia.org/wiki/ISO_8601")

        now = datetime.now(UTC).replace(microsecond=0)
        if presigned_expires is not None:
            if now > when + timedelta(seconds=presigned_expires):
                raise _invalid(f"Signature expired: {_stamp(when + timedelta(seconds=presigned_expires))} is now earlier than {_stamp(now)}.")
        elif when < now - MAX_SKEW:
            raise _invalid(f"Signature expired: {when_text} is now earlier than {_stamp(now - MAX_SKEW)} ({_stamp(now)} - 5 min.)")
        elif when > now + MAX_SKEW:
            raise _invalid(f"Signature not yet current: {when_text} is still later than {_stamp(now + MAX_SKEW)} ({_stamp(now)} + 5 min.)")

        if scope_date != when_text[:8]:
            raise _invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope_date}' != '{when_text[:8]}', from '{when_text}'."
            )
        if scope_region != REGION:
            raise _invalid(f"Credential should be scoped to a valid region, not '{scope_region}'. ")
        if scope_service != self.service:
            raise _invalid(f"Credential should be scoped to correct service: '{self.service}'. ")
        if term != "aws4_request":
            raise _invalid(f"Credential should be scoped with a valid terminator: 'aws4_request', not '{term}'. ")

        found = self.keys.lookup(access_key)
        if found is None:
            raise _invalid_token()
        secret, identity = found
        token = parts.get("X-Amz-Security-Token") or environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
        if identity.session_token is None:
            if token:  # a long-term key never comes with a session token
                raise _invalid_token()
        elif token != identity.session_token:
            raise _invalid_token()
        elif identity.expires is not None and identity.expires <= now:
            raise AuthError("The security token included in the request is expired", "ExpiredTokenException", "EXPIRED_TOKEN")

        canonical_headers = "".join(f"{h}:{' '.join((_header(environ, h) or '').split())}\n" for h in signed_headers)
        payload_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or hashlib.sha256(body).hexdigest()
        canonical = "\n".join(
            [
                environ.get("REQUEST_METHOD", "GET").upper(),
                _canonical_path(raw_path),
                _canonical_query(raw_query, skip="X-Amz-Signature" if presigned_expires is not None else None),
                canonical_headers,
                ";".join(signed_headers),
                payload_hash,
            ]
        )
        string_to_sign = "\n".join(
            [ALGORITHM, when_text, f"{scope_date}/{REGION}/{self.service}/aws4_request", hashlib.sha256(canonical.encode()).hexdigest()]
        )
        expected = hmac.new(_signing_key(secret, scope_date, self.service), string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise _invalid(
                "The request signature we calculated does not match the signature you provided. Check your AWS"
                " Secret Access Key and signing method. Consult the service documentation for details.\n\n"
                f"The Canonical String for this request should have been\n'{canonical}'\n\n"
                f"The String-to-Sign should have been\n'{string_to_sign}'\n"
            )
        return identity

    @staticmethod
    def _parse_header(header: str, environ: dict) -> dict[str, str]:
        algorithm, _, rest = header.strip().partition(" ")
        parts: dict[str, str] = {}
        for item in rest.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" not in item:
                raise _incomplete(f"'{item}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'.")
            k, v = item.split("=", 1)
            parts[k.strip()] = v.strip()
        missing = [f"Authorization header requires '{k}' parameter." for k in ("Credential", "Signature", "SignedHeaders") if k not in parts]
        if not environ.get("HTTP_X_AMZ_DATE") and not environ.get("HTTP_DATE"):
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if missing:
            raise _incomplete(" ".join(missing) + f" Authorization={header}")
        if algorithm != ALGORITHM:
            raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'")
        if environ.get("HTTP_X_AMZ_DATE"):
            parts["X-Amz-Date"] = environ["HTTP_X_AMZ_DATE"]
        return parts

    @staticmethod
    def _parse_query(raw_query: str) -> tuple[dict[str, str], int]:
        q: dict[str, str] = {}
        for pair in raw_query.split("&"):
            k, _, v = pair.partition("=")
            q[unquote(k)] = unquote(v)
        need = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
        missing = [f"AWS query-string parameters must include '{k}'." for k in need if k not in q]
        if missing:
            raise _incomplete(" ".join(missing) + " Re-examine the query-string parameters.")
        if q["X-Amz-Algorithm"] != ALGORITHM:
            raise _incomplete(f"Unsupported AWS 'algorithm': '{q['X-Amz-Algorithm']}'")
        try:
            expires = int(q.get("X-Amz-Expires", "900"))
        except ValueError:
            raise _incomplete("X-Amz-Expires must be a number of seconds") from None
        parts = {
            "Credential": q["X-Amz-Credential"],
            "Signature": q["X-Amz-Signature"],
            "SignedHeaders": q["X-Amz-SignedHeaders"],
            "X-Amz-Date": q["X-Amz-Date"],
        }
        if q.get("X-Amz-Security-Token"):
            parts["X-Amz-Security-Token"] = q["X-Amz-Security-Token"]
        return parts, expires
