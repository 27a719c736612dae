{{/*
Chart name, truncated to the 63 characters Kubernetes allows in names and labels.
*/}}
{{- define "soda-incidents-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name, plus the chart name unless the release already has it.
*/}}
{{- define "soda-incidents-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Namespace of the release's resources.
*/}}
{{- define "soda-incidents-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "soda-incidents-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels every resource carries.
*/}}
{{- define "soda-incidents-exporter.labels" -}}
helm.sh/chart: {{ include "soda-incidents-exporter.chart" . }}
{{ include "soda-incidents-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "soda-incidents-exporter.name" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels that select the exporter's pods; they must never change between upgrades.
*/}}
{{- define "soda-incidents-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "soda-incidents-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount the pod runs as.
*/}}
{{- define "soda-incidents-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "soda-incidents-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the Soda API key: the existing one, or the one the chart creates.
*/}}
{{- define "soda-incidents-exporter.secretName" -}}
{{- default (include "soda-incidents-exporter.fullname" .) .Values.credentials.existingSecret }}
{{- end }}

{{/*
True (non-empty) when the chart creates the credentials Secret itself.
*/}}
{{- define "soda-incidents-exporter.createSecret" -}}
{{- if and (not .Values.credentials.existingSecret) (or .Values.credentials.apiKeyId .Values.credentials.apiKeySecret) }}true{{ end }}
{{- end }}

{{/*
True (non-empty) when credentials are mounted into the pod (from either Secret).
*/}}
{{- define "soda-incidents-exporter.hasCredentials" -}}
{{- if and (not .Values.demo) (or .Values.credentials.existingSecret (include "soda-incidents-exporter.createSecret" .)) }}true{{ end }}
{{- end }}

{{/*
Container image reference: registry/repository, then @digest or :tag (appVersion by default).
*/}}
{{- define "soda-incidents-exporter.image" -}}
{{- $repository := .Values.image.repository }}
{{- with .Values.image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Regex of the job label Prometheus gives the exporter's series (the Service name by default).
*/}}
{{- define "soda-incidents-exporter.jobRegex" -}}
{{- default (include "soda-incidents-exporter.fullname" .) .Values.prometheusRule.thresholds.exporter_job_regex }}
{{- end }}

{{/*
A threshold as text: numbers without Go's float notation (129600, not 1.296e+05), strings unchanged.
*/}}
{{- define "soda-incidents-exporter.threshold" -}}
{{- if kindIs "string" . }}{{ . }}
{{- else if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}
{{- else }}{{ . }}
{{- end }}
{{- end }}

{{/*
Seconds as a short duration, exactly like human_seconds() in deploy/prometheus/generate.py
(129600 -> 36h, 172800 -> 2d, 86400 -> 24h, 90 -> 90s); used for thresholds quoted in alert text.
*/}}
{{- define "soda-incidents-exporter.humanSeconds" -}}
{{- $v := int64 . }}
{{- if and (ge $v 172800) (eq (mod $v 86400) 0) }}{{ div $v 86400 }}d
{{- else if and (ge $v 3600) (eq (mod $v 3600) 0) }}{{ div $v 3600 }}h
{{- else if and (ge $v 60) (eq (mod $v 60) 0) }}{{ div $v 60 }}m
{{- else }}{{ $v }}s
{{- end }}
{{- end }}

{{/*
A ratio as a percentage, exactly like percent() in deploy/prometheus/generate.py (0.5 -> 50%).
*/}}
{{- define "soda-incidents-exporter.percent" -}}
{{- printf "%.6g%%" (mulf . 100) }}
{{- end }}

{{/*
Name of the Secret holding the web configuration: the existing one, or the one the chart creates.
*/}}
{{- define "soda-incidents-exporter.webConfigSecretName" -}}
{{- default (printf "%s-web-config" (include "soda-incidents-exporter.fullname" .)) .Values.webConfig.existingSecret }}
{{- end }}

{{/*
True (non-empty) when the web configuration serves TLS.
*/}}
{{- define "soda-incidents-exporter.webTLS" -}}
{{- if and .Values.webConfig.enabled .Values.webConfig.tls }}true{{- end }}
{{- end }}

{{/*
True (non-empty) when kubelet's HTTP probes cannot get through the web configuration: basic auth, or a
client certificate it must present (kubelet has neither credentials nor a certificate for probes).
*/}}
{{- define "soda-incidents-exporter.webProbesLocked" -}}
{{- if .Values.webConfig.enabled }}
{{- $config := .Values.webConfig.config }}
{{- if .Values.webConfig.existingSecret }}{{ $config = dict }}{{ end }}
{{- $tls := default dict (get $config "tls_server_config") }}
{{- $required := has (default "" (get $tls "client_auth_type")) (list "RequireAnyClientCert" "RequireClientCert" "RequireAndVerifyClientCert") }}
{{- if or .Values.webConfig.basicAuth .Values.webConfig.clientCertificates (get $config "basic_auth_users") $required }}true{{- end }}
{{- end }}
{{- end }}

{{/*
The probe mode: tcpSocket or httpGet.
*/}}
{{- define "soda-incidents-exporter.probeMode" -}}
{{- if ne .Values.webConfig.probes "auto" }}{{ .Values.webConfig.probes }}
{{- else if include "soda-incidents-exporter.webProbesLocked" . }}tcpSocket
{{- else }}httpGet
{{- end }}
{{- end }}
