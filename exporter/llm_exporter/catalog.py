"""Every metric llm-exporter can emit: name, type, unit, labels and help, in one place.

This module is the public interface of the exporter. Collectors may only emit the
metrics listed here (``MetricSet`` refuses anything else), the README's metric table is
generated from it, and the dashboards and rules are checked against it. Renaming a
metric here is a breaking change and needs a migration note in the README.

Conventions (Prometheus naming guide): namespace ``llm_``, base units (seconds, bytes,
joules, hertz, celsius, ratio 0-1), ``_total`` only on counters, identity in ``_info``
metrics with value 1, no hostname/cluster labels (those are Prometheus target labels).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram"]

GROUPS = ("exporter", "target", "inference", "probe", "process", "gpu", "queue", "agent", "cost")


@dataclass(frozen=True)
class MetricSpec:
    """One exported metric family.

    ``labels`` are the labels every series carries, in order. ``extra_labels`` allows
    further identity labels (only for ``_info`` metrics). ``unit`` is the base unit the
    name ends with (empty for dimensionless counts). ``group`` says which collector
    family emits it and selects its section in the README table.
    """

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""
    group: str = "exporter"
    extra_labels: bool = False
    opt_in: bool = False

    @property
    def is_info(self) -> bool:
        return self.name.endswith("_info")


def _m(
    group: str,
    name: str,
    type_: MetricType,
    help_: str,
    labels: Iterable[str] = (),
    unit: str = "",
    *,
    extra: bool = False,
    opt_in: bool = False,
) -> MetricSpec:
    return MetricSpec(name, type_, help_, tuple(labels), unit, group, extra, opt_in)


_T = ("target",)
_TM = ("target", "model")
_TAM = ("target", "agent", "model")
_G = ("gpu", "uuid")
_Q = ("backend", "target", "queue", "group")

_SPECS: tuple[MetricSpec, ...] = (
    # --- the exporter itself -------------------------------------------------------
    _m(
        "exporter",
        "llm_exporter_build_info",
        "gauge",
        "Build of llm-exporter: version and Python runtime. Always 1.",
        ("version", "python_version"),
    ),
    _m(
        "exporter",
        "llm_exporter_config_last_reload_successful",
        "gauge",
        "1 if the last configuration (re)load succeeded, 0 if it was rejected and the previous one is still running.",
    ),
    _m(
        "exporter",
        "llm_exporter_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful configuration load.",
        unit="seconds",
    ),
    _m(
        "exporter",
        "llm_scrape_collector_success",
        "gauge",
        "1 if the collector finished without an internal error (and, for a collector without a target such as "
        "the GPU one, within the scrape deadline). An unreachable or slow upstream is reported by llm_target_up, "
        "not here.",
        ("collector",),
    ),
    _m(
        "exporter",
        "llm_scrape_collector_duration_seconds",
        "gauge",
        "Wall time the collector took in this scrape (or the deadline when it timed out).",
        ("collector",),
        "seconds",
    ),
    # --- upstream targets -----------------------------------------------------------
    _m(
        "target",
        "llm_target_up",
        "gauge",
        "1 if the last read of the configured upstream (inference server or queue broker) succeeded.",
        _T,
    ),
    _m(
        "target",
        "llm_target_info",
        "gauge",
        "Identity of a configured upstream: kind (inference, queue), software and version. Always 1.",
        ("target", "kind", "software", "version"),
    ),
    _m(
        "target",
        "llm_target_dropped_series",
        "gauge",
        "Series of the target not exported in this scrape because it is over its max_models or max_series limit "
        "(an upstream series left unread past max_series in one family counts once).",
        _T,
    ),
    _m(
        "target",
        "llm_upstream_rejected_samples_total",
        "counter",
        "Upstream samples dropped as invalid, by reason: nan, inf, negative (a counter below 0), "
        "out_of_range (a ratio outside 0-1). The exported series keeps its last valid value.",
        ("target", "reason"),
    ),
    # --- inference (normalised across engines) --------------------------------------
    _m(
        "inference",
        "llm_model_info",
        "gauge",
        "A model served by a target, with what the engine tells about it (max_model_len, ...). Always 1.",
        ("target", "server", "model"),
        extra=True,
    ),
    _m("inference", "llm_requests_running", "gauge", "Requests in the engine's running batch.", _TM),
    _m(
        "inference", "llm_requests_waiting", "gauge", "Requests queued inside the engine, waiting to be scheduled.", _TM
    ),
    _m(
        "inference",
        "llm_kv_cache_usage_ratio",
        "gauge",
        "Fraction of the KV cache in use, 0-1. With several data-parallel engines (vLLM engine, SGLang dp_rank) "
        "this is their mean; llm_engine_kv_cache_usage_ratio has each engine.",
        _TM,
        "ratio",
    ),
    _m(
        "inference",
        "llm_prompt_tokens_total",
        "counter",
        "Prompt (input) tokens processed, prefix-cache hits included (the API's usage.prompt_tokens).",
        _TM,
        "tokens",
    ),
    _m(
        "inference",
        "llm_generation_tokens_total",
        "counter",
        "Generated (output) tokens (the API's usage.completion_tokens).",
        _TM,
        "tokens",
    ),
    _m(
        "inference",
        "llm_prefix_cache_queried_tokens_total",
        "counter",
        "Prompt tokens looked up in the prefix cache.",
        _TM,
        "tokens",
    ),
    _m(
        "inference",
        "llm_prefix_cache_hit_tokens_total",
        "counter",
        "Prompt tokens served from the prefix cache (usage.prompt_tokens_details.cached_tokens).",
        _TM,
        "tokens",
    ),
    _m(
        "inference",
        "llm_requests_total",
        "counter",
        "Finished requests by finish_reason: stop, length, abort, error, rejected, unknown.",
        ("target", "model", "finish_reason"),
    ),
    _m(
        "inference",
        "llm_request_duration_seconds",
        "histogram",
        "End-to-end request latency, in the engine's own buckets.",
        _TM,
        "seconds",
    ),
    _m(
        "inference",
        "llm_time_to_first_token_seconds",
        "histogram",
        "Time to first token (TTFT), in the engine's own buckets.",
        _TM,
        "seconds",
    ),
    _m(
        "inference",
        "llm_inter_token_latency_seconds",
        "histogram",
        "Time between consecutive output tokens, in the engine's own buckets.",
        _TM,
        "seconds",
    ),
    _m(
        "inference",
        "llm_time_per_output_token_seconds",
        "histogram",
        "Per-request mean time per output token (TPOT), in the engine's own buckets.",
        _TM,
        "seconds",
    ),
    _m(
        "inference",
        "llm_request_queue_duration_seconds",
        "histogram",
        "Time a request waited in the engine before being scheduled.",
        _TM,
        "seconds",
    ),
    # what operators miss without the engine's own dashboards: preemption, lengths, phases, spec decode
    _m(
        "inference",
        "llm_preemptions_total",
        "counter",
        "Requests preempted out of the running batch to free KV cache (vLLM preemptions, SGLang retractions).",
        _TM,
    ),
    _m(
        "inference",
        "llm_request_prompt_tokens",
        "histogram",
        "Prompt length per finished request, in tokens (the engine's own buckets).",
        _TM,
        "tokens",
    ),
    _m(
        "inference",
        "llm_request_generation_tokens",
        "histogram",
        "Generated length per finished request, in tokens (the engine's own buckets).",
        _TM,
        "tokens",
    ),
    _m(
        "inference",
        "llm_request_prefill_duration_seconds",
        "histogram",
        "Time from scheduling to the first token (prompt processing), per request.",
        _TM,
        "seconds",
    ),
    _m(
        "inference",
        "llm_request_decode_duration_seconds",
        "histogram",
        "Time from the first to the last token (generation), per request.",
        _TM,
        "seconds",
    ),
    _m(
        "inference",
        "llm_request_inference_duration_seconds",
        "histogram",
        "Time a request spent running in the engine (prefill + decode, queue excluded).",
        _TM,
        "seconds",
    ),
    _m(
        "inference",
        "llm_requests_waiting_by_reason",
        "gauge",
        "Waiting requests by reason (vLLM: capacity = no KV cache or batch room, deferred = held back by "
        "scheduling policy); sums to llm_requests_waiting.",
        ("target", "model", "reason"),
    ),
    _m(
        "inference",
        "llm_engine_sleep_state",
        "gauge",
        "Fraction of the model's engines in each sleep state (awake, weights_offloaded, discard_all); "
        "1 with a single engine.",
        ("target", "model", "state"),
    ),
    _m(
        "inference",
        "llm_spec_decode_drafts_total",
        "counter",
        "Speculative-decoding draft sequences proposed.",
        _TM,
    ),
    _m(
        "inference",
        "llm_spec_decode_draft_tokens_total",
        "counter",
        "Speculative-decoding draft tokens proposed.",
        _TM,
        "tokens",
    ),
    _m(
        "inference",
        "llm_spec_decode_accepted_tokens_total",
        "counter",
        "Draft tokens accepted by the target model; acceptance rate = accepted / draft tokens.",
        _TM,
        "tokens",
    ),
    _m(
        "inference",
        "llm_lora_adapters",
        "gauge",
        "Distinct LoRA adapters with running or waiting requests (state), from vLLM lora_requests_info. "
        "Adapter names are not labels (bounded series).",
        ("target", "model", "state"),
    ),
    _m("inference", "llm_lora_adapters_max", "gauge", "LoRA adapters that fit in one batch (vLLM max_lora).", _TM),
    _m(
        "inference",
        "llm_engine_requests_running",
        "gauge",
        "Running requests per data-parallel engine (vLLM engine, SGLang dp_rank); llm_requests_running is their sum.",
        ("target", "model", "engine"),
    ),
    _m(
        "inference",
        "llm_engine_requests_waiting",
        "gauge",
        "Waiting requests per data-parallel engine; llm_requests_waiting is their sum.",
        ("target", "model", "engine"),
    ),
    _m(
        "inference",
        "llm_engine_kv_cache_usage_ratio",
        "gauge",
        "KV-cache usage per data-parallel engine, 0-1; llm_kv_cache_usage_ratio is their mean.",
        ("target", "model", "engine"),
        "ratio",
    ),
    _m(
        "inference",
        "llm_model_memory_bytes",
        "gauge",
        "Memory held by a loaded model (Ollama /api/ps size: weights, KV cache and buffers).",
        _TM,
        "bytes",
    ),
    _m(
        "inference",
        "llm_model_gpu_memory_bytes",
        "gauge",
        "Part of llm_model_memory_bytes resident in GPU memory (Ollama size_vram); the rest is offloaded to CPU.",
        _TM,
        "bytes",
    ),
    _m(
        "inference",
        "llm_model_expiry_timestamp_seconds",
        "gauge",
        "Unix time at which an idle loaded model will be unloaded (Ollama expires_at).",
        _TM,
        "seconds",
    ),
    # --- active probe --------------------------------------------------------------
    _m("probe", "llm_probe_success", "gauge", "1 if the last synthetic streaming chat completion succeeded.", _TM),
    _m("probe", "llm_probe_duration_seconds", "gauge", "Total duration of the last probe request.", _TM, "seconds"),
    _m(
        "probe",
        "llm_probe_time_to_first_token_seconds",
        "gauge",
        "Time to the first streamed token of the last successful probe.",
        _TM,
        "seconds",
    ),
    _m(
        "probe",
        "llm_probe_ratelimit_remaining_requests",
        "gauge",
        "Requests left in the rate-limit window (x-ratelimit-remaining-requests of the last probe).",
        _TM,
    ),
    _m(
        "probe",
        "llm_probe_ratelimit_remaining_tokens",
        "gauge",
        "Tokens left in the rate-limit window (x-ratelimit-remaining-tokens of the last probe).",
        _TM,
        "tokens",
    ),
    # --- served process (psutil) ---------------------------------------------------
    _m(
        "process",
        "llm_process_cpu_seconds_total",
        "counter",
        "CPU time (user + system) of the served inference process.",
        _T,
        "seconds",
    ),
    _m(
        "process",
        "llm_process_resident_memory_bytes",
        "gauge",
        "Resident memory of the served inference process.",
        _T,
        "bytes",
    ),
    _m("process", "llm_process_threads", "gauge", "Threads of the served inference process.", _T),
    _m("process", "llm_process_open_fds", "gauge", "Open file descriptors of the served inference process.", _T),
    # --- GPU (NVML) -------------------------------------------------------------------
    _m("gpu", "llm_gpu_nvml_up", "gauge", "1 if NVML is initialised and answering.", ()),
    _m("gpu", "llm_gpu_devices", "gauge", "GPUs visible to NVML.", ()),
    _m(
        "gpu",
        "llm_gpu_info",
        "gauge",
        "Identity of a GPU (name, PCI bus id, serial, driver and CUDA versions, ...). Always 1.",
        _G,
        extra=True,
    ),
    _m(
        "gpu",
        "llm_gpu_up",
        "gauge",
        "1 if every call to this GPU answered in the last collection; 0 marks a lost or erroring GPU "
        "(its other series are then absent).",
        _G,
    ),
    _m(
        "gpu", "llm_gpu_memory_used_bytes", "gauge", "Framebuffer memory in use (nvmlDeviceGetMemoryInfo).", _G, "bytes"
    ),
    _m("gpu", "llm_gpu_memory_total_bytes", "gauge", "Total framebuffer memory.", _G, "bytes"),
    _m("gpu", "llm_gpu_memory_reserved_bytes", "gauge", "Framebuffer memory reserved by the driver.", _G, "bytes"),
    _m(
        "gpu",
        "llm_gpu_utilization_ratio",
        "gauge",
        "Fraction of the last sample period a kernel was running (nvmlDeviceGetUtilizationRates.gpu).",
        _G,
        "ratio",
    ),
    _m(
        "gpu",
        "llm_gpu_memory_utilization_ratio",
        "gauge",
        "Fraction of the last sample period device memory was read or written.",
        _G,
        "ratio",
    ),
    _m("gpu", "llm_gpu_temperature_celsius", "gauge", "GPU die temperature.", _G, "celsius"),
    _m("gpu", "llm_gpu_power_watts", "gauge", "Current power draw.", _G, "watts"),
    _m("gpu", "llm_gpu_power_limit_watts", "gauge", "Enforced power limit.", _G, "watts"),
    _m(
        "gpu",
        "llm_gpu_energy_joules_total",
        "counter",
        "Energy consumed since the driver was loaded (nvmlDeviceGetTotalEnergyConsumption).",
        _G,
        "joules",
    ),
    _m("gpu", "llm_gpu_clock_hertz", "gauge", "Current clock frequency by clock domain.", (*_G, "clock"), "hertz"),
    _m(
        "gpu",
        "llm_gpu_clock_event_active",
        "gauge",
        "1 while the clock-event (throttle) reason is active, else 0.",
        (*_G, "reason"),
    ),
    _m(
        "gpu",
        "llm_gpu_clock_event_seconds_total",
        "counter",
        "Time the clocks were held back by the reason since the driver was loaded.",
        (*_G, "reason"),
        "seconds",
    ),
    _m(
        "gpu",
        "llm_gpu_ecc_errors_total",
        "counter",
        "ECC errors by error (corrected, uncorrected) and counter (volatile, aggregate).",
        (*_G, "error", "counter"),
    ),
    _m(
        "gpu",
        "llm_gpu_remapped_rows",
        "gauge",
        "Memory rows remapped, by cause (correctable, uncorrectable); Ampere and newer.",
        (*_G, "cause"),
    ),
    _m(
        "gpu",
        "llm_gpu_xid_errors_total",
        "counter",
        "XID errors seen by the event watcher since the exporter started, by XID code.",
        (*_G, "xid"),
    ),
    _m(
        "gpu",
        "llm_gpu_xid_last_timestamp_seconds",
        "gauge",
        "Unix time of the last XID error of this code.",
        (*_G, "xid"),
        "seconds",
    ),
    _m("gpu", "llm_gpu_pcie_replays_total", "counter", "PCIe replay counter.", _G),
    _m("gpu", "llm_gpu_processes", "gauge", "Compute processes running on the GPU.", _G),
    _m(
        "gpu",
        "llm_gpu_process_memory_bytes",
        "gauge",
        "GPU memory used by one process (opt-in: gpu.processes).",
        (*_G, "pid", "process", "container_id"),
        "bytes",
        opt_in=True,
    ),
    _m("gpu", "llm_gpu_memory_free_bytes", "gauge", "Framebuffer memory free.", _G, "bytes"),
    _m(
        "gpu",
        "llm_gpu_encoder_utilization_ratio",
        "gauge",
        "Fraction of the last sample period the video encoder (NVENC) was busy.",
        _G,
        "ratio",
    ),
    _m(
        "gpu",
        "llm_gpu_decoder_utilization_ratio",
        "gauge",
        "Fraction of the last sample period the video decoder (NVDEC) was busy.",
        _G,
        "ratio",
    ),
    _m(
        "gpu",
        "llm_gpu_memory_temperature_celsius",
        "gauge",
        "Memory (HBM) temperature; absent on GPUs without a memory sensor.",
        _G,
        "celsius",
    ),
    _m(
        "gpu",
        "llm_gpu_fan_speed_ratio",
        "gauge",
        "Fan speed as a fraction of its maximum; absent on passively cooled GPUs.",
        _G,
        "ratio",
    ),
    _m(
        "gpu",
        "llm_gpu_performance_state",
        "gauge",
        "Performance state P0-P15 as a number (0 = highest performance).",
        _G,
    ),
    _m(
        "gpu",
        "llm_gpu_retired_pages",
        "gauge",
        "Memory pages retired, by cause (single_bit_ecc, double_bit_ecc); pre-Ampere ECC GPUs.",
        (*_G, "cause"),
    ),
    _m("gpu", "llm_gpu_retired_pages_pending", "gauge", "1 if a page retirement waits for the next GPU reset.", _G),
    _m(
        "gpu", "llm_gpu_remapped_rows_pending", "gauge", "1 if a memory row remapping waits for the next GPU reset.", _G
    ),
    _m("gpu", "llm_gpu_remapped_rows_failure", "gauge", "1 if a row remapping failed (the GPU needs service).", _G),
    _m(
        "gpu",
        "llm_gpu_recovery_action",
        "gauge",
        "Action the driver asks for: 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P, 4 drain and reset "
        "(NVML_FI_DEV_GET_GPU_RECOVERY_ACTION).",
        _G,
    ),
    _m(
        "gpu",
        "llm_gpu_pcie_link_generation",
        "gauge",
        "PCIe link generation, by state (current, max); current below max is a downtrained link.",
        (*_G, "state"),
    ),
    _m("gpu", "llm_gpu_pcie_link_width", "gauge", "PCIe link width in lanes, by state (current, max).", (*_G, "state")),
    _m(
        "gpu",
        "llm_gpu_mig_mode",
        "gauge",
        "1 if MIG mode is enabled, by state (current, pending after reset).",
        (*_G, "state"),
    ),
    _m(
        "gpu",
        "llm_gpu_mig_instance_info",
        "gauge",
        "A MIG device: GPU instance, compute instance, MIG UUID and GPU instance profile (3g.40gb). Always 1.",
        (*_G, "gpu_instance_id", "compute_instance_id", "mig_uuid", "profile"),
    ),
    _m(
        "gpu",
        "llm_gpu_mig_memory_total_bytes",
        "gauge",
        "Memory of a MIG GPU instance (once per GPU instance, never per compute instance).",
        (*_G, "gpu_instance_id"),
        "bytes",
    ),
    _m(
        "gpu",
        "llm_gpu_mig_memory_used_bytes",
        "gauge",
        "Memory used in a MIG GPU instance.",
        (*_G, "gpu_instance_id"),
        "bytes",
    ),
    _m(
        "gpu",
        "llm_gpu_nvml_reinitializations_total",
        "counter",
        "Times NVML was shut down and initialised again after a lifecycle error (driver reload ...).",
    ),
    _m(
        "gpu",
        "llm_gpu_pcie_transmit_bytes_per_second",
        "gauge",
        "PCIe transmit throughput over the driver's last 20 ms window (opt-in: gpu.pcie_throughput).",
        _G,
        "bytes_per_second",
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_pcie_receive_bytes_per_second",
        "gauge",
        "PCIe receive throughput over the driver's last 20 ms window (opt-in: gpu.pcie_throughput).",
        _G,
        "bytes_per_second",
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_nvlink_active",
        "gauge",
        "1 if the NVLink link is active (opt-in: gpu.nvlink).",
        (*_G, "link"),
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_nvlink_errors_total",
        "counter",
        "NVLink data-link errors by link and error (replay, recovery, crc_flit, crc_data) (opt-in: gpu.nvlink).",
        (*_G, "link", "error"),
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_nvlink_transmit_bytes_total",
        "counter",
        "NVLink data transmitted on the link (opt-in: gpu.nvlink).",
        (*_G, "link"),
        "bytes",
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_nvlink_receive_bytes_total",
        "counter",
        "NVLink data received on the link (opt-in: gpu.nvlink).",
        (*_G, "link"),
        "bytes",
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_graphics_active_ratio",
        "gauge",
        "Fraction of time the graphics or compute engine was active since the previous scrape "
        "(GPM, Hopper and newer; opt-in: gpu.gpm).",
        _G,
        "ratio",
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_sm_active_ratio",
        "gauge",
        "Fraction of SMs busy, averaged since the previous scrape (GPM; opt-in: gpu.gpm).",
        _G,
        "ratio",
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_sm_occupancy_ratio",
        "gauge",
        "Active warps relative to the theoretical maximum since the previous scrape (GPM; opt-in: gpu.gpm).",
        _G,
        "ratio",
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_tensor_active_ratio",
        "gauge",
        "Fraction of time the SMs ran tensor-core instructions since the previous scrape (GPM; opt-in: gpu.gpm).",
        _G,
        "ratio",
        opt_in=True,
    ),
    _m(
        "gpu",
        "llm_gpu_dram_active_ratio",
        "gauge",
        "DRAM bandwidth used relative to the maximum since the previous scrape (GPM; opt-in: gpu.gpm).",
        _G,
        "ratio",
        opt_in=True,
    ),
    # --- queues ----------------------------------------------------------------------
    _m(
        "queue",
        "llm_queue_info",
        "gauge",
        "A watched queue, the agent that consumes it (from config) and its kind. Always 1.",
        _Q,
        extra=True,
    ),
    _m(
        "queue",
        "llm_queue_ready_messages",
        "gauge",
        "Messages waiting and deliverable now (ready, stream lag, num_pending).",
        _Q,
    ),
    _m(
        "queue",
        "llm_queue_inflight_messages",
        "gauge",
        "Messages delivered or started but not yet acknowledged or finished.",
        _Q,
    ),
    _m("queue", "llm_queue_delayed_messages", "gauge", "Messages scheduled or deferred, not yet due.", _Q),
    _m("queue", "llm_queue_dead_messages", "gauge", "Messages in the dead-letter queue or failed registry.", _Q),
    _m(
        "queue",
        "llm_queue_oldest_ready_age_seconds",
        "gauge",
        "Age of the oldest ready message; 0 when empty, absent when unknowable.",
        _Q,
        "seconds",
    ),
    _m(
        "queue",
        "llm_queue_oldest_inflight_age_seconds",
        "gauge",
        "Age of the longest-running or longest-unacknowledged message; absent when unknowable.",
        _Q,
        "seconds",
    ),
    _m("queue", "llm_queue_consumers", "gauge", "Consumers or workers attached to the queue.", _Q),
    _m(
        "queue",
        "llm_queue_enqueued_total",
        "counter",
        "Messages accepted into the queue: tasks per second in (RabbitMQ publish, stream entries-added, "
        "JetStream last_seq, Celery task-sent).",
        _Q,
    ),
    _m(
        "queue",
        "llm_queue_delivered_total",
        "counter",
        "Messages handed to consumers, redeliveries included (RabbitMQ deliver_get, stream group entries-read, "
        "JetStream consumer delivered sequence, Celery task-received).",
        _Q,
    ),
    _m(
        "queue",
        "llm_queue_completed_total",
        "counter",
        "Messages acknowledged or tasks done: tasks per second done (RabbitMQ ack, stream group entries-read minus "
        "pending, JetStream ack floor, RQ workers' finished jobs, Celery task-succeeded).",
        _Q,
    ),
    _m(
        "queue",
        "llm_queue_failed_total",
        "counter",
        "Failed job executions (RQ workers' failed jobs), kept monotonic across worker restarts.",
        _Q,
    ),
    _m("queue", "llm_queue_redelivered_total", "counter", "Messages delivered more than once.", _Q),
    _m(
        "queue",
        "llm_queue_redelivering_messages",
        "gauge",
        "Unacknowledged messages that were delivered more than once (NATS num_redelivered; a gauge, not a counter).",
        _Q,
    ),
    _m(
        "queue",
        "llm_queue_pull_requests_waiting",
        "gauge",
        "Outstanding pull requests of a pull consumer waiting for messages (NATS num_waiting): idle consumer capacity.",
        _Q,
    ),
    _m(
        "queue",
        "llm_queue_dropped_queues",
        "gauge",
        "Queues found on the target beyond its max_queues limit and therefore not exported.",
        ("backend", "target"),
    ),
    # --- agent tasks (Celery events, RQ worker counters) ---------------------------------
    _m(
        "queue",
        "llm_queue_tasks_total",
        "counter",
        "Finished task attempts by outcome: succeeded, failed, retried, rejected, revoked "
        '(Celery task events; RQ workers\' successful and failed job counts with task="").',
        (*_Q, "task", "outcome"),
    ),
    _m(
        "queue",
        "llm_queue_task_events_total",
        "counter",
        "Task lifecycle events seen: sent (needs task_send_sent_event), received and started (Celery task events).",
        (*_Q, "task", "event"),
    ),
    _m(
        "queue",
        "llm_queue_task_wait_seconds",
        "histogram",
        "Time from sent (or received) to started, or from the ETA when later (Celery task events).",
        (*_Q, "task"),
        "seconds",
    ),
    _m(
        "queue",
        "llm_queue_task_runtime_seconds",
        "histogram",
        "Time from started to finished of each task attempt (Celery runtime; RQ total working time as sum and count).",
        (*_Q, "task"),
        "seconds",
    ),
    _m(
        "queue",
        "llm_queue_workers",
        "gauge",
        "Task workers alive that consume the queue (Celery heartbeats within 2 intervals, RQ registered workers).",
        _Q,
    ),
    _m(
        "queue",
        "llm_queue_task_names_folded",
        "gauge",
        'Distinct task names past max_tasks counted under task="other" since the receiver started.',
        ("backend", "target"),
    ),
    _m(
        "queue",
        "llm_queue_tasks_tracked",
        "gauge",
        "Unfinished tasks the Celery event receiver tracks (bounded by max_inflight).",
        ("backend", "target"),
    ),
    _m(
        "queue",
        "llm_queue_tasks_forgotten_total",
        "counter",
        "Unfinished tasks dropped from tracking because max_inflight was reached.",
        ("backend", "target"),
    ),
    _m(
        "queue",
        "llm_queue_events_connected",
        "gauge",
        "1 while the Celery event receiver is connected to the broker, 0 while it reconnects.",
        ("backend", "target"),
    ),
    _m(
        "queue",
        "llm_queue_events_received_total",
        "counter",
        "Celery events received by the event receiver (tasks and worker heartbeats).",
        ("backend", "target"),
    ),
    # --- LLM usage per agent (LiteLLM proxy, opt-in per target: agents) ------------------
    _m(
        "agent",
        "llm_agent_prompt_tokens_total",
        "counter",
        "Prompt (input) tokens of the agent's requests through the LiteLLM proxy (provider-reported usage).",
        _TAM,
    ),
    _m(
        "agent",
        "llm_agent_generation_tokens_total",
        "counter",
        "Generated (output) tokens of the agent's requests through the LiteLLM proxy.",
        _TAM,
    ),
    _m(
        "agent",
        "llm_agent_requests_total",
        "counter",
        "The agent's requests to the LiteLLM proxy by outcome: succeeded (2xx), rejected (4xx, 429 included), "
        "failed (5xx and others).",
        (*_TAM, "outcome"),
    ),
    _m(
        "agent",
        "llm_agent_spend_dollars_total",
        "counter",
        "LiteLLM's own spend for the agent's requests (its cost map or the deployment's prices), in US dollars.",
        _TAM,
        "dollars",
    ),
    _m(
        "agent",
        "llm_agent_folded_agents",
        "gauge",
        "Agent names in the last read beyond the target's allow-list or max_agents, counted as agent other.",
        _T,
    ),
    # --- cost ------------------------------------------------------------------------
    _m(
        "cost",
        "llm_pricing_prompt_token_dollars",
        "gauge",
        "Configured price of one prompt token of the model, in US dollars.",
        ("model",),
        "dollars",
    ),
    _m(
        "cost",
        "llm_pricing_generation_token_dollars",
        "gauge",
        "Configured price of one generated token of the model, in US dollars.",
        ("model",),
        "dollars",
    ),
    _m(
        "cost",
        "llm_pricing_gpu_second_dollars",
        "gauge",
        "Configured price of one GPU for one second, in US dollars.",
        (),
        "dollars",
    ),
)


class Catalog:
    """Lookup over the metric specs; iteration keeps declaration order."""

    def __init__(self, specs: Iterable[MetricSpec]) -> None:
        self._specs: dict[str, MetricSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"duplicate metric in catalog: {spec.name}")
            self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> MetricSpec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[MetricSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return list(self._specs)

    def group(self, group: str) -> list[MetricSpec]:
        return [s for s in self._specs.values() if s.group == group]

    def series_names(self) -> set[str]:
        """Every sample name that can appear in the exposition (``_bucket``, ``_sum`` ... included)."""
        out: set[str] = set()
        for spec in self._specs.values():
            if spec.type == "histogram":
                out.update(spec.name + s for s in ("_bucket", "_sum", "_count"))
            else:
                out.add(spec.name)
        return out


CATALOG = Catalog(_SPECS)
