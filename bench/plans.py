"""What a run measures: sizes, rates and durations of the quick and the full run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    fanout_sockets: tuple[int, ...]
    # Offered deliveries/s (events/s x sockets), rising until the server stops keeping up.
    fanout_rates: tuple[int, ...]
    batched_rates: tuple[int, ...]
    step_seconds: float
    repeats: int
    idle_sockets: int
    idle_step: int
    write_concurrency: tuple[int, ...]
    write_seconds: float
    e2e_light_rate: float
    e2e_light_sockets: int
    e2e_loaded_rate: float
    e2e_loaded_sockets: int
    e2e_seconds: float
    settle_seconds: float  # the longest wait for late frames after an e2e run
    ingest_events: int = 20_000  # per phase of the ingest scenario
    ingest_tenants: int = 1_000
    # (label, sockets added before the phase, whether they match the events' sprint)
    ingest_phases: tuple[tuple[str, int, bool], ...] = (
        ("no sockets", 0, False),
        ("10k non-matching sockets", 10_000, False),
        ("+1 matching socket per tenant", 1_000, True),
    )
    # Then on a fresh bed (its own NATS and notifier): one socket per tenant reading its events, no other.
    ingest_reading_phases: tuple[tuple[str, int, bool], ...] = (
        ("no sockets", 0, False),
        ("1 reading socket per tenant", 1_000, True),
    )
    # Many tenants: tenants x sprints per tenant x viewers per sprint, events/s spread over every sprint.
    tenants: int = 100
    tenant_sprints: int = 10
    tenant_viewers: int = 10
    tenant_rates: tuple[float, ...] = (1_000.0, 2_000.0)
    tenant_seconds: float = 10.0
    # Reconnect storm: viewers = storm_tenants x tenant_sprints x tenant_viewers on the notifier killed.
    storm_tenants: int = 100
    storm_rate: float = 1_000.0
    storm_before_seconds: float = 3.0
    storm_after_seconds: float = 3.0
    # Presence: sockets (one user each) over sprints over tenants, half on each of two notifiers.
    presence_sockets: int = 10_000
    presence_sprints: int = 1_000
    presence_tenants: int = 100
    # Scale-out: instances notifiers on a 3-node NATS cluster, tenants x viewers sockets (one sprint per
    # tenant), events/s round-robin over the tenants for the seconds, once per placement.
    scaleout_tenants: int = 1_000
    scaleout_viewers: int = 10
    scaleout_instances: int = 4
    scaleout_rate: float = 2_000.0
    scaleout_seconds: float = 15.0
    # Capacity at saturation: one notifier at a time capped at each of capacity_quotas (cores), on the
    # scale-out sizes; the offered rate rises by capacity_coarse per step until one falls short (at most
    # capacity_max_steps), then from the last kept up by capacity_factor; then capacity_saturated_steps
    # at capacity_past x the first rate that fell short; the whole, capacity_repeats times per quota.
    # (0.35 of a core is not in the plan: the machine, not the notifier, ran out first there at 92e0e85.)
    capacity_quotas: tuple[float, ...] = (0.15, 0.25)
    capacity_repeats: int = 3
    capacity_step_seconds: float = 6.0
    capacity_coarse: float = 1.3
    capacity_factor: float = 1.05
    capacity_past: float = 1.15
    capacity_saturated_steps: int = 2
    capacity_max_steps: int = 12
    # Live path on NATS: one nats-server per design, tenants round-robin at rate for seconds, the stream
    # first filled with preload events.
    livepath_tenants: int = 1_000
    livepath_rate: float = 2_000.0
    livepath_seconds: float = 10.0
    livepath_preload: int = 20_000
    livepath_fewer_tenants: tuple[int, ...] = (100, 300)  # consumer-per-tenant again, with these
    # First event after connect (reference client): takes on one socket, then fresh sockets of one take.
    first_takes: int = 30
    first_fresh: int = 20
    client_workers: int = 2
    source_addresses: int = 16
    frame_bytes: int = 0  # baselines' event size; 0: as large as our notifier's event frames
    sample_sockets: int = 64


QUICK = Plan(
    name="quick",
    fanout_sockets=(500,),
    fanout_rates=(25_000, 60_000, 120_000, 200_000),
    batched_rates=(120_000, 300_000, 600_000, 1_000_000),
    step_seconds=1.0,
    repeats=1,
    idle_sockets=2_000,
    idle_step=2_000,
    write_concurrency=(16,),
    write_seconds=3.0,
    e2e_light_rate=10.0,
    e2e_light_sockets=50,
    e2e_loaded_rate=200.0,
    e2e_loaded_sockets=1_000,
    e2e_seconds=2.0,
    settle_seconds=4.0,
    tenants=20,
    tenant_seconds=3.0,
    storm_tenants=10,
    storm_rate=500.0,
    storm_before_seconds=2.0,
    storm_after_seconds=2.0,
    presence_sockets=1_000,
    presence_sprints=100,
    presence_tenants=10,
    scaleout_tenants=200,
    scaleout_seconds=5.0,
    capacity_quotas=(0.25,),
    capacity_repeats=1,
    capacity_step_seconds=3.0,
    capacity_factor=1.1,
    capacity_saturated_steps=1,
    livepath_seconds=4.0,
    first_takes=10,
    first_fresh=10,
)

FULL = Plan(
    name="full",
    fanout_sockets=(1_000, 5_000, 10_000),
    fanout_rates=(10_000, 25_000, 50_000, 75_000, 100_000, 150_000, 200_000, 300_000),
    batched_rates=(100_000, 250_000, 500_000, 750_000, 1_000_000, 1_500_000),
    step_seconds=3.0,
    repeats=3,
    idle_sockets=15_000,
    idle_step=5_000,
    write_concurrency=(16, 64),
    write_seconds=10.0,
    e2e_light_rate=10.0,
    e2e_light_sockets=100,
    e2e_loaded_rate=200.0,
    e2e_loaded_sockets=1_000,
    e2e_seconds=10.0,
    settle_seconds=30.0,
    ingest_events=50_000,
    ingest_phases=(
        ("no sockets", 0, False),
        ("10k non-matching sockets", 10_000, False),
        ("+1 matching socket per tenant", 1_000, True),
        ("+5 matching sockets per tenant", 4_000, True),
    ),
)
