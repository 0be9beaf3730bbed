{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "llm-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name: <release>-llm-exporter unless the release name already holds it. */}}
{{- define "llm-exporter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "llm-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "llm-exporter.labels" -}}
helm.sh/chart: {{ include "llm-exporter.chart" . }}
app.kubernetes.io/name: {{ include "llm-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llm-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "queue-collector"). */}}
{{- define "llm-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-exporter.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "llm-exporter.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "llm-exporter.tls" -}}
{{- if .Values.webConfig.tls.enabled }}true{{ end -}}
{{- end -}}

{{- define "llm-exporter.webConfigEnabled" -}}
{{- if or .Values.webConfig.existingSecret .Values.webConfig.tls.enabled .Values.webConfig.basicAuthUsers }}true{{ end -}}
{{- end -}}

{{- define "llm-exporter.webConfigSecret" -}}
{{- default (printf "%s-web" (include "llm-exporter.fullname" .)) .Values.webConfig.existingSecret -}}
{{- end -}}

{{/* Name of the Secret holding one component's config.yml: (dict "root" $ "component" "sidecar" "values" .Values.sidecar). */}}
{{- define "llm-exporter.configSecret" -}}
{{- default (printf "%s-%s" (include "llm-exporter.fullname" .root) .component) .values.existingSecret -}}
{{- end -}}

{{/* The exporter container: (dict "root" $ "name" "llm-exporter" "env" list). */}}
{{- define "llm-exporter.container" -}}
{{- $root := .root -}}
{{- $scheme := ternary "HTTPS" "HTTP" (eq (include "llm-exporter.tls" $root) "true") -}}
- name: {{ .name | default "llm-exporter" }}
  image: {{ include "llm-exporter.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args:
    - --config.file=/etc/llm-exporter/config/config.yml
    - --web.listen-address=:{{ $root.Values.port }}
    - --log.level={{ $root.Values.logLevel }}
    {{- if include "llm-exporter.webConfigEnabled" $root }}
    - --web.config.file=/etc/llm-exporter/web/web-config.yml
    {{- end }}
    {{- range $root.Values.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- with (concat (.env | default list) $root.Values.extraEnv) }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - name: metrics
      containerPort: {{ $root.Values.port }}
      protocol: TCP
  {{- with $root.Values.livenessProbe }}
  livenessProbe:
    {{- $probe := deepCopy . }}
    {{- if hasKey $probe "httpGet" }}
    {{- $_ := set $probe "httpGet" (merge (dict "port" "metrics" "scheme" $scheme) $probe.httpGet) }}
    {{- end }}
    {{- toYaml $probe | nindent 4 }}
  {{- end }}
  {{- with $root.Values.readinessProbe }}
  readinessProbe:
    {{- $probe := deepCopy . }}
    {{- if hasKey $probe "httpGet" }}
    {{- $_ := set $probe "httpGet" (merge (dict "port" "metrics" "scheme" $scheme) $probe.httpGet) }}
    {{- end }}
    {{- toYaml $probe | nindent 4 }}
  {{- end }}
  resources:
    {{- toYaml $root.Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: llm-exporter-config
      mountPath: /etc/llm-exporter/config
      readOnly: true
    {{- if include "llm-exporter.webConfigEnabled" $root }}
    - name: llm-exporter-web
      mountPath: /etc/llm-exporter/web
      readOnly: true
    {{- end }}
    {{- if $root.Values.webConfig.tls.enabled }}
    - name: llm-exporter-tls
      mountPath: /etc/llm-exporter/tls
      readOnly: true
    {{- end }}
    - name: llm-exporter-tmp
      mountPath: /tmp
{{- end -}}

{{/* The volumes the container above mounts: (dict "root" $ "secret" name). */}}
{{- define "llm-exporter.volumes" -}}
- name: llm-exporter-config
  secret:
    secretName: {{ .secret }}
{{- if include "llm-exporter.webConfigEnabled" .root }}
- name: llm-exporter-web
  secret:
    secretName: {{ include "llm-exporter.webConfigSecret" .root }}
{{- end }}
{{- if .root.Values.webConfig.tls.enabled }}
- name: llm-exporter-tls
  secret:
    secretName: {{ required "webConfig.tls.secretName is required when webConfig.tls.enabled" .root.Values.webConfig.tls.secretName }}
{{- end }}
- name: llm-exporter-tmp
  emptyDir:
    sizeLimit: 16Mi
{{- end -}}

{{/* Relabelings shared by both monitors: the job the alerts select, and the node. */}}
{{- define "llm-exporter.relabelings" -}}
- targetLabel: job
  replacement: {{ .root.Values.prometheus.job | quote }}
  action: replace
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
  action: replace
{{- with .monitor.relabelings }}
{{ toYaml . }}
{{- end }}
{{- end -}}
