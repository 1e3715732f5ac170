"""Prometheus metrics of one router process, served at /metrics.

Besides the router's own: the process (CPU, memory, open files, start time)
and the Python runtime, as prometheus_client collects them, and the build
(``hotline_router_build_info``). Counters carry no ``*_created`` series: a
scrape needs none and they double the series count.
"""

from __future__ import annotations

import platform

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from router import __version__

disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)   # process_cpu_seconds_total, process_resident_memory_bytes …
PlatformCollector(registry=REGISTRY)  # python_info
BUILD = Info("hotline_router_build", "The router's version and the Python it runs on",
             registry=REGISTRY)
BUILD.info({"version": __version__, "python": platform.python_version()})
ARI_CONNECTED = Gauge("hotline_router_ari_connected",
                      "1 while the ARI event websocket is connected", registry=REGISTRY)
ARI_REQUESTS = Counter("hotline_router_ari_requests",
                       "ARI requests sent, by transport (websocket or http)", ["transport"],
                       registry=REGISTRY)
ARI_EVENTS = Counter("hotline_router_ari_events",
                     "ARI events received, by type (the types the router models; "
                     "any other is counted as 'other')", ["type"], registry=REGISTRY)

CALLS = Counter("hotline_router_calls", "Calls handled, by hotline and outcome",
                ["hotline", "outcome"], registry=REGISTRY)
LIVE_CALLS = Gauge("hotline_router_live_calls", "Calls this router is handling now",
                   registry=REGISTRY)
ROUTING_SECONDS = Histogram(
    "hotline_router_routing_seconds",
    "From the call reaching the router to its first phone being dialled",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2), registry=REGISTRY)
RING_ATTEMPTS = Counter("hotline_router_ring_attempts", "Phones rung, by result", ["result"],
                        registry=REGISTRY)
TRANSFERS = Counter("hotline_router_transfers",
                    "Transfers asked for by bound phones, by result (connected, unanswered, "
                    "refused)", ["result"], registry=REGISTRY)
CONSULTATIONS = Counter("hotline_router_consultations",
                        "Consultation calls placed by bound phones talking with a caller, one "
                        "result each as it ends (answered: its target answered; unanswered; "
                        "ended before an answer; refused)", ["result"],
                        registry=REGISTRY)
ATTENDED_JOIN_SECONDS = Histogram(
    "hotline_router_attended_join_seconds",
    "From an attended transfer asked (REFER with Replaces, or the agent hanging up) with its "
    "target answered, to the caller joined with the target",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2), registry=REGISTRY)
ARI_RECONNECTS = Counter("hotline_router_ari_reconnects",
                         "Times the ARI event websocket was lost and retried", registry=REGISTRY)
DATABASE_ERRORS = Counter("hotline_router_database_errors",
                          "Database operations that failed", ["operation"], registry=REGISTRY)
CLAIM_CONFLICTS = Counter("hotline_router_claim_conflicts",
                          "Claims taken during a database outage and not written back: "
                          "their phone was at capacity (table claim_conflicts)",
                          registry=REGISTRY)
BROADCASTS = Counter("hotline_router_broadcast_claims",
                     "StasisBroadcast offers, by what became of our claim", ["result"],
                     registry=REGISTRY)
BUSY_PHONES = Gauge(
    "hotline_router_busy_phones",
    "Phones with no free call slot (live calls at capacity), across all routers; "
    "refreshed every metrics_refresh_s", registry=REGISTRY)
RECORDS_SPOOLED = Gauge(
    "hotline_router_records_spooled",
    "Call records waiting on local disk for the database to come back", registry=REGISTRY)
RECORDS_UNSAVED = Gauge(
    "hotline_router_records_unsaved",
    "Call records kept in memory only: the database is away and the spool refuses writes",
    registry=REGISTRY)
CANNOT_RECORD = Gauge(
    "hotline_router_cannot_record",
    "1 while the router can write neither to the database nor to its spool (new calls "
    "are declined)", registry=REGISTRY)
TEARDOWN_ERRORS = Counter(
    "hotline_router_teardown_errors",
    "Steps of a call's teardown that failed (the teardown went on), by step", ["step"],
    registry=REGISTRY)
