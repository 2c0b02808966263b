"""Parameter Store's ``SecureString`` as AWS stores it: encrypted under a KMS key (the account's
AWS managed key ``alias/aws/ssm`` unless ``KeyId`` names another), so that ``GetParameter``
without ``WithDecryption`` answers the ciphertext (base64), never the plaintext.

moto "encrypts" by prefixing the plaintext with ``kms:<key>:``, so a read without decryption (a
CloudFormation ``AWS::SSM::Parameter::Value<String>`` parameter, ``GetParametersByPath``, a
history) carried the value in clear. Here the value is sealed with AES-GCM under a key derived from
the KMS key's id (a local cloud holds no real key material; what matters is that nothing but a
decrypting read gives the value back). A value moto sealed before this hook was installed (an old
data dir) is still read.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from localcloud.moto_hooks import hook

_PARAMETER = "moto.ssm.models"
_MAGIC = b"lcssm1"


def _key(key_id: str | None) -> bytes:
    return hashlib.sha256(f"localcloud ssm {key_id or 'alias/aws/ssm'}".encode()).digest()


def seal(key_id: str | None, plaintext: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(_key(key_id)).encrypt(nonce, plaintext.encode("utf-8"), _MAGIC)
    return base64.b64encode(_MAGIC + nonce + sealed).decode("ascii")


def unseal(key_id: str | None, text: str) -> str | None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        blob = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    if not blob.startswith(_MAGIC):
        return None
    nonce, sealed = blob[len(_MAGIC):len(_MAGIC) + 12], blob[len(_MAGIC) + 12:]
    try:
        return AESGCM(_key(key_id)).decrypt(nonce, sealed, _MAGIC).decode("utf-8")
    except InvalidTag:
        return None


def install(cloud: Any = None) -> None:
    @hook(_PARAMETER, "Parameter.encrypt", "SecureString values sealed, not prefixed plaintext")
    def encrypt(original: Any, self: Any, value: str) -> str:
        return seal(self.keyid, value)

    @hook(_PARAMETER, "Parameter.decrypt", "SecureString values unsealed only on a decrypting read")
    def decrypt(original: Any, self: Any, value: str) -> str | None:
        if self.parameter_type != "SecureString":
            return value
        opened = unseal(self.keyid, value)
        return opened if opened is not None else original(self, value)
