"""The tenant token: the one subject-safe, injective encoding of a `tenant_id` used in v2 subjects.

A tenant id is any non-empty string (the token's `org_id` claim, or `user:<uuid>`), so it can hold what a
NATS subject token cannot: `.`, `*`, `>`, whitespace, or anything outside ASCII. The token keeps the
characters NATS recommends for names (`A-Z a-z 0-9 - _`) and escapes the rest:

- each letter, digit or `-` of the tenant id stands for itself (`acme` → `acme`, `demo-org` → `demo-org`);
- every other UTF-8 byte, `_` included, becomes `_` and two upper-case hex digits (`user:1` → `user_3A1`,
  `a.b` → `a_2Eb`, `é` → `_C3_A9`);
- when that would be longer than `TENANT_TOKEN_MAX_LENGTH`, the token is `_h` and the SHA-256 of the
  tenant id's UTF-8 bytes in lower-case base32 (`_h` + 52 characters), so a subject stays well under the
  256 characters NATS recommends.

Why two tenant ids never share a token: UTF-8 is one-to-one; each byte has exactly one code, and no code is
the beginning of another (a code that starts with `_` is always three characters, and the others are one
character that is never `_`), so a string of codes splits back into bytes in only one way. An escaped
token never contains `_h` (`h` is not an upper-case hex digit), so it never equals a hashed one; two
hashed tokens are equal only if SHA-256 collides. Tokens are case-sensitive, like tenant ids and NATS.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

TENANT_TOKEN_MAX_LENGTH: Final = 96
# Every tenant token matches this: the characters NATS recommends for names, nothing that splits a subject.
TENANT_TOKEN_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]+")

_HASHED_PREFIX: Final = "_h"
_HASHED: Final = re.compile(r"_h[a-z2-7]{52}")
_ESCAPE: Final = re.compile(r"_([0-9A-F]{2})")
_KEPT: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_CODES: Final = tuple(chr(byte) if byte in _KEPT else f"_{byte:02X}" for byte in range(256))


def _utf8(tenant_id: str) -> bytes:
    # `surrogatepass` keeps a lone surrogate (JSON can carry one) encodable, and still one-to-one.
    return tenant_id.encode("utf-8", "surrogatepass")


def tenant_token(tenant_id: str) -> str:
    """The subject token of `tenant_id` (see the module docstring); `ValueError` for an empty tenant id."""
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError(f"a tenant id is a non-empty string, not {tenant_id!r}")
    raw = _utf8(tenant_id)
    escaped = "".join(_CODES[byte] for byte in raw)
    if len(escaped) <= TENANT_TOKEN_MAX_LENGTH:
        return escaped
    digest = base64.b32encode(hashlib.sha256(raw).digest()).decode("ascii").rstrip("=").lower()
    return _HASHED_PREFIX + digest


def is_hashed_token(token: str) -> bool:
    """Whether `token` is the hashed form, which names a tenant without being decodable."""
    return _HASHED.fullmatch(token) is not None


def tenant_from_token(token: str) -> str:
    """The tenant id an escaped token encodes; `ValueError` for a hashed, malformed or non-canonical one."""
    if is_hashed_token(token):
        raise ValueError(f"tenant token {token!r} is a hash: compare it with tenant_token(tenant_id)")
    if not TENANT_TOKEN_PATTERN.fullmatch(token):
        raise ValueError(f"not a tenant token: {token!r}")
    raw = bytearray()
    index = 0
    while index < len(token):
        if token[index] == "_":
            escape = _ESCAPE.match(token, index)
            if escape is None:
                raise ValueError(f"bad escape at {index} in tenant token {token!r}")
            raw.append(int(escape.group(1), 16))
            index = escape.end()
        else:
            raw.append(ord(token[index]))
            index += 1
    try:
        tenant_id = bytes(raw).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise ValueError(f"tenant token {token!r} does not encode UTF-8 text") from None
    # Only the one token tenant_token() gives decodes: `_41` for `A`, or an over-long escape, is refused.
    if tenant_token(tenant_id) != token:
        raise ValueError(f"tenant token {token!r} is not in canonical form")
    return tenant_id
