"""A provider's documented status flow, as data: which code may follow which, and what ends it.

Two facts the hub cannot read from a single payload come from here:

* **Order without a time.** Some answers give the current status without saying when it
  was reached (HLD's tracking response, the Client API without ``updated_at``). Such an
  observation is placed by the flow, not by a guessed time: it may follow the shipment's
  current code only if the documented flow leads from that code to it (see
  ``docs/ordering.md``). :meth:`Flow.cannot_follow` lists the codes it may not follow.
* **A final code after a terminal one.** A flow may document that a terminal status is
  confirmed by a later, final one (Client API ``6 → 9``, HLD ``4/9 → 11``): the poller
  keeps asking, slowly, until the final code arrives (:meth:`Flow.awaits_final`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property


class Flow:
    """``edges``: code → the codes the provider documents as able to come next."""

    def __init__(
        self, edges: Mapping[str, Iterable[str]], finals: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        self.edges = {str(code): frozenset(str(n) for n in nexts) for code, nexts in edges.items()}
        for nexts in list(self.edges.values()):
            for code in nexts:
                self.edges.setdefault(code, frozenset())
        # terminal code → the final code(s) documented to confirm it
        self.finals = {str(code): frozenset(str(f) for f in after) for code, after in (finals or {}).items()}
        self._cannot_follow: dict[str, frozenset[str]] = {}

    @cached_property
    def _reachable(self) -> dict[str, frozenset[str]]:
        """code → every code the flow can lead to from it (not itself unless a loop returns)."""
        reachable: dict[str, frozenset[str]] = {}
        for start in self.edges:
            seen: set[str] = set()
            todo = list(self.edges[start])
            while todo:
                code = todo.pop()
                if code not in seen:
                    seen.add(code)
                    todo.extend(self.edges[code])
            reachable[start] = frozenset(seen)
        return reachable

    def cannot_follow(self, code: object) -> frozenset[str]:
        """The flow's codes an undated ``code`` may not follow: those from which no path leads to it.

        A code the flow does not know has no place in it: it may not follow a terminal code
        (one nothing comes after, or one only its final code comes after), and may follow any other.
        """
        code = str(code).strip()
        if code not in self.edges:
            return self._terminal
        known = self._cannot_follow.get(code)
        if known is None:
            known = frozenset(c for c in self.edges if c != code and code not in self._reachable[c])
            self._cannot_follow[code] = known
        return known

    @cached_property
    def _terminal(self) -> frozenset[str]:
        """Codes nothing comes after, or only their final code."""
        return frozenset(c for c, nexts in self.edges.items() if not nexts or c in self.finals)

    def awaits_final(self, code: object) -> bool:
        """Whether ``code`` is a terminal code the provider documents as followed by a final one."""
        return str(code).strip() in self.finals
