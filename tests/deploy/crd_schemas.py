"""Minimal JSON schemas for the prometheus-operator CRDs the manifests use.

kubernetes-validate bundles only core Kubernetes schemas. These are derived from the
monitoring.coreos.com/v1 CRDs (PodMonitor, ServiceMonitor, PrometheusRule of prometheus-operator
0.7x-0.8x): the same field names, types, duration pattern and enums, restricted to the fields this
project uses, with ``additionalProperties: false`` so a typo or a field in the wrong place fails.
"""

from __future__ import annotations

from typing import Any

DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_NAME = {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"}

OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {
            "type": "string",
            "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            "maxLength": 253,
        },
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
    "additionalProperties": False,
}

LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}

RELABEL_CONFIG = {
    "type": "object",
    "properties": {
        "sourceLabels": {"type": "array", "items": LABEL_NAME},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer", "format": "int64"},
        "replacement": {"type": "string"},
        "action": {
            "type": "string",
            "pattern": r"^(?i:(replace|keep|drop|hashmod|labelmap|labeldrop|labelkeep|"
            r"lowercase|uppercase|keepequal|dropequal))$",
        },
    },
    "additionalProperties": False,
}

SECRET_KEY = {
    "type": "object",
    "required": ["key"],
    "properties": {"name": {"type": "string"}, "key": {"type": "string"}, "optional": {"type": "boolean"}},
    "additionalProperties": False,
}
SECRET_OR_CONFIGMAP = {
    "type": "object",
    "properties": {"secret": SECRET_KEY, "configMap": SECRET_KEY},
    "additionalProperties": False,
}
TLS_VERSION = {"enum": ["TLS10", "TLS11", "TLS12", "TLS13"]}
SAFE_TLS_CONFIG = {
    "type": "object",
    "properties": {
        "ca": SECRET_OR_CONFIGMAP,
        "cert": SECRET_OR_CONFIGMAP,
        "keySecret": SECRET_KEY,
        "serverName": {"type": "string"},
        "insecureSkipVerify": {"type": "boolean"},
        "minVersion": TLS_VERSION,
        "maxVersion": TLS_VERSION,
    },
    "additionalProperties": False,
}
BASIC_AUTH = {
    "type": "object",
    "properties": {"username": SECRET_KEY, "password": SECRET_KEY},
    "additionalProperties": False,
}

ENDPOINT_PROPERTIES: dict[str, Any] = {
    "port": {"type": "string"},
    "path": {"type": "string"},
    "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
    "interval": DURATION,
    "scrapeTimeout": DURATION,
    "honorLabels": {"type": "boolean"},
    "relabelings": {"type": "array", "items": RELABEL_CONFIG},
    "metricRelabelings": {"type": "array", "items": RELABEL_CONFIG},
    "tlsConfig": SAFE_TLS_CONFIG,
    "basicAuth": BASIC_AUTH,
}

NAMESPACE_SELECTOR = {
    "type": "object",
    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": False,
}

MONITOR_SPEC_COMMON: dict[str, Any] = {
    "selector": LABEL_SELECTOR,
    "namespaceSelector": NAMESPACE_SELECTOR,
    "jobLabel": {"type": "string"},
    "podTargetLabels": {"type": "array", "items": {"type": "string"}},
    "sampleLimit": {"type": "integer", "minimum": 0},
    "targetLimit": {"type": "integer", "minimum": 0},
}


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": OBJECT_META,
            "spec": spec,
        },
        "additionalProperties": False,
    }


POD_MONITOR = _resource(
    "PodMonitor",
    {
        "type": "object",
        "required": ["selector", "podMetricsEndpoints"],
        "properties": {
            **MONITOR_SPEC_COMMON,
            "podMetricsEndpoints": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "properties": ENDPOINT_PROPERTIES, "additionalProperties": False},
            },
        },
        "additionalProperties": False,
    },
)

SERVICE_MONITOR = _resource(
    "ServiceMonitor",
    {
        "type": "object",
        "required": ["selector", "endpoints"],
        "properties": {
            **MONITOR_SPEC_COMMON,
            "targetLabels": {"type": "array", "items": {"type": "string"}},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "properties": ENDPOINT_PROPERTIES, "additionalProperties": False},
            },
        },
        "additionalProperties": False,
    },
)

RULE = {
    "type": "object",
    "required": ["expr"],
    "properties": {
        "record": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "alert": {"type": "string", "minLength": 1},
        "expr": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "for": DURATION,
        "keep_firing_for": {**DURATION, "minLength": 1},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
    "additionalProperties": False,
    "oneOf": [
        {"required": ["record"], "not": {"required": ["alert"]}},
        {"required": ["alert"], "not": {"required": ["record"]}},
    ],
}

PROMETHEUS_RULE = _resource(
    "PrometheusRule",
    {
        "type": "object",
        "required": ["groups"],
        "properties": {
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "interval": DURATION,
                        "limit": {"type": "integer"},
                        "partial_response_strategy": {"type": "string", "pattern": r"^(?i:(abort|warn))?$"},
                        "query_offset": DURATION,
                        "labels": STRING_MAP,
                        "rules": {"type": "array", "items": RULE},
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
)

SCHEMAS = {"PodMonitor": POD_MONITOR, "ServiceMonitor": SERVICE_MONITOR, "PrometheusRule": PROMETHEUS_RULE}
