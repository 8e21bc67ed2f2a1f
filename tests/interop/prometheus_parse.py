"""Parses Prometheus text (stdin) with prometheus_client's parser and prints the families as
JSON: [{name, type, samples: [{name, labels, value}]}]. Used by prometheus_text_test.ts."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def value(v):
    return "+Inf" if v == math.inf else v


families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": family.name,
        "type": family.type,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": value(s.value)} for s in family.samples
        ],
    })
print(json.dumps(families))
