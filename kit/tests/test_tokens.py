"""Token verification: HS256 with a shared secret, RS256 through a JWKS served over real HTTP."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from sprintboard_kit.tokens import (
    Identity,
    InvalidToken,
    TokenVerifier,
    mint_dev_token,
    tenant_id_for,
    user_id_for,
)

SECRET = "a-test-secret-that-is-long-enough-for-hs256-and-even-for-hs512-keys!!"


def test_dev_token_round_trip_gives_the_deterministic_identity() -> None:
    token = mint_dev_token(SECRET, "alice", "Alice", "alice@example.com", org_id="org-1")
    identity = TokenVerifier(secret=SECRET).verify(token)
    assert identity.subject == "alice"
    assert identity.name == "Alice"
    assert identity.email == "alice@example.com"
    assert identity.org_id == "org-1"
    assert identity.tenant_id == "org-1"
    assert identity.user_id == user_id_for(None, "alice")
    assert identity.exp is not None and identity.exp > time.time()


def test_personal_space_tenant_is_derived_from_the_user_id() -> None:
    identity = TokenVerifier(secret=SECRET).verify(mint_dev_token(SECRET, "bob", "Bob", None))
    assert identity.org_id is None
    assert identity.tenant_id == f"user:{identity.user_id}" == tenant_id_for(None, identity.user_id)


def test_user_id_depends_on_issuer_and_subject() -> None:
    assert user_id_for("https://a", "x") != user_id_for("https://b", "x")
    assert user_id_for(None, "x") == user_id_for("", "x")
    assert user_id_for("i", "x") == uuid.uuid5(uuid.UUID("6f1c3f4e-0b5a-5d7e-9a3c-5b0a7d0c0717"), "i|x")


@pytest.mark.parametrize(
    ("token_factory", "reason"),
    [
        (lambda: mint_dev_token(SECRET, "a", "A", None, ttl_seconds=-60), "expired"),
        (
            lambda: mint_dev_token(
                "another-secret-that-is-long-enough-for-hs256-and-even-for-hs512!!", "a", "A", None
            ),
            "bad_signature",
        ),
        (lambda: "not-a-jwt", "malformed"),
        (lambda: jwt.encode({"sub": "a"}, SECRET, algorithm="HS256"), "missing_claim"),
        (lambda: jwt.encode({"sub": "a", "exp": 9e9}, SECRET, algorithm="HS512"), "unsupported_algorithm"),
    ],
)
def test_hs256_refusals(token_factory: Any, reason: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        TokenVerifier(secret=SECRET).verify(token_factory())
    assert caught.value.reason == reason


def test_issuer_and_audience_are_enforced_when_configured() -> None:
    verifier = TokenVerifier(secret=SECRET, issuer="https://idp", audience="sprintboard")
    good = mint_dev_token(SECRET, "a", "A", None, issuer="https://idp", audience="sprintboard")
    assert verifier.verify(good).issuer == "https://idp"
    with pytest.raises(InvalidToken) as wrong_aud:
        verifier.verify(mint_dev_token(SECRET, "a", "A", None, issuer="https://idp", audience="other"))
    assert wrong_aud.value.reason == "invalid_audience"
    with pytest.raises(InvalidToken) as wrong_iss:
        verifier.verify(mint_dev_token(SECRET, "a", "A", None, issuer="https://evil", audience="sprintboard"))
    assert wrong_iss.value.reason == "invalid_issuer"


def test_a_verifier_needs_a_key_source() -> None:
    with pytest.raises(ValueError):
        TokenVerifier()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def _rs256(key: rsa.RSAPrivateKey, kid: str = "key-1", **claims: Any) -> str:
    payload = {"sub": "carol", "name": "Carol", "iss": "https://idp", "exp": int(time.time()) + 60, **claims}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def test_rs256_through_jwks(rsa_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
    verifier = TokenVerifier(jwks_url=jwks_url, issuer="https://idp", audience="sprintboard")
    identity = verifier.verify(_rs256(rsa_key, aud="sprintboard", org_id="acme"))
    assert identity == Identity(
        subject="carol",
        issuer="https://idp",
        user_id=user_id_for("https://idp", "carol"),
        org_id="acme",
        name="Carol",
        email=None,
        tenant_id="acme",
        exp=identity.exp,
    )


async def test_rs256_async_verify_and_refusals(rsa_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
    verifier = TokenVerifier(jwks_url=jwks_url)
    assert (await verifier.averify(_rs256(rsa_key))).subject == "carol"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken) as forged:
        verifier.verify(_rs256(other_key))
    assert forged.value.reason == "bad_signature"
    with pytest.raises(InvalidToken) as expired:
        verifier.verify(_rs256(rsa_key, exp=int(time.time()) - 60))
    assert expired.value.reason == "expired"
    with pytest.raises(InvalidToken) as unknown:
        verifier.verify(_rs256(rsa_key, kid="nope"))
    assert unknown.value.reason == "unknown_key"
    # An HS256 token is refused when only a JWKS is configured (no algorithm confusion).
    with pytest.raises(InvalidToken) as hs:
        verifier.verify(mint_dev_token(SECRET, "a", "A", None))
    assert hs.value.reason == "unsupported_algorithm"


def test_a_remembered_token_still_expires() -> None:
    verifier = TokenVerifier(secret=SECRET, leeway=0)
    token = mint_dev_token(SECRET, "a", "A", None, ttl_seconds=1)
    assert verifier.verify(token) is verifier.verify(token)  # the second check is served from the cache
    time.sleep(2.1)
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    assert caught.value.reason == "expired"