CONFIG_RELOADS = Counter("hotline_router_config_reloads",
                         "Configuration snapshots loaded (at start, on change, on reconnect)",
                         registry=REGISTRY)
CONFIG_HOTLINES = Gauge("hotline_router_config_hotlines",
                        "Hotlines in the loaded configuration snapshot", registry=REGISTRY)
DRAINING = Gauge("hotline_router_draining",
                 "1 while the router is shutting down: no new calls, live ones finish",
                 registry=REGISTRY)
CALLS_HANDED_BACK = Counter(
    "hotline_router_calls_handed_back",
    "Calls sent back to the dialplan to be offered to other routers (while draining)",
    registry=REGISTRY)
BALANCE = Gauge("hotline_router_balance_fen",
                "Prepaid balance of a hotline in fen, from the ledger", ["hotline"],
                registry=REGISTRY)
BALANCE_LOW = Gauge("hotline_router_balance_low",
                    "1 while a hotline's balance is below its low-balance threshold", ["hotline"],
                    registry=REGISTRY)
DATABASE_DEGRADED = Gauge(
    "hotline_router_database_degraded",
    "1 while the database is unreachable and the router routes from its cache", registry=REGISTRY)
ARI_EVENTS_REJECTED = Counter("hotline_router_ari_events_rejected",
                              "ARI event messages that were not valid events (dropped)",
                              registry=REGISTRY)
ILLEGAL_TRANSITIONS = Counter(
    "hotline_router_illegal_transitions",
    "Call state changes the transition table does not allow (each one is a bug)",
    ["from_state", "to_state"], registry=REGISTRY)
NOTIFICATIONS = Counter(
    "hotline_router_notifications",
    "Notifications by event and result: sent, failed (a try that will be retried), "
    "dead (given up after its tries) or expired (a best-effort event sent too late)",
    ["event", "result"], registry=REGISTRY)
NOTIFICATION_DELAY_SECONDS = Histogram(
    "hotline_router_notification_delay_seconds",
    "From the event (a call's end, a phone starting to ring) to its notification being sent",
    ["event"], buckets=(0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300), registry=REGISTRY)
PHONES_BY_PRESENCE = Gauge(
    "hotline_router_phones_by_presence",
    "Enabled phones by presence: signed_in, signed_out, paused (all routers)",
    ["presence"], registry=REGISTRY)
PRESENCE_CODES = Counter(
    "hotline_router_presence_codes",
    "Feature codes dialled on phones, by what the agent heard: signed-in, signed-out, "
    "paused, refused", ["outcome"], registry=REGISTRY)
RECORDINGS = Counter(
    "hotline_router_recordings",
    "Recordings Asterisk stored and this router wrote a row for, by kind (call, voicemail)",
    ["kind"], registry=REGISTRY)
RECORDING_BYTES = Counter(
    "hotline_router_recording_bytes",
    "Bytes of the recordings stored (as Asterisk holds them)", registry=REGISTRY)
RECORDINGS_FAILED = Counter(
    "hotline_router_recordings_failed",
    "Recordings that failed, by stage: start (Asterisk refused to record), store (no "
    "complete file to be found), purge (a file Asterisk would not delete) or sweep (a "
    "file without a row that could not be read); "
    "the call goes on either way",
    ["stage"], registry=REGISTRY)
RECORDINGS_PURGED = Counter(
    "hotline_router_recordings_purged",
    "Recordings past their retention whose files were deleted (or found gone)",
    registry=REGISTRY)
QUEUE_WAITING = Gauge(
    "hotline_router_queue_waiting",
    "Callers waiting in a hotline's hold queue, across all routers; refreshed every "
    "metrics_refresh_s", ["hotline"], registry=REGISTRY)
QUEUE_LONGEST_WAIT = Gauge(
    "hotline_router_queue_longest_wait_seconds",
    "How long the longest-waiting caller of a hotline's hold queue has waited so far",
    ["hotline"], registry=REGISTRY)
QUEUE_WAKE_SECONDS = Histogram(
    "hotline_router_queue_wake_seconds",
    "From a queued caller's wake-up (a phone freed) to its offer decided, this router",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0), registry=REGISTRY)
