{{/*
Where each organisation's credentials are mounted: <dir>/<name>/api-key-id and <dir>/<name>/api-key-secret.
*/}}
{{- define "soda-incidents-exporter.organizationsDir" -}}
/etc/soda-incidents-exporter/organizations
{{- end }}

{{/*
Where the rendered --config.file is mounted.
*/}}
{{- define "soda-incidents-exporter.configFile" -}}
/etc/soda-incidents-exporter/config/organizations.yaml
{{- end }}

{{/*
The --config.file document built from .Values.organizations, after checking what the schema cannot.
*/}}
{{- define "soda-incidents-exporter.organizationsFile" -}}
{{- if .Values.demo }}
{{- fail "organizations cannot be combined with demo: the simulator is one organisation" }}
{{- end }}
{{- if or .Values.credentials.existingSecret .Values.credentials.apiKeyId .Values.credentials.apiKeySecret }}
{{- fail "organizations and credentials exclude each other: each organisation names its own existingSecret" }}
{{- end }}
{{- if or .Values.soda.organization .Values.soda.reportingUrl .Values.soda.cloudUrl }}
{{- fail "organizations replace soda.organization, soda.reportingUrl and soda.cloudUrl: set them per organisation" }}
{{- end }}
{{- $dir := include "soda-incidents-exporter.organizationsDir" . }}
{{- $seen := dict }}
{{- $entries := list }}
{{- range .Values.organizations }}
{{- if hasKey $seen .name }}
{{- fail (printf "organizations: the name %q is used twice" .name) }}
{{- end }}
{{- $_ := set $seen .name true }}
{{- $entry := dict "name" .name "region" (default "eu" .region) }}
{{- $_ = set $entry "api_key_id_file" (printf "%s/%s/api-key-id" $dir .name) }}
{{- $_ = set $entry "api_key_secret_file" (printf "%s/%s/api-key-secret" $dir .name) }}
{{- with .reportingUrl }}{{ $_ = set $entry "reporting_url" . }}{{ end }}
{{- with .cloudUrl }}{{ $_ = set $entry "cloud_url" . }}{{ end }}
{{- with .pollInterval }}{{ $_ = set $entry "poll_interval" . }}{{ end }}
{{- $entries = append $entries $entry }}
{{- end }}
{{- toYaml (dict "organizations" $entries) }}
{{- end }}
