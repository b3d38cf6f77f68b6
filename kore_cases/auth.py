"""Credentials for the ``auth`` header: a JWT minted per request, or a static token.

Kore.ai apps authenticate public API calls with a JWT signed by the app's client secret
(HS256) or private key (RS256) whose payload names the app: ``{"appId": client_id}``.
Apps may insist on a unique ``jti`` claim, so :class:`JwtAuth` mints a fresh token, with
its own ``jti``, ``iat`` and ``exp``, for every request (about 15 µs each).

Neither the secret nor any token ever appears in ``repr()`` or ``str()`` of these objects.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._checks import whole_number

if TYPE_CHECKING:  # joserfc (and cryptography under it) load with the first JwtAuth
    from joserfc.jwk import OctKey, RSAKey

__all__ = ["Auth", "JwtAuth", "StaticToken"]

_HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
# Claims we set ourselves; letting extra_claims override them would break auth silently.
_RESERVED_CLAIMS = frozenset({"appId", "iat", "exp", "jti"})
_MIN_HMAC_SECRET_BYTES = 14


@runtime_checkable
class Auth(Protocol):
    """Anything that gives the value of the ``auth`` header for the next request."""

    def token(self) -> str:
        """Return the token to send with the next request."""
        ...


class JwtAuth:
    """Mint a signed JWT for every request from the app's client id and secret.

    ``algorithm`` is ``"HS256"`` (the default: ``client_secret`` is the app's secret) or
    ``"RS256"`` (``client_secret`` is a PEM private key); HS384/HS512/RS384/RS512 work too.
    ``ttl`` is the token lifetime in seconds (``exp = iat + ttl``). ``extra_claims`` adds
    claims of your own (``appId``, ``iat``, ``exp`` and ``jti`` are always ours).
    """

    __slots__ = ("_claims", "_encode", "_header", "_key", "algorithm", "client_id", "ttl")

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        algorithm: str = "HS256",
        ttl: int = 300,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(client_id, str) or not client_id.strip():
            raise ValueError("client_id must be the app's non-empty client id, e.g. 'cs-…'")
        if not isinstance(client_secret, str) or not client_secret:
            raise ValueError("client_secret must be the app's non-empty client secret")
        whole_number("ttl", ttl, 1)
        claims = dict(extra_claims or {})
        clash = _RESERVED_CLAIMS.intersection(claims)
        if clash:
            raise ValueError(f"extra_claims may not set {sorted(clash)}: JwtAuth sets them")
        self.client_id: str = client_id
        self.algorithm: str = algorithm
        self.ttl: int = ttl
        self._claims = claims
        self._header = {"alg": algorithm, "typ": "JWT"}
        self._key = _import_key(algorithm, client_secret)
        from joserfc import jwt

        self._encode = jwt.encode

    def token(self) -> str:
        """Return a new signed JWT with a fresh ``jti``, ``iat`` and ``exp``."""
        now = int(time.time())
        claims = {
            **self._claims,
            "appId": self.client_id,
            "iat": now,
            "exp": now + self.ttl,
            "jti": secrets.token_hex(16),
        }
        return self._encode(self._header, claims, self._key, algorithms=[self.algorithm])

    def __repr__(self) -> str:
        return (
            f"JwtAuth(client_id={self.client_id!r}, algorithm={self.algorithm!r}, ttl={self.ttl})"
        )


class StaticToken:
    """Send the same, already minted token with every request (e.g. from ``KORE_JWT``)."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValueError("token must be a non-empty JWT string")
        if any(ch in token for ch in "\r\n"):
            raise ValueError("token must not contain CR or LF characters")
        self._token = token.strip()

    def token(self) -> str:
        """Return the static token."""
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(token='***')"


def _check_hmac_secret(secret: str) -> None:
    """Refuse a secret too short to sign with, once, instead of a warning per token."""
    size = len(secret.encode())
    if size < _MIN_HMAC_SECRET_BYTES:
        # joserfc would emit a SecurityWarning, which fails a test run with warnings as
        # errors; Kore's app secrets are far longer, so this is a mistake to name.
        raise ValueError(
            f"client_secret is {size} bytes long; an HMAC key needs at least "
            f"{_MIN_HMAC_SECRET_BYTES} (112 bits, NIST SP 800-131A): pass the app's client "
            "secret from the Kore.ai app settings, not its client id or a placeholder"
        )


def _import_key(algorithm: str, secret: str) -> OctKey | RSAKey:
    from joserfc.errors import JoseError
    from joserfc.jwk import OctKey, RSAKey

    if algorithm in _HMAC_ALGORITHMS:
        _check_hmac_secret(secret)
        key: OctKey | RSAKey = OctKey.import_key(secret)
        return key
    if algorithm in _RSA_ALGORITHMS:
        try:
            key = RSAKey.import_key(secret)
        except (JoseError, ValueError, TypeError):
            # The message must not echo the key, so the cause is not chained.
            raise ValueError(
                f"client_secret is not a PEM RSA private key, which {algorithm} needs"
            ) from None
        if not key.is_private:
            raise ValueError(
                f"client_secret is an RSA public key; {algorithm} signs with the private key"
            )
        return key
    supported = ", ".join(_HMAC_ALGORITHMS + _RSA_ALGORITHMS)
    raise ValueError(f"algorithm {algorithm!r} is not supported; use one of {supported}")
