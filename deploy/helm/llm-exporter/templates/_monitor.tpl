{{/* One scrape endpoint of a monitor: (dict "root" $ "monitor" .Values.prometheus.podMonitor). */}}
{{- define "llm-exporter.monitorEndpoint" -}}
- port: metrics
  path: /metrics
  interval: {{ .monitor.interval }}
  scrapeTimeout: {{ .monitor.scrapeTimeout }}
  honorLabels: {{ .monitor.honorLabels }}
  {{- if .root.Values.webConfig.tls.enabled }}
  scheme: https
  {{- end }}
  {{- with .monitor.tlsConfig }}
  tlsConfig:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .monitor.basicAuth }}
  basicAuth:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  relabelings:
    {{- include "llm-exporter.relabelings" . | nindent 4 }}
  {{- with .monitor.metricRelabelings }}
  metricRelabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "llm-exporter.monitorSpecCommon" -}}
selector:
  matchLabels:
    {{- toYaml .root.Values.scrapeLabels | nindent 4 }}
namespaceSelector:
  {{- if .monitor.namespaceSelector }}
  {{- toYaml .monitor.namespaceSelector | nindent 2 }}
  {{- else }}
  matchNames:
    - {{ .root.Release.Namespace }}
  {{- end }}
{{- with .monitor.sampleLimit }}
sampleLimit: {{ . }}
{{- end }}
{{- end -}}
