"""The tenant token: readable for plain ids, safe for odd ones, one-to-one, and its inverse exact."""

from __future__ import annotations

import random
import uuid

import pytest

from sprintboard_contracts.tenant_token import (
    TENANT_TOKEN_MAX_LENGTH,
    TENANT_TOKEN_PATTERN,
    is_hashed_token,
    tenant_from_token,
    tenant_token,
)

SEED = 20261202
SAMPLES = 20_000
USER = uuid.UUID("7e1f3d5b-9a2c-5e4f-8b6d-0a1c3e5f7a9b")


def is_nats_token(token: str) -> bool:
    """What NATS accepts as one literal token of a published subject: no separator, wildcard or space."""
    return bool(token) and not any(c in ".*>" or c.isspace() for c in token)


def assert_valid(token: str) -> None:
    assert is_nats_token(token), token
    assert TENANT_TOKEN_PATTERN.fullmatch(token), token
    assert token.isascii() and len(token) <= TENANT_TOKEN_MAX_LENGTH, token


@pytest.mark.parametrize(
    ("tenant_id", "token"),
    [
        ("acme", "acme"),
        ("Acme", "Acme"),
        ("demo-org", "demo-org"),
        ("org_2xK9qLmN4pRsT", "org_5F2xK9qLmN4pRsT"),
        (f"user:{USER}", f"user_3A{USER}"),
        ("a.b", "a_2Eb"),
        ("a b", "a_20b"),
        ("*", "_2A"),
        (">", "_3E"),
        ("a.*.>", "a_2E_2A_2E_3E"),
        ("_", "_5F"),
        ("_2E", "_5F2E"),
        ("none", "none"),
        ("0", "0"),
        (" ", "_20"),
        ("\t\n", "_09_0A"),
        ("\x00", "_00"),
        ("$SYS", "_24SYS"),
        ("é", "_C3_A9"),
        ("Zürich AG", "Z_C3_BCrich_20AG"),
        ("東京", "_E6_9D_B1_E4_BA_AC"),
        ("🚀", "_F0_9F_9A_80"),
        ("\ud800", "_ED_A0_80"),
    ],
)
def test_token_of_odd_tenant_ids(tenant_id: str, token: str) -> None:
    assert tenant_token(tenant_id) == token
    assert_valid(token)
    assert tenant_from_token(token) == tenant_id


def test_tokens_differ_where_tenant_ids_differ_only_by_what_is_escaped() -> None:
    lookalikes = [
        "a.b",
        "a_2Eb",
        "a_2eb",
        "a b",
        "a\u00a0b",
        "ab",
        "A.b",
        "e\u0301",
        "é",
        "\ud83d\ude80",
        "🚀",
    ]
    tokens = [tenant_token(tenant_id) for tenant_id in lookalikes]
    assert len(set(tokens)) == len(lookalikes), dict(zip(lookalikes, tokens, strict=True))


def test_an_empty_tenant_id_has_no_token() -> None:
    with pytest.raises(ValueError):
        tenant_token("")
    with pytest.raises(ValueError):
        tenant_token(None)  # type: ignore[arg-type]


def test_a_long_tenant_id_is_hashed_into_a_bounded_token() -> None:
    longest_plain = "a" * TENANT_TOKEN_MAX_LENGTH
    assert tenant_token(longest_plain) == longest_plain
    hashed = tenant_token(longest_plain + "a")
    assert is_hashed_token(hashed) and hashed.startswith("_h") and len(hashed) == 54
    assert_valid(hashed)
    assert tenant_token(longest_plain + "a") == hashed
    assert tenant_token(longest_plain + "b") != hashed
    # 33 escaped bytes are 99 characters: hashed although the tenant id is short.
    assert is_hashed_token(tenant_token("東" * 11))
    assert not is_hashed_token(tenant_token("東" * 10))
    with pytest.raises(ValueError, match="hash"):
        tenant_from_token(hashed)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a b",
        "*",
        ">",
        "_",
        "_2",
        "_2e",
        "_ZZ",
        "_41",  # `A`, whose token is `A`
        "_2D",  # `-`, kept as itself
        "_C3",  # half of a UTF-8 sequence
        "_C0_80",  # an over-long UTF-8 encoding
        "é",
        "a" * (TENANT_TOKEN_MAX_LENGTH + 1),  # a tenant id this long has a hashed token
        "_h" + "a" * 51,
    ],
)
def test_from_token_refuses_what_no_tenant_id_encodes_to(token: str) -> None:
    with pytest.raises(ValueError):
        tenant_from_token(token)


def random_tenant_id(rng: random.Random) -> str:
    """A tenant id drawn from the characters most likely to break an encoding, mixed with plain ones."""
    pools = [
        "abcxyzABCXYZ0189-",
        "_.*>:$ \t\n\r\x00\x7f%~/\\",
        "éüßñÅ\u00a0\u2028\u0301",
        "東京ąęłźż\u200b\ufeff",
        "🚀👍🏽\U0010ffff",
        "\ud800\udfff",
    ]
    length = rng.choice([1, 1, 2, 3, 5, 8, 13, 21, 40])
    return "".join(rng.choice(rng.choice(pools)) for _ in range(length))


def test_random_tenant_ids_give_valid_distinct_tokens_that_decode_back() -> None:
    rng = random.Random(SEED)
    tenant_ids = {random_tenant_id(rng) for _ in range(SAMPLES)}
    tenant_ids |= {prefix + suffix for prefix in ("a", "a_", "_") for suffix in ("2E", "_2E", ".")}
    seen: dict[str, str] = {}
    hashed = 0
    for tenant_id in tenant_ids:
        token = tenant_token(tenant_id)
        assert_valid(token)
        assert tenant_token(tenant_id) == token
        assert seen.setdefault(token, tenant_id) == tenant_id, (
            f"{tenant_id!r} and {seen[token]!r} share {token}"
        )
        if is_hashed_token(token):
            hashed += 1
        else:
            assert tenant_from_token(token) == tenant_id
    # The draw reaches both forms, or the test proves less than it says.
    assert 0 < hashed < len(tenant_ids) // 2
