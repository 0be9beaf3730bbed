"""Alerts on the monitoring pipeline itself: heartbeat, exporter, targets, collectors, config reloads."""

from __future__ import annotations

from ..bundle import Bundle
from .model import Alert, Runbook


def exporter_alerts(b: Bundle) -> list[Alert]:
    """Watchdog and the exporter's own health."""
    out: list[Alert] = []
    add = out.append
    add(
        Alert(
            "Watchdog",
            "meta",
            "vector(1)",
            "0m",
            "info",
            "Alerting pipeline heartbeat: this alert always fires.",
            "Always firing. Routed to a dead man's switch that pages when it stops arriving.",
            Runbook(
                "This alert fires all the time on purpose. Alertmanager routes it to a dead man's "
                "switch (healthchecks.io, Dead Man's Snitch, PagerDuty heartbeat); when the switch stops "
                "receiving it, Prometheus, the rules or Alertmanager are broken.",
                'ALERTS{alertname="Watchdog"}',
                (
                    "If the dead man's switch fired: Prometheus down, rules not loaded, Alertmanager down, "
                    "or the route to the switch broken.",
                ),
                (
                    "Nothing while it fires.",
                    "If the switch fired: check Prometheus /rules and /alerts, "
                    "Alertmanager status, and the receiver's credentials.",
                ),
            ),
        )
    )
    up = f"up{{{b['exporter_up_selector']}}}"
    share = float(b.raw.get("fleet_share", 0.5))
    grace = b.startup_grace
    exporter_down = Runbook(
        "Prometheus failed to scrape the exporter itself. All its collectors' series are stale, "
        "so the other alerts for that pod cannot fire. The single-instance tier is a ticket (one "
        "pod, usually one replica of several); the fleet tier pages when more than "
        f"{share:.0%} of a job's exporters are down (a monitoring blackout, or a cluster-wide failure).",
        f"{up} == 0",
        (
            "The pod or process is gone or restarting (OOM kill, crash loop).",
            "Network policy, TLS or basic-auth settings that no longer match the scrape config.",
            "A scrape timeout shorter than the exporter's slowest collector.",
            "Fleet tier: a node pool or the CNI failing, a bad exporter rollout, a changed scrape config.",
        ),
        (
            "Open the Prometheus Targets page (Status -> Targets) for the scrape error of that instance.",
            "Check the exporter's logs and restarts (commands below).",
            "If the exporter is slow, raise scrape_timeout or lower collector timeouts.",
        ),
        commands=(
            "kubectl -n <namespace> get pod <pod> -o wide",
            "kubectl -n <namespace> describe pod <pod> | grep -A5 -i 'last state'",
            "kubectl -n <namespace> logs <pod> -c llm-exporter --tail=100",
            "kubectl -n <namespace> exec <pod> -c llm-exporter -- python -c "
            "\"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:10556/-/healthy').read())\"",
        ),
        panel="Exporters up",
        escalate="Fleet tier: page the platform on-call (cluster networking or Prometheus). Single "
        "instance for more than an hour: the team owning the inference deployment.",
    )
    add(
        Alert(
            "LLMExporterDown",
            "meta",
            f"{up} == 0",
            b.for_("LLMExporterDown"),
            "warning",
            "An llm-exporter instance cannot be scraped.",
            "Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }}); every inference, GPU and "
            "queue metric of that pod is missing.",
            exporter_down,
        )
    )
    add(
        Alert(
            "LLMExporterDown",
            "meta",
            f"count {b.by()} ({up} == 0)\n/\ncount {b.by()} ({up})\n> {share:g}",
            str(b.alert("LLMExporterDown").get("fleet_for", "5m")),
            "critical",
            "An llm-exporter instance cannot be scraped.",
            "{{ $value | humanizePercentage }} of the exporters of job {{ $labels.job }} cannot be scraped.",
            exporter_down,
            labels={"scope": "fleet"},
        )
    )
    target_down = Runbook(
        "The exporter could not read a configured upstream (an inference server's /metrics or a "
        "queue broker). The exporter still answers; only that target's series are gone. A ticket, "
        "not a page: one replica is down and the others serve (user impact pages through the SLO "
        f"burn and LLMModelProbesFailing). Two tiers: down_for=short fires {b.for_('LLMTargetDown')} "
        f"after a target that was serving within the last {grace} stops (a crash); down_for=long fires "
        f"after {grace} down whatever happened before, so a new pod loading its model (vLLM: up to "
        "15 minutes) never alerts during a rollout. The target's other alerts are inhibited in "
        "Alertmanager while this one fires.",
        f"{b.sel('llm_target_up')} == 0",
        (
            "The inference server or broker crashed, is restarting, or is stuck loading a model "
            "(download, out of GPU memory).",
            "Wrong URL, port, credentials or TLS in the exporter config.",
            "The upstream answers too slowly (timeout) or returns an oversized or malformed body.",
        ),
        (
            "Read the exporter's log: it logs the reason once per state change.",
            "Check the engine container: restarts, OOM kills, the end of its log (commands below).",
            "curl the upstream URL from the exporter's container.",
            "Restart or fix the upstream; fix the config and send SIGHUP (or POST /-/reload with "
            "--web.enable-lifecycle).",
        ),
        commands=(
            "kubectl -n <namespace> get pod <pod> -o jsonpath='{.status.containerStatuses[*].restartCount}'",
            "kubectl -n <namespace> logs <pod> -c vllm --tail=200",
            "kubectl -n <namespace> logs <pod> -c llm-exporter | grep -i <target>",
            "kubectl -n <namespace> exec <pod> -c vllm -- nvidia-smi",
            "kubectl -n <namespace> exec <pod> -c llm-exporter -- python -c "
            "\"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8000/health').status)\"",
        ),
        panel="Target up",
        escalate="Page the inference on-call only when LLMModelProbesFailing or an SLO burn-rate alert "
        "fires as well; otherwise the owning team handles it in working hours.",
    )
    add(
        Alert(
            "LLMTargetDown",
            "meta",
            f"{b.sel('llm_target_up')} == 0\nand\nmax_over_time({b.sel('llm_target_up')}[{grace}]) == 1",
            b.for_("LLMTargetDown"),
            "warning",
            "An upstream read by llm-exporter is unreachable.",
            "Target {{ $labels.target }} behind {{ $labels.instance }} (job {{ $labels.job }}) was serving and has "
            "been unreachable for more than " + b.for_("LLMTargetDown") + "; its metrics are absent.",
            target_down,
            labels={"down_for": "short"},
        )
    )
    add(
        Alert(
            "LLMTargetDown",
            "meta",
            f"{b.sel('llm_target_up')} == 0",
            grace,
            "warning",
            "An upstream read by llm-exporter is unreachable.",
            "Target {{ $labels.target }} behind {{ $labels.instance }} (job {{ $labels.job }}) has been "
            "unreachable for " + grace + " (longer than a model load); its metrics are absent.",
            target_down,
            labels={"down_for": "long"},
        )
    )
    add(
        Alert(
            "LLMExporterCollectorFailing",
            "meta",
            f"{b.sel('llm_scrape_collector_success')} == 0",
            b.for_("LLMExporterCollectorFailing"),
            "warning",
            "An llm-exporter collector keeps failing.",
            "Collector {{ $labels.collector }} on {{ $labels.instance }} has failed every scrape for "
            + b.for_("LLMExporterCollectorFailing")
            + " (internal error or deadline).",
            Runbook(
                "A collector raised an internal error, or a collector without a target (gpu) did not "
                "finish within the scrape deadline. Its metrics are missing; other collectors are "
                "unaffected. A slow or hung upstream does not fire this: it is llm_target_up 0 "
                "(LLMTargetDown).",
                f"{b.sel('llm_scrape_collector_success')} == 0",
                (
                    "NVML hanging or a driver problem (gpu collector).",
                    "A bug in the exporter.",
                ),
                (
                    "Compare llm_scrape_collector_duration_seconds with the scrape timeout.",
                    "Read the exporter's log for the collector's error.",
                    "Raise scrape_timeout, lower max_queues, or report the bug with the log.",
                ),
            ),
        )
    )
    add(
        Alert(
            "LLMExporterConfigReloadFailed",
            "meta",
            f"{b.sel('llm_exporter_config_last_reload_successful')} == 0",
            b.for_("LLMExporterConfigReloadFailed"),
            "warning",
            "An llm-exporter rejected its new configuration.",
            "The exporter on {{ $labels.instance }} rejected its last config reload and is still running the "
            "previous config.",
            Runbook(
                "A SIGHUP or POST /-/reload found an invalid config file; the exporter kept the old one "
                "(POST answers 500 with the reasons; the log has them too).",
                f"{b.sel('llm_exporter_config_last_reload_successful')} == 0",
                ("A typo or unknown key in the YAML.", "An unset ${ENV} variable or unreadable *_file secret."),
                (
                    "Run `llm-exporter check-config --config.file=...` on the new file; it names key and line.",
                    "Fix the file and reload again.",
                ),
            ),
        )
    )
    return out
