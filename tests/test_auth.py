"""JwtAuth and StaticToken: tokens that verify, claims, and secrets that never leak."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import OctKey, RSAKey

from kore_cases import Auth, JwtAuth, StaticToken

CLIENT_ID = "cs-0a1b2c3d-4e5f-6789-abcd-ef0123456789"
SECRET = "s3cr3t-Kore-client-secret-0123456789abcdef="
OTHER_SECRET = "another-client-secret-0123456789abcdefXYZ="


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048)


def _decode(token: str, key: Any, algorithm: str) -> jwt.Token:
    return jwt.decode(token, key, algorithms=[algorithm])


# -- HS256 ---------------------------------------------------------------------------


def test_hs256_token_verifies_with_the_secret() -> None:
    auth = JwtAuth(CLIENT_ID, SECRET)
    before = int(time.time())
    token = auth.token()
    after = int(time.time())
    decoded = _decode(token, OctKey.import_key(SECRET), "HS256")
    assert decoded.header["alg"] == "HS256"
    assert decoded.header["typ"] == "JWT"
    claims = decoded.claims
    assert claims["appId"] == CLIENT_ID
    assert before <= claims["iat"] <= after
    assert claims["exp"] == claims["iat"] + 300
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16
    assert set(claims) == {"appId", "iat", "exp", "jti"}


def test_hs256_token_does_not_verify_with_another_secret() -> None:
    token = JwtAuth(CLIENT_ID, SECRET).token()
    with pytest.raises(BadSignatureError):
        _decode(token, OctKey.import_key(OTHER_SECRET), "HS256")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms(algorithm: str) -> None:
    token = JwtAuth(CLIENT_ID, SECRET, algorithm=algorithm).token()
    decoded = _decode(token, OctKey.import_key(SECRET), algorithm)
    assert decoded.header["alg"] == algorithm
    assert decoded.claims["appId"] == CLIENT_ID


def test_ttl_sets_exp() -> None:
    claims = _decode(
        JwtAuth(CLIENT_ID, SECRET, ttl=60).token(), OctKey.import_key(SECRET), "HS256"
    ).claims
    assert claims["exp"] - claims["iat"] == 60


def test_jti_is_unique_across_100_tokens() -> None:
    auth = JwtAuth(CLIENT_ID, SECRET)
    key = OctKey.import_key(SECRET)
    tokens = [auth.token() for _ in range(100)]
    jtis = {_decode(t, key, "HS256").claims["jti"] for t in tokens}
    assert len(jtis) == 100
    assert len(set(tokens)) == 100


def test_extra_claims_are_added() -> None:
    auth = JwtAuth(CLIENT_ID, SECRET, extra_claims={"sub": "bot-1", "aud": "kore"})
    claims = _decode(auth.token(), OctKey.import_key(SECRET), "HS256").claims
    assert claims["sub"] == "bot-1"
    assert claims["aud"] == "kore"
    assert claims["appId"] == CLIENT_ID


def test_extra_claims_are_copied() -> None:
    extra = {"sub": "bot-1"}
    auth = JwtAuth(CLIENT_ID, SECRET, extra_claims=extra)
    extra["sub"] = "changed"
    extra["appId"] = "evil"
    claims = _decode(auth.token(), OctKey.import_key(SECRET), "HS256").claims
    assert claims["sub"] == "bot-1"
    assert claims["appId"] == CLIENT_ID


@pytest.mark.parametrize("claim", ["appId", "iat", "exp", "jti"])
def test_reserved_claims_are_refused(claim: str) -> None:
    with pytest.raises(ValueError, match=claim):
        JwtAuth(CLIENT_ID, SECRET, extra_claims={claim: "x"})


@pytest.mark.parametrize("algorithm", ["none", "None", "hs256", "ES256", "PS256", "EdDSA", ""])
def test_bad_algorithm(algorithm: str) -> None:
    with pytest.raises(ValueError, match="algorithm") as info:
        JwtAuth(CLIENT_ID, SECRET, algorithm=algorithm)
    assert "HS256" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("ttl", [0, -1, 1.5, True, "300", None])
def test_bad_ttl(ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl"):
        JwtAuth(CLIENT_ID, SECRET, ttl=ttl)


@pytest.mark.parametrize("client_id", ["", "   ", None, 5])
def test_bad_client_id(client_id: Any) -> None:
    with pytest.raises(ValueError, match="client_id"):
        JwtAuth(client_id, SECRET)


@pytest.mark.parametrize("secret", ["", None, b"bytes-secret-0123456789"])
def test_bad_client_secret(secret: Any) -> None:
    with pytest.raises(ValueError, match="client_secret"):
        JwtAuth(CLIENT_ID, secret)


# -- RS256 ---------------------------------------------------------------------------


def test_rs256_token_verifies_with_the_public_key(rsa_key: RSAKey) -> None:
    private_pem = rsa_key.as_pem(private=True).decode()
    public = RSAKey.import_key(rsa_key.as_pem(private=False))
    auth = JwtAuth(CLIENT_ID, private_pem, algorithm="RS256", ttl=120)
    decoded = _decode(auth.token(), public, "RS256")
    assert decoded.header["alg"] == "RS256"
    assert decoded.claims["appId"] == CLIENT_ID
    assert decoded.claims["exp"] == decoded.claims["iat"] + 120


def test_rs256_token_does_not_verify_with_another_key(rsa_key: RSAKey) -> None:
    auth = JwtAuth(CLIENT_ID, rsa_key.as_pem(private=True).decode(), algorithm="RS256")
    other = RSAKey.generate_key(2048)
    with pytest.raises(BadSignatureError):
        _decode(auth.token(), RSAKey.import_key(other.as_pem(private=False)), "RS256")


@pytest.mark.parametrize(
    "pem",
    [
        "-----BEGIN PRIVATE KEY-----\nTHIS-IS-NOT-A-KEY-bm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        "not-a-pem-at-all-THIS-IS-NOT-A-KEY",
    ],
)
def test_bad_pem_message_does_not_echo_the_pem(pem: str) -> None:
    with pytest.raises(ValueError, match="client_secret") as info:
        JwtAuth(CLIENT_ID, pem, algorithm="RS256")
    err = info.value
    assert "THIS-IS-NOT-A-KEY" not in str(err)
    assert "THIS-IS-NOT-A-KEY" not in repr(err)
    assert "RS256" in str(err)
    # The original exception (which may quote the key) is neither chained nor shown.
    assert err.__cause__ is None
    assert err.__suppress_context__ is True


def test_rs256_with_a_public_key_is_refused_at_construction(rsa_key: RSAKey) -> None:
    # A public key cannot sign: refusing it late, at the first request, with a joserfc
    # error instead of a ValueError naming client_secret is a confusing failure.
    public_pem = rsa_key.as_pem(private=False).decode()
    with pytest.raises(ValueError, match="client_secret"):
        JwtAuth(CLIENT_ID, public_pem, algorithm="RS256")


def test_hmac_secret_with_rs256_is_refused() -> None:
    with pytest.raises(ValueError, match="client_secret"):
        JwtAuth(CLIENT_ID, SECRET, algorithm="RS256")


# -- never leak ------------------------------------------------------------------------


def test_jwt_auth_repr_and_str_hide_the_secret() -> None:
    auth = JwtAuth(CLIENT_ID, SECRET)
    token = auth.token()
    for text in (repr(auth), str(auth), f"{auth}", f"{auth!r}"):
        assert SECRET not in text
        assert token not in text
    assert CLIENT_ID in repr(auth)
    assert "HS256" in repr(auth)


def test_jwt_auth_repr_hides_the_private_key(rsa_key: RSAKey) -> None:
    private_pem = rsa_key.as_pem(private=True).decode()
    auth = JwtAuth(CLIENT_ID, private_pem, algorithm="RS256")
    body_line = private_pem.splitlines()[1]
    assert body_line not in repr(auth)
    assert "PRIVATE" not in repr(auth)


def test_jwt_auth_has_no_instance_dict() -> None:
    # __slots__: no __dict__ through which vars()/logging helpers could dump the key.
    auth = JwtAuth(CLIENT_ID, SECRET)
    assert not hasattr(auth, "__dict__")


def test_static_token_repr_and_str_hide_the_token() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJhcHBJZCI6ImNzLTEifQ.c2lnbmF0dXJl"
    static = StaticToken(token)
    assert static.token() == token
    for text in (repr(static), str(static), f"{static}"):
        assert token not in text
        assert "eyJ" not in text
    assert "StaticToken" in repr(static)


def test_static_token_strips_surrounding_whitespace() -> None:
    assert StaticToken("  abc.def.ghi  ").token() == "abc.def.ghi"


@pytest.mark.parametrize("token", ["abc\r\ndef", "abc\ndef", "abc\rdef", "abc.def\n"])
def test_static_token_refuses_cr_lf(token: str) -> None:
    with pytest.raises(ValueError, match="CR or LF") as info:
        StaticToken(token)
    assert "abc" not in str(info.value)


@pytest.mark.parametrize("token", ["", "   ", None, 5, b"abc"])
def test_static_token_refuses_empty_and_non_str(token: Any) -> None:
    with pytest.raises(ValueError, match="token"):
        StaticToken(token)


def test_both_satisfy_the_auth_protocol() -> None:
    assert isinstance(JwtAuth(CLIENT_ID, SECRET), Auth)
    assert isinstance(StaticToken("abc"), Auth)
    assert not isinstance("abc", Auth)


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret", ["x", "short-secret!", "ünïcödé"])
def test_a_secret_too_short_for_hmac_is_refused_once_when_built(
    secret: str, algorithm: str
) -> None:
    # Not a SecurityWarning per token (which fails test runs with warnings as errors):
    # one clear error, naming the length, where the auth is built.
    with pytest.raises(ValueError, match=r"client_secret is \d+ bytes long"):
        JwtAuth(CLIENT_ID, secret, algorithm=algorithm)


def test_a_secret_of_112_bits_signs_without_a_warning() -> None:
    auth = JwtAuth(CLIENT_ID, "x" * 14)  # pytest turns any warning into an error
    assert auth.token().count(".") == 2
