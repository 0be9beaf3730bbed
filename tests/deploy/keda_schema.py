"""JSON schema of KEDA's ScaledObject (keda.sh/v1alpha1), for offline validation.

Derived from kedacore/keda ``config/crd/bases/keda.sh_scaledobjects.yaml`` (KEDA 2.17/2.18): the
same field names, types, minimums and enums, restricted to what the manifests may use, with
``additionalProperties: false`` so a typo or a misplaced field fails. The Prometheus trigger's
``metadata`` is checked against the scaler's parameters (``pkg/scalers/prometheus_scaler.go``):
``serverAddress``, ``query`` and ``threshold`` required, numbers as strings. KEDA's webhook rule
that a fallback needs at least one ``AverageValue`` trigger is ``fallback_problems``.
"""

from __future__ import annotations

from typing import Any

INT32_MIN0 = {"type": "integer", "minimum": 0}
NUMBER_STRING = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
BOOL_STRING = {"enum": ["true", "false"]}

HPA_POLICY = {
    "type": "object",
    "required": ["type", "value", "periodSeconds"],
    "properties": {
        "type": {"enum": ["Pods", "Percent"]},
        "value": {"type": "integer", "minimum": 1},
        "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800},
    },
    "additionalProperties": False,
}
HPA_RULES = {
    "type": "object",
    "properties": {
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
        "policies": {"type": "array", "items": HPA_POLICY},
    },
    "additionalProperties": False,
}

PROMETHEUS_METADATA = {
    "type": "object",
    "required": ["serverAddress", "query", "threshold"],
    "properties": {
        "serverAddress": {"type": "string", "pattern": r"^https?://"},
        "query": {"type": "string", "minLength": 1},
        "threshold": NUMBER_STRING,
        "activationThreshold": NUMBER_STRING,
        "namespace": {"type": "string"},
        "ignoreNullValues": BOOL_STRING,
        "unsafeSsl": BOOL_STRING,
        "timeout": {"type": "string"},
        "queryParameters": {"type": "string"},
        "customHeaders": {"type": "string"},
    },
    "additionalProperties": False,
}

TRIGGER = {
    "type": "object",
    "required": ["type", "metadata"],
    "properties": {
        "type": {"const": "prometheus"},
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "metricType": {"enum": ["Value", "AverageValue", "Utilization"]},
        "useCachedMetrics": {"type": "boolean"},
        "metadata": PROMETHEUS_METADATA,
        "authenticationRef": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

SCALED_OBJECT: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": INT32_MIN0,
                "initialCooldownPeriod": INT32_MIN0,
                "idleReplicaCount": INT32_MIN0,
                "minReplicaCount": INT32_MIN0,
                "maxReplicaCount": INT32_MIN0,
                "fallback": {
                    "type": "object",
                    "required": ["failureThreshold", "replicas"],
                    "properties": {
                        "failureThreshold": INT32_MIN0,
                        "replicas": INT32_MIN0,
                        "behavior": {
                            "enum": [
                                "static",
                                "currentReplicas",
                                "currentReplicasIfHigher",
                                "currentReplicasIfLower",
                                "scalingModifiers",
                            ]
                        },
                    },
                    "additionalProperties": False,
                },
                "advanced": {
                    "type": "object",
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {
                                    "type": "object",
                                    "properties": {"scaleUp": HPA_RULES, "scaleDown": HPA_RULES},
                                    "additionalProperties": False,
                                },
                            },
                            "additionalProperties": False,
                        },
                    },
                    "additionalProperties": False,
                },
                "triggers": {"type": "array", "minItems": 1, "items": TRIGGER},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}


def fallback_problems(obj: dict[str, Any]) -> list[str]:
    """KEDA's admission checks the schema cannot express (apis/keda/v1alpha1 CheckFallbackValid ...)."""
    spec, out = obj["spec"], []
    if "fallback" in spec and not any(t.get("metricType", "AverageValue") == "AverageValue" for t in spec["triggers"]):
        out.append("fallback needs at least one AverageValue trigger")
    if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
        out.append("minReplicaCount > maxReplicaCount")
    names = [t.get("name") for t in spec["triggers"] if t.get("name")]
    if len(names) != len(set(names)):
        out.append("trigger names must be unique")
    return out
