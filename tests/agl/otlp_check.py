"""Parses lightprompt's OTLP protobuf bytes with the official OpenTelemetry definitions
(opentelemetry-proto) and checks they hold the same traces as its OTLP/JSON export.

Usage: otlp_check.py TRACES.pb TRACES.json
"""

import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

with open(sys.argv[1], "rb") as f:
    raw = f.read()
from_bytes = ExportTraceServiceRequest()
from_bytes.ParseFromString(raw)
# Parsing skips unknown or misnumbered fields silently; re-encoding must give the same bytes.
if from_bytes.SerializeToString() != raw:
    print("otlp_check.py: the bytes are not canonical OTLP (a field is unknown or misencoded)", file=sys.stderr)
    sys.exit(1)
with open(sys.argv[2], encoding="utf-8") as f:
    document = json.load(f)
# OTLP/JSON writes ids as hex where protobuf's JSON mapping expects base64: convert them.
for rs in document["resourceSpans"]:
    for ss in rs["scopeSpans"]:
        for s in ss["spans"]:
            for key in ("traceId", "spanId", "parentSpanId"):
                if key in s:
                    s[key] = base64.b64encode(bytes.fromhex(s[key])).decode()
from_json = json_format.Parse(json.dumps(document), ExportTraceServiceRequest())
if from_bytes != from_json:
    print("otlp_check.py: protobuf and JSON exports differ", file=sys.stderr)
    sys.exit(1)
spans = [s for rs in from_bytes.resource_spans for ss in rs.scope_spans for s in ss.spans]
print(json.dumps({"resources": len(from_bytes.resource_spans), "spans": len(spans)}))
