"""Each provider's documented flow, as its module declares it (README "Status flows")."""

from __future__ import annotations

import pytest

from hub import providers
from hub.model.flow import Flow
from hub.providers import alclient, hld


def test_hld_flow_places_an_undated_status_only_after_what_can_precede_it() -> None:
    # 1 → 13 → 2 → 24 → 3 → (25) → 4 or 9 → 11
    assert hld.FLOW.cannot_follow(25) >= {"4", "9", "11", "17", "7"}
    assert hld.FLOW.cannot_follow(25).isdisjoint({"1", "13", "2", "24", "3", "10"})
    assert hld.FLOW.cannot_follow(4) == frozenset({"9", "11", "17", "7"})


def test_hld_flow_lets_a_rejected_executive_and_a_reassignment_follow_each_other() -> None:
    # 10 ExecutiveRejected, reassigning: 2 → 10 → 2 (and 24 → 10) are both ways round the loop.
    assert "2" not in hld.FLOW.cannot_follow(10)
    assert "24" not in hld.FLOW.cannot_follow(10)
    assert "10" not in hld.FLOW.cannot_follow(2)
    assert "3" in hld.FLOW.cannot_follow(10), "no rejection after pickup"


def test_alclient_flow_orders_its_own_codes_not_hlds() -> None:
    # 1 → 2 → 3 → 4 → 5 → 6 → 9: 4 is In Transit here, so 5 may follow it (in HLD 4 ends the trip).
    assert "4" not in alclient.FLOW.cannot_follow(5)
    assert "6" in alclient.FLOW.cannot_follow(5)
    assert "9" in alclient.FLOW.cannot_follow(6)


@pytest.mark.parametrize(
    ("provider", "terminal", "final"),
    [("alclient", "6", "9"), ("hld", "4", "11"), ("hld", "9", "11")],
)
def test_terminal_codes_followed_by_a_final_one_are_declared_by_their_provider(
    provider: str, terminal: str, final: str
) -> None:
    flow = providers.flow(provider)
    assert flow is not None
    assert flow.awaits_final(terminal)
    assert not flow.awaits_final(final)


def test_codes_without_a_final_after_them_do_not_wait() -> None:
    assert not alclient.FLOW.awaits_final(7)
    assert not hld.FLOW.awaits_final(17)
    assert providers.flow("all24") is None  # 500000 "Delivery complete" is the end of its trace


def test_an_unknown_code_may_not_follow_a_terminal_code_but_may_follow_the_rest() -> None:
    blocked = hld.FLOW.cannot_follow(99)
    assert {"11", "17", "7", "4", "9"} <= blocked
    assert blocked.isdisjoint({"1", "13", "2", "24", "3", "25"})


def test_unknown_codes_do_not_grow_the_cache() -> None:
    flow = Flow({"a": ("b",)})
    for n in range(5000):
        assert flow.cannot_follow(f"x{n}") == frozenset({"b"})
    assert len(flow._cannot_follow) == 0
