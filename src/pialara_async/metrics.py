"""Prometheus metrics of one service process (``GET /metrics``).

Each application has its own registry (tests build many applications in one
process). Requests are counted by route template, never by concrete path, so
the number of series stays bounded. Database commands and pool checkouts are
measured by the driver's own monitoring listeners; the live feed's figures
are read from the hub when scraped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pymongo import monitoring

from pialara_async.background.supervisor import running

if TYPE_CHECKING:
    from pialara_async.live.state import Live

LAG_INTERVAL = 0.5
FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram("http_request_duration_seconds",
                                         "Time to answer an HTTP request",
                                         ["method", "route"], buckets=FAST, registry=r)
        self.command_seconds = Histogram("mongodb_command_duration_seconds",
                                         "Database command round trips",
                                         ["command", "outcome"], buckets=FAST, registry=r)
        self.checkouts = Counter("mongodb_pool_checkouts",
                                 "Connections taken from the driver's pool", ["outcome"],
                                 registry=r)
        self.checkout_wait = Histogram("mongodb_pool_checkout_wait_seconds",
                                       "Time waited for a pooled connection", buckets=FAST,
                                       registry=r)
        self.loop_lag = Gauge("event_loop_lag_seconds",
                              "How late the event loop last ran a timer", registry=r)
        self.loop_lag_seconds = Histogram("event_loop_lag_observed_seconds",
                                          "How late the event loop ran its timers",
                                          buckets=FAST, registry=r)
        self.stream_lag = Histogram("live_change_stream_lag_seconds",
                                    "From a change's cluster time to its publication",
                                    ["collection"], buckets=FAST, registry=r)

    def watch_live(self, live: Live, sockets: Any) -> None:
        """Report the live feed's figures, read when scraped."""
        self.registry.register(LiveCollector(live, sockets))

    def listeners(self) -> list[Any]:
        """Driver listeners feeding the database metrics (for ``event_listeners``)."""
        return [CommandTimer(self), PoolWatcher(self)]


class LiveCollector(Collector):
    def __init__(self, live: Live, sockets: Any) -> None:
        self.live = live
        self.sockets = sockets

    def collect(self) -> Any:
        hub = self.live.hub
        yield GaugeMetricFamily("live_subscribers", "Open websockets", value=len(self.sockets))
        yield GaugeMetricFamily("live_topics", "Topics held in memory", value=hub.topic_count)
        yield GaugeMetricFamily("live_retained_events", "Events kept for since",
                                value=hub.retained_events)
        depth = GaugeMetricFamily("live_queue_depth", "Messages waiting in socket queues",
                                  labels=["stat"])
        depths = hub.queue_depths()
        depth.add_metric(["max"], max(depths, default=0))
        depth.add_metric(["total"], sum(depths))
        yield depth
        yield CounterMetricFamily("live_events_published", "Events published",
                                  value=hub.events_published)
        yield CounterMetricFamily("live_slow_consumers_closed",
                                  "Sockets closed with 1013 for not keeping up",
                                  value=hub.slow_consumers_closed)
        opened = CounterMetricFamily("live_change_streams_opened", "Change streams opened",
                                     labels=["collection"])
        for name, runner in self.live.runners.items():
            opened.add_metric([name], runner.opened)
        yield opened


class CommandTimer(monitoring.CommandListener):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.metrics.command_seconds.labels(event.command_name, "ok").observe(
            event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.metrics.command_seconds.labels(event.command_name, "error").observe(
            event.duration_micros / 1e6)


class PoolWatcher(monitoring.ConnectionPoolListener):
    """Checkouts and their waits (the ``duration`` the driver reports on each
    checkout event)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        self.metrics.checkouts.labels("ok").inc()
        self.metrics.checkout_wait.observe(getattr(event, "duration", 0.0) or 0.0)

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent
                                    ) -> None:
        self.metrics.checkouts.labels("failed").inc()
        self.metrics.checkout_wait.observe(getattr(event, "duration", 0.0) or 0.0)

    # The rest of the pool's events are not measured.
    def pool_created(self, event: Any) -> None: ...
    def pool_ready(self, event: Any) -> None: ...
    def pool_cleared(self, event: Any) -> None: ...
    def pool_closed(self, event: Any) -> None: ...
    def connection_created(self, event: Any) -> None: ...
    def connection_ready(self, event: Any) -> None: ...
    def connection_closed(self, event: Any) -> None: ...
    def connection_check_out_started(self, event: Any) -> None: ...
    def connection_checked_in(self, event: Any) -> None: ...


# The application's metrics (re-exported by keys.py).
METRICS = web.AppKey("metrics", Metrics)


async def measure_loop_lag(metrics: Metrics) -> None:
    """How late a timer fires: the event loop's lag, every LAG_INTERVAL."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(LAG_INTERVAL)
        lag = max(0.0, loop.time() - started - LAG_INTERVAL)
        metrics.loop_lag.set(lag)
        metrics.loop_lag_seconds.observe(lag)


async def loop_lag_ctx(app: web.Application) -> AsyncIterator[None]:
    async with running("event-loop-lag", lambda: measure_loop_lag(app[METRICS])):
        yield


def observe_request(metrics: Metrics, method: str, route: str, status: int,
                    started: float) -> None:
    metrics.requests.labels(method, route, str(status)).inc()
    metrics.request_seconds.labels(method, route).observe(time.perf_counter() - started)
