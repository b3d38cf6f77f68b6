"""The fake server's ``auth`` header: HS256 JWTs checked as Kore checks them, and minted."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OctKey

from ._records import RequestRecord

__all__ = ["Tokens"]


class Tokens:
    """Checks and makes HS256 tokens signed with ``secret``, for the ``appId`` given each time."""

    def __init__(self, secret: str, *, unique_jti: bool) -> None:
        self._unique_jti = unique_jti
        self._seen_jti: set[str] = set()
        with warnings.catch_warnings():
            # A fake must accept whatever secret the user's client signs with, however short.
            warnings.simplefilter("ignore", SecurityWarning)
            self._key = OctKey.import_key(secret)

    def problem(self, token: str | None, app_id: str, record: RequestRecord) -> str | None:
        """Why ``token`` is refused (401), or ``None``; notes its ``jti`` in ``record``."""
        if not token:
            return "auth token is required"
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"]).claims
        except (JoseError, ValueError):
            return "Invalid token: signature verification failed"
        jti = claims.get("jti")
        record.jti = jti if isinstance(jti, str) else None
        if claims.get("appId") != app_id:
            return "Invalid token: appId does not match"
        expires = claims.get("exp")
        if expires is not None and (not isinstance(expires, (int, float)) or expires < time.time()):
            return "Invalid token: token expired"
        if self._unique_jti:
            if record.jti is None:
                return "Invalid token: jti claim is required"
            if record.jti in self._seen_jti:
                return "Invalid token: jti already used"
            self._seen_jti.add(record.jti)
        return None

    def make(self, app_id: str, claims: Mapping[str, Any]) -> str:
        """A valid token: ``appId``, ``iat``, ``exp`` = now + 300, ``jti``; ``claims`` on top.

        A claim given as ``None`` is left out.
        """
        now = int(time.time())
        payload = {"appId": app_id, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, payload, self._key)
