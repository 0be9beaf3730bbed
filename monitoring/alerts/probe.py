"""Alerts on the active probe (a synthetic streaming chat completion per target and model)."""

from __future__ import annotations

from ..bundle import Bundle
from .model import Alert, Runbook

_COMMANDS = (
    "kubectl -n <namespace> logs <pod> -c llm-exporter | grep -i probe",
    "kubectl -n <namespace> exec <pod> -c llm-exporter -- python -c "
    "\"import json,urllib.request as u;r=u.Request('http://127.0.0.1:8000/v1/chat/completions',"
    "json.dumps({'model':'<model>','max_tokens':1,'messages':[{'role':'user','content':'hi'}]}).encode(),"
    "{'Content-Type':'application/json'});print(u.urlopen(r,timeout=30).status)\"",
    "kubectl -n <namespace> logs <pod> -c vllm --tail=200",
)


def probe_alerts(b: Bundle) -> list[Alert]:
    """A target whose probe fails while its metrics answer (ticket); most of a model's probes failing (page)."""
    share = float(b.raw.get("fleet_share", 0.5))
    probe = b.sel("llm_probe_success")
    by = b.by("model")
    return [
        Alert(
            "LLMProbeFailing",
            "llm",
            f"{probe} == 0\nand {b.on('instance', 'target')}\n{b.sel('llm_target_up')} == 1",
            b.for_("LLMProbeFailing"),
            "warning",
            "A synthetic chat completion keeps failing on a target that is up.",
            "The probe of model {{ $labels.model }} on {{ $labels.target }} ({{ $labels.instance }}) has failed for "
            + b.for_("LLMProbeFailing")
            + " although the engine's metrics answer.",
            Runbook(
                "The exporter's active probe sends a one-token streaming chat completion. It fails while "
                "the same engine still serves /metrics: the API path is broken (hung scheduler, model "
                "not loaded, auth, rate limit) for this replica. One replica: a ticket; when most "
                "replicas of a model fail, LLMModelProbesFailing pages.",
                f"{probe} == 0",
                (
                    "Engine hung or out of KV cache; requests time out.",
                    "API key, TLS or rate limit changed (429 answers).",
                    "The served model name changed and the probe asks for the old one.",
                ),
                (
                    "Send the same request by hand (commands below) and read the answer.",
                    "Restart the replica if it hangs; fix the probe's model or credentials otherwise.",
                ),
                commands=_COMMANDS,
                panel="Probe success",
                escalate="The team owning the model, in working hours; it pages only as LLMModelProbesFailing.",
            ),
        ),
        Alert(
            "LLMModelProbesFailing",
            "llm",
            f"count {by} ({probe} == 0)\n/\ncount {by} ({probe})\n> {share:g}",
            b.for_("LLMModelProbesFailing"),
            "critical",
            "Most synthetic chat completions of a model fail: users cannot use it.",
            "{{ $value | humanizePercentage }} of the probes of model {{ $labels.model }} (job {{ $labels.job }}) "
            "have failed for " + b.for_("LLMModelProbesFailing") + ".",
            Runbook(
                f"More than {share:.0%} of the replicas of a model fail the exporter's synthetic chat "
                "completion: requests from users fail or hang. A rolling update does not fire it (old "
                "replicas keep answering while new ones load); a Recreate rollout, a full outage or a "
                "broken model version does.",
                f"count {by} ({probe} == 0) / count {by} ({probe})",
                (
                    "Every replica down, loading or hung (a Recreate rollout, a bad image or model version).",
                    "A shared dependency failing: GPU nodes, storage for the weights, the API gateway.",
                ),
                (
                    "Look at the model's pods and their last rollout; roll back a bad version.",
                    "Send the probe request by hand (commands below).",
                ),
                commands=(
                    "kubectl -n <namespace> rollout history deploy/<deployment>",
                    "kubectl -n <namespace> rollout undo deploy/<deployment>",
                    *_COMMANDS,
                ),
                panel="Probe success",
                escalate="Page: inference on-call now; if GPUs or nodes are the cause, the platform on-call.",
            ),
        ),
    ]
