"""Bearer tokens shared by backlog and notifier: verification (HS256 or RS256 via JWKS) and the identity."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt

# Fixed forever: user ids derived from it are stored in rows and carried in events.
SPRINTBOARD_USER_NAMESPACE = uuid.UUID("6f1c3f4e-0b5a-5d7e-9a3c-5b0a7d0c0717")
HMAC_ALGORITHMS = ("HS256",)
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")


def user_id_for(issuer: str | None, subject: str) -> uuid.UUID:
    """The internal user id of a token subject: deterministic, so no database is needed to know it."""
    return uuid.uuid5(SPRINTBOARD_USER_NAMESPACE, f"{issuer or ''}|{subject}")


def tenant_id_for(org_id: str | None, user_id: uuid.UUID) -> str:
    """The tenant of a caller: the organization, else the user's personal space."""
    return org_id if org_id is not None else f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling, as proven by a verified token."""

    subject: str
    issuer: str | None
    user_id: uuid.UUID
    org_id: str | None
    name: str
    email: str | None
    tenant_id: str
    exp: int | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Identity:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("missing_claim")
        issuer = claims.get("iss") if isinstance(claims.get("iss"), str) else None
        org_raw = claims.get("org_id")
        org_id = str(org_raw) if org_raw not in (None, "") else None
        user_id = user_id_for(issuer, subject)
        name = claims.get("name") or claims.get("preferred_username") or subject
        email = claims.get("email")
        exp = claims.get("exp")
        return cls(
            subject=subject,
            issuer=issuer,
            user_id=user_id,
            org_id=org_id,
            name=str(name),
            email=str(email) if email else None,
            tenant_id=tenant_id_for(org_id, user_id),
            exp=int(exp) if isinstance(exp, int | float) else None,
        )


class InvalidToken(Exception):
    """The token was refused; `reason` is a short machine-readable code (never the token itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenVerifier:
    """Verifies HS256 tokens with a shared secret and/or asymmetric ones with keys from a JWKS URL."""

    def __init__(
        self,
        secret: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 5,
        cache_size: int = 4096,
    ) -> None:
        if not secret and not jwks_url:
            raise ValueError("TokenVerifier needs a shared secret or a JWKS URL")
        self._secret = secret or None
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._issuer = issuer or None
        self._audience = audience or None
        self._leeway = leeway
        # Clients send the same token on every request: a verified token's identity is remembered (until
        # it expires) so its signature is not checked again each time.
        self._cache: OrderedDict[str, Identity] = OrderedDict()
        self._cache_size = cache_size

    def verify(self, token: str) -> Identity:
        """Check signature, expiry, issuer and audience; raise `InvalidToken` with the reason."""
        cached = self._cache.get(token)
        if cached is not None:
            if cached.exp is not None and cached.exp + self._leeway >= time.time():
                return cached
            self._cache.pop(token, None)
        identity = self._verify(token)
        if self._cache_size > 0:
            self._cache[token] = identity
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return identity

    def _verify(self, token: str) -> Identity:
        key = self._key_for(token)
        algorithms = list(HMAC_ALGORITHMS if isinstance(key, str) else ASYMMETRIC_ALGORITHMS)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("bad_signature") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("invalid_audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("invalid_issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken("missing_claim") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("not_yet_valid") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise InvalidToken("unsupported_algorithm") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("malformed") from exc
        return Identity.from_claims(claims)

    async def averify(self, token: str) -> Identity:
        """`verify` without blocking the event loop when a JWKS fetch may be needed."""
        if self._jwks is None or token in self._cache:
            return self.verify(token)
        return await asyncio.to_thread(self.verify, token)

    def _key_for(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("malformed") from exc
        alg = header.get("alg")
        if alg in HMAC_ALGORITHMS and self._secret is not None:
            return self._secret
        if alg in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            try:
                return self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientConnectionError as exc:
                raise InvalidToken("jwks_unavailable") from exc
            except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
                raise InvalidToken("unknown_key") from exc
        raise InvalidToken("unsupported_algorithm")


def mint_dev_token(
    secret: str,
    sub: str,
    name: str,
    email: str | None,
    org_id: str | None = None,
    ttl_seconds: int = 3600 * 12,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token for local development and tests."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "name": name, "iat": now, "exp": now + ttl_seconds}
    if email:
        claims["email"] = email
    if org_id is not None:
        claims["org_id"] = org_id
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
