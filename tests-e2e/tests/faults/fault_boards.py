"""Checks of the board clients (`sprintboard_e2e.following.Follower`) against the stream (fault suites)."""

from __future__ import annotations

from fault_stack import Stored

from sprintboard_e2e.following import Follower


def check_followers(followers: list[Follower], expected: list[Stored]) -> dict[str, int]:
    """Each follower got exactly the expected events: same seqs, same event ids, in order, once."""
    want = [e.seq for e in expected]
    ids = {e.seq: e.data["event_id"] for e in expected}
    problems = []
    lost = duplicated = across_tenants = 0
    for f in followers:
        missing = sorted(set(want) - set(f.seqs))
        lost += len(missing)
        duplicated += len(f.duplicates) + len(f.seqs) - len(set(f.seqs))
        across_tenants += sum(1 for e in f.foreign if e.get("tenant_id") != f.tenant_id)
        if f.seqs != want:
            extra = sorted(set(f.seqs) - set(want))
            problems.append(
                f"{f.name}: {len(f.seqs)} events, want {len(want)}; missing {missing[:10]} extra {extra[:10]}"
            )
        if f.duplicates:
            problems.append(f"{f.name}: {len(f.duplicates)} duplicates, e.g. seq {f.duplicates[:5]}")
        if f.foreign:
            problems.append(f"{f.name}: {len(f.foreign)} frames of another tenant or sprint")
        if f.resyncs:
            problems.append(f"{f.name}: asked to resync {f.resyncs[:2]}")
        wrong = [e["seq"] for e in f.events if ids.get(e["seq"]) != e.get("event_id")]
        if wrong:
            problems.append(f"{f.name}: event ids differ from the stream at seqs {wrong[:5]}")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} problems)"
    return {
        "client_events_checked": sum(len(f.events) for f in followers),
        "clients": len(followers),
        # Counted over every client's frames (a count above 0 has failed the assert above).
        "client_events_lost": lost,
        "client_events_duplicated": duplicated,
        "frames_across_tenants": across_tenants,
        "reconnects": sum(max(0, f.sessions - 1) for f in followers),
    }
