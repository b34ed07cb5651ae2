"""Health on /metrics in the Prometheus text format (prometheus_client), on
its own registry so that a test or bench can run several agents in one process."""
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class _Sent(Collector):
    """Readings sent, counted by the transport and read here at each scrape:
    no metric work per reading."""

    def __init__(self):
        self.count = lambda: 0

    def collect(self):
        yield CounterMetricFamily("neoc_agent_readings_sent", "Readings the broker acknowledged (PUBACK)",
                                  value=self.count())


class Metrics:
    def __init__(self):
        r = self.registry = CollectorRegistry()
        self.sent = _Sent()
        r.register(self.sent)
        self.queued = Gauge("neoc_agent_readings_queued", "Readings in the outbox, not yet acknowledged", registry=r)
        self.dropped = Gauge("neoc_agent_readings_dropped", "Readings dropped from a full outbox (oldest first)",
                             registry=r)
        self.reconnects = Counter("neoc_agent_mqtt_reconnects", "MQTT connections after the first", registry=r)
        self.handshake = Gauge("neoc_agent_handshake_seconds", "Duration of the last sensOCampus handshake",
                               registry=r)
        self.outbox_bytes = Gauge("neoc_agent_outbox_bytes", "Size of the outbox file (with its WAL)", registry=r)
        self.bad_input = Counter("neoc_agent_bad_input", "Orders, lines and payloads refused", ["kind"], registry=r)
        self.server = None

    def connected(self, n):
        if n > 1:
            self.reconnects.inc()

    def watch(self, outbox, transport):
        """The outbox's gauges and the readings sent, read when /metrics is
        scraped (nothing to do between scrapes, no timer waking the agent)."""
        self.sent.count = lambda: transport.sent
        self.queued.set_function(outbox.waiting)
        self.dropped.set_function(lambda: outbox.dropped)
        self.outbox_bytes.set_function(outbox.size_bytes)

    def serve(self, host, port):
        self.server, _ = start_http_server(port, host, registry=self.registry)
        return self.server.server_port
