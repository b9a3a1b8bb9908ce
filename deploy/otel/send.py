"""Sends logs and metrics to TaskPulse with the OpenTelemetry Python SDK's
OTLP/HTTP exporters, configured the way an application is: by
OTEL_EXPORTER_OTLP_ENDPOINT alone, so the exporters post to their default
paths, /v1/logs and /v1/metrics.

Logs go through the standard logging module; metrics are a counter, a
histogram and a gauge. Every record and point carries the task id given
as the one argument, which the caller reads back through the query API.
Exits 1 when an export failed, having printed why.

Usage: python send.py TASK_ID
"""

import logging
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

failures = []


class CheckedLogExporter(OTLPLogExporter):
    """Remembers a failed export: the SDK only logs it."""

    def export(self, batch):
        result = super().export(batch)
        if result != LogRecordExportResult.SUCCESS:
            failures.append(f"logs export: {result}")
        return result


class CheckedMetricExporter(OTLPMetricExporter):
    """Remembers a failed export: the SDK only logs it."""

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result != MetricExportResult.SUCCESS:
            failures.append(f"metrics export: {result}")
        return result


def main(task_id):
    resource = Resource.create({"service.name": "otel-python-worker", "deployment.environment": "ci"})

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(CheckedLogExporter()))
    log = logging.getLogger("scraper")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=logger_provider))
    log.info("fetched %d pages", 140, extra={"task_id": task_id, "site": "react.dev"})
    log.warning("slow page", extra={"task_id": task_id, "site": "react.dev", "attempt": 2})
    log.error("disk full", extra={"task_id": task_id, "site": "react.dev"})

    # A reader that exports only at shutdown: one export, with every point.
    reader = PeriodicExportingMetricReader(CheckedMetricExporter(), export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meter_provider.get_meter("scraper", "1.0.0")
    labels = {"task_id": task_id, "site": "react.dev"}
    pages = meter.create_counter("pages.fetched", unit="{page}")
    pages.add(100, labels)
    pages.add(40, labels)
    duration = meter.create_histogram("fetch.duration", unit="s", explicit_bucket_boundaries_advisory=[0.5, 2.0])
    for seconds in (0.2, 1.0, 1.5, 3.0):
        duration.record(seconds, labels)
    meter.create_gauge("queue.depth").set(7, labels)

    logger_provider.shutdown()
    meter_provider.shutdown()
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
