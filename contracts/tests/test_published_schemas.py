"""Published schemas are pinned by hash: editing, deleting or silently adding a schema file fails here."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

import sprintboard_contracts
from sprintboard_contracts.subjects import EventType

LOCK = Path(__file__).with_name("published_schemas.sha256")
SCHEMAS = Path(sprintboard_contracts.__file__).parent / "schemas"
LINE = re.compile(r"(?P<digest>[0-9a-f]{64})  (?P<path>v[1-9][0-9]*/[a-z_]+\.json)")
IMMUTABLE = "published schemas are immutable: add a new version instead"


def read_lock(text: str) -> dict[str, str]:
    """`sha256sum` format, paths relative to the schemas folder: `<hex>  v1/<type>.json`."""
    pins: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = LINE.fullmatch(line)
        assert match, f"{LOCK.name}:{number} is not '<sha256>  vN/<type>.json': {line!r}"
        assert match["path"] not in pins, f"{LOCK.name}:{number} pins {match['path']} twice"
        pins[match["path"]] = match["digest"]
    return pins


def pin_problems(pins: dict[str, str], root: Path) -> list[str]:
    problems = []
    for relative, digest in sorted(pins.items()):
        path = root / relative
        if not path.is_file():
            problems.append(f"{relative} is published but missing: {IMMUTABLE}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{relative} changed since it was published: {IMMUTABLE}")
    return problems


def unpinned(pins: dict[str, str], root: Path) -> list[str]:
    present = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
    return sorted(present - set(pins))


def test_lock_is_well_formed_and_sorted() -> None:
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    assert list(pins) == sorted(pins)
    assert pins


def test_every_published_schema_is_unchanged() -> None:
    problems = pin_problems(read_lock(LOCK.read_text(encoding="utf-8")), SCHEMAS)
    assert not problems, "\n".join(problems)


def test_every_schema_file_is_published_deliberately() -> None:
    extra = unpinned(read_lock(LOCK.read_text(encoding="utf-8")), SCHEMAS)
    assert not extra, (
        f"schema files not in {LOCK.name}: {extra}. Publishing is deliberate: review them, then add "
        f"their lines with `cd {SCHEMAS} && sha256sum <files> >> {LOCK}` (and keep the lock sorted)."
    )


def test_version_1_has_one_schema_per_event_type() -> None:
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    assert {path for path in pins if path.startswith("v1/")} == {
        f"v1/{kind.value}.json" for kind in EventType
    }


def test_the_guard_catches_an_edit_a_deletion_and_an_addition(tmp_path: Path) -> None:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    assert pin_problems(pins, root) == [] and unpinned(pins, root) == []

    edited = root / "v1" / "ownership_taken.json"
    edited.write_bytes(edited.read_bytes().replace(b'"minimum": 1', b'"minimum": 0'))
    (root / "v1" / "status_changed.json").unlink()
    (root / "v2").mkdir()
    (root / "v2" / "ownership_taken.json").write_text("{}")

    assert pin_problems(pins, root) == [
        f"v1/ownership_taken.json changed since it was published: {IMMUTABLE}",
        f"v1/status_changed.json is published but missing: {IMMUTABLE}",
    ]
    assert unpinned(pins, root) == ["v2/ownership_taken.json"]


@pytest.mark.parametrize(
    "line",
    ["abc  v1/x.json", f"{'0' * 64} v1/x.json", f"{'0' * 64}  ../v1/x.json", f"{'0' * 64}  v1/sub/x.json"],
)
def test_a_malformed_lock_line_is_refused(line: str) -> None:
    with pytest.raises(AssertionError, match="is not"):
        read_lock(line)
