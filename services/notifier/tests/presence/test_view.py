"""The pure presence view: per user, grace, instances not live, diffs against what was sent."""

from __future__ import annotations

import pytest

from sprintboard_notifier.presence.view import SprintView, Viewer

pytestmark = pytest.mark.unit

ANN = Viewer("u-ann", "Ann")
BOB = Viewer("u-bob", "Bob")


def test_two_sockets_of_a_user_are_one_entry_and_the_last_close_starts_the_grace() -> None:
    v = SprintView(own_key="me")
    assert v.join(ANN) is True
    assert v.join(ANN) is False  # a second tab changes nothing
    v.part(ANN.user_id, leave_at=10.0)
    assert v.expire(100.0) is False  # one socket still open: no grace yet
    v.part(ANN.user_id, leave_at=13.0)
    assert v.expire(12.9) is False
    assert v.own() == {"u-ann": "Ann"}
    assert v.expire(13.0) is True
    assert v.own() == {} and v.idle


def test_a_socket_back_within_the_grace_is_no_leave() -> None:
    v = SprintView(own_key="me")
    v.join(ANN)
    v.settle()
    v.part(ANN.user_id, leave_at=5.0)
    v.join(ANN)  # the reload
    assert v.expire(6.0) is False
    assert v.diff() is None


def test_diffs_are_against_the_view_last_sent() -> None:
    live = {"other"}
    v = SprintView(own_key="me", live=live)
    assert v.settle() == {}
    v.join(ANN)
    v.put_remote("other", {"u-bob": "Bob"})
    d = v.diff()
    assert d is not None and d.joins == {"u-ann": "Ann", "u-bob": "Bob"} and d.leaves == {}
    assert v.diff() is None
    # Bob's instance is lost: his entry is kept, but not shown.
    live.discard("other")
    d = v.diff()
    assert d is not None and d.joins == {} and d.leaves == {"u-bob": "Bob"}
    # It is heard again: Bob is back.
    live.add("other")
    d = v.diff()
    assert d is not None and d.joins == {"u-bob": "Bob"} and d.leaves == {}


def test_an_entry_of_an_instance_not_live_is_not_shown() -> None:
    v = SprintView(own_key="me", live={"other"})
    v.put_remote("gone", {"u-bob": "Bob"})
    v.put_remote("other", {"u-ann": "Ann"})
    assert v.settle() == {"u-ann": "Ann"}


def test_a_join_and_leave_between_two_diffs_sends_nothing() -> None:
    v = SprintView(own_key="me", live={"other"})
    v.settle()
    v.put_remote("other", {"u-bob": "Bob"})
    v.drop_remote("other")
    assert v.diff() is None


def test_a_user_on_two_instances_stays_until_both_drop_them() -> None:
    v = SprintView(own_key="b", live={"a"})
    v.join(ANN)
    v.put_remote("a", {"u-ann": "Ann"})
    v.settle()
    v.drop_remote("a")
    assert v.diff() is None
    v.part(ANN.user_id, leave_at=1.0)
    v.expire(1.0)
    d = v.diff()
    assert d is not None and d.leaves == {"u-ann": "Ann"}


def test_every_instance_picks_the_same_name_for_a_user_listed_under_two() -> None:
    mine = SprintView(own_key="b", live={"a"})
    mine.join(Viewer("u-ann", "Ann B"))
    mine.put_remote("a", {"u-ann": "Ann A"})
    theirs = SprintView(own_key="a", live={"b"})
    theirs.join(Viewer("u-ann", "Ann A"))
    theirs.put_remote("b", {"u-ann": "Ann B"})
    assert mine.view() == theirs.view() == {"u-ann": "Ann A"}


def test_a_new_name_is_a_join() -> None:
    v = SprintView(own_key="me")
    v.join(ANN)
    v.settle()
    assert v.join(Viewer("u-ann", "Ann Smith")) is True
    d = v.diff()
    assert d is not None and d.joins == {"u-ann": "Ann Smith"} and d.leaves == {}
