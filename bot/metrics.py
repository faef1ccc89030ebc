"""Prometheus metrics and the `/metrics` + `/healthz` endpoint (off unless configured).

Each App owns a private `CollectorRegistry`, so several apps (tests) never collide. What is
cheap to count is counted where it happens; what lives in the database (outbox depth) is
read at scrape time by a small collector.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.errors import DeliveryError, PermanentDeliveryError
from bot.feeds.fetch import FetchResult
from bot.slack.blocks import Message
from bot.slack.notifier import Notifier, Posted

log = logging.getLogger("chipwatch.metrics")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CYCLE_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)


class _Callback(Collector):
    """A gauge family computed at scrape time: `read()` returns {label value: number}."""

    def __init__(self, name: str, doc: str, label: str,
                 read: Callable[[], dict[str, float]]) -> None:
        self.name, self.doc, self.label, self.read = name, doc, label, read

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.name, self.doc, labels=[self.label])
        try:
            values = self.read()
        except Exception:  # a scrape must never take the bot down
            log.exception("metrics_collect_failed metric=%s", self.name)
            values = {}
        for key, value in sorted(values.items()):
            family.add_metric([key], value)
        yield family


class Metrics:
    """Every metric chipwatch exports, registered in one private registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.fetches = Counter("chipwatch_fetches", "Feed fetches by outcome "
                               "(ok, not_modified, gone, rate_limited, error).", ["outcome"],
                               registry=r)
        self.fetch_seconds = Histogram("chipwatch_fetch_seconds", "Time to fetch one feed.",
                                       buckets=FETCH_BUCKETS, registry=r)
        self.items_seen = Counter("chipwatch_items_seen", "Items parsed from feeds.",
                                  registry=r)
        self.items_new = Counter("chipwatch_items_new", "Items never seen before.", registry=r)
        self.alerts = Counter("chipwatch_alerts", "Alerts queued, by rule and channel.",
                              ["rule", "channel"], registry=r)
        self.slack_calls = Counter("chipwatch_slack_calls", "Slack API calls by method and "
                                   "result (ok, error, permanent).", ["method", "result"],
                                   registry=r)
        self.slack_retries = Counter("chipwatch_slack_retries", "Outbox sends put back for a "
                                     "later retry.", registry=r)
        self.slack_dead = Counter("chipwatch_slack_dead_letters", "Outbox rows given up on.",
                                  registry=r)
        self.feed_last_success = Gauge("chipwatch_feed_last_success_timestamp_seconds",
                                       "When each feed was last fetched without error.",
                                       ["feed"], registry=r)
        self.poll_cycle = Histogram("chipwatch_poll_cycle_seconds", "One poll cycle: a batch "
                                    "of feeds fetched, parsed and recorded.",
                                    buckets=CYCLE_BUCKETS, registry=r)
        self.notices = Counter("chipwatch_feed_notices", "Feed health notices queued, by kind.",
                               ["kind"], registry=r)
        self._success_of: dict[str, Gauge] = {}  # labels() locks and checks: once per feed

    def watch(self, name: str, doc: str, label: str,
              read: Callable[[], dict[str, float]]) -> None:
        """Export a gauge family computed when scraped (e.g. outbox rows by state)."""
        self.registry.register(_Callback(name, doc, label, read))

    def fetched(self, result: FetchResult, seconds: float) -> None:
        self.fetches.labels(result.outcome.value).inc()
        self.fetch_seconds.observe(seconds)

    def success(self, feed: str, when: datetime) -> None:
        gauge = self._success_of.get(feed)
        if gauge is None:
            gauge = self._success_of[feed] = self.feed_last_success.labels(feed)
        gauge.set(when.timestamp())

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MeteredNotifier:
    """A Notifier that counts every call and how it ended, then passes it on."""

    def __init__(self, inner: Notifier, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.paced = inner.paced

    def _count(self, method: str, call: Callable[[], Any]) -> Any:
        try:
            out = call()
        except PermanentDeliveryError:
            self.metrics.slack_calls.labels(method, "permanent").inc()
            raise
        except DeliveryError:
            self.metrics.slack_calls.labels(method, "error").inc()
            raise
        self.metrics.slack_calls.labels(method, "ok").inc()
        return out

    def post(self, channel: str, message: Message, key: str,
             thread_ts: str | None = None) -> Posted:
        posted: Posted = self._count("chat.postMessage", lambda: self.inner.post(
            channel, message, key, thread_ts=thread_ts))
        return posted

    def update(self, channel_id: str, ts: str, message: Message) -> None:
        self._count("chat.update", lambda: self.inner.update(channel_id, ts, message))

    def check(self) -> None:
        self._count("auth.test", self.inner.check)

    def find_posted(self, channel_id: str, key: str, oldest: float,
                    thread_ts: str | None = None) -> Posted | None:
        method = "conversations.replies" if thread_ts else "conversations.history"
        found: Posted | None = self._count(method, lambda: self.inner.find_posted(
            channel_id, key, oldest, thread_ts))
        return found

    def join(self, channel: str) -> bool:
        return self.inner.join(channel)


Health = Callable[[], tuple[bool, dict[str, Any]]]


def parse_listen(listen: str) -> tuple[str, int]:
    """`127.0.0.1:9464`, `:9464` or `[::1]:9464` → (host, port)."""
    host, _, port = listen.rpartition(":")
    return (host.strip("[]") or "0.0.0.0"), int(port)


class MetricsServer:
    """`GET /metrics` (Prometheus text) and `GET /healthz` (200 or 503, JSON) in a thread."""

    def __init__(self, listen: str, metrics: Metrics, health: Health) -> None:
        host, port = parse_listen(listen)
        self.httpd = ThreadingHTTPServer((host, port), _handler(metrics, health))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="metrics",
                                       daemon=True)

    @property
    def address(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> MetricsServer:
        self.thread.start()
        log.info("metrics_listening address=%s", self.address)
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(metrics: Metrics, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass  # scrapes every 15 s would drown the event log

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                return self._send(200, metrics.render(), CONTENT_TYPE)
            if path == "/healthz":
                ok, detail = health()
                body = json.dumps({"ok": ok, **detail}).encode()
                return self._send(200 if ok else 503, body, "application/json")
            return self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
