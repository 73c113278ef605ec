"""The follower's delivery order, on made-up reply subjects: what is handed on, dropped, or starts over."""

from __future__ import annotations

import pytest

from sprintboard_notifier.stream.ordering import GAP, NEXT, OLD, DeliveryOrder, delivery_seqs

pytestmark = pytest.mark.unit


def test_both_reply_forms_give_the_stream_and_consumer_seq() -> None:
    assert delivery_seqs("$JS.ACK.BACKLOG_TASKS.abc.1.42.7.1700000000000000000.3") == (42, 7)
    assert delivery_seqs("$JS.ACK.hub.ACCHASH.BACKLOG_TASKS.abc.1.42.7.1700000000000000000.3.tok") == (42, 7)


def test_deliveries_in_order_move_the_cursor() -> None:
    order = DeliveryOrder(10)
    assert order.restart() == 11
    assert [order.take(seq, n) for n, seq in enumerate((11, 12, 14), start=1)] == [NEXT, NEXT, NEXT]
    assert (order.cursor, order.delivered) == (14, 3)


def test_a_skipped_consumer_seq_is_a_gap_and_moves_nothing() -> None:
    order = DeliveryOrder(10)
    order.restart()
    assert order.take(11, 1) == NEXT
    assert order.take(13, 3) == GAP
    assert (order.cursor, order.delivered) == (11, 1)
    # The new consumer starts right after the last event handed on.
    assert order.restart() == 12
    assert order.take(12, 1) == NEXT


def test_a_consumer_recreated_from_earlier_repeats_nothing() -> None:
    order = DeliveryOrder(20)
    order.restart()
    assert [order.take(seq, n) for n, seq in enumerate((19, 20, 21), start=1)] == [OLD, OLD, NEXT]
    assert order.cursor == 21


def test_a_heartbeat_tells_of_deliveries_that_never_arrived() -> None:
    order = DeliveryOrder(0)
    order.restart()
    assert not order.missed(0)
    order.take(1, 1)
    assert not order.missed(1)
    assert order.missed(3)
