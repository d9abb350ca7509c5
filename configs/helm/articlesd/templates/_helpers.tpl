{{/* The chart's name, and the release's full name (what its objects are called). */}}
{{- define "articlesd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "articlesd.fullname" -}}
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

{{/* The labels of every object. */}}
{{- define "articlesd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "articlesd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* What selects the serving pods (the labels of every object, and the component that
keeps the migration Job's pod out of the Service, the budget and the spread). */}}
{{- define "articlesd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "articlesd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end }}

{{/* The image: repository:tag, the tag defaulting to the chart's appVersion, and
@digest when one is given. */}}
{{- define "articlesd.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- if .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref .Values.image.digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{/* The Secret the chart makes, or that you make, under the release's name. */}}
{{- define "articlesd.secretName" -}}
{{- include "articlesd.fullname" . }}
{{- end }}

{{/* The secret settings: environment variable, the values' name for it. */}}
{{- define "articlesd.secretSettings" -}}
ARTICLESD_DATABASE_URL: databaseUrl
ARTICLESD_DATABASE_READ_URL: databaseReadUrl
ARTICLESD_BOOTSTRAP_TOKEN: bootstrapToken
{{- end }}

{{/* The environment entry of one secret setting, from a secretKeyRef; nothing when
its key is empty. Called with (list $ "databaseUrl" "ARTICLESD_DATABASE_URL"). */}}
{{- define "articlesd.secretEnv" -}}
{{- $root := index . 0 }}
{{- $ref := index $root.Values.secrets (index . 1) }}
{{- if $ref.key -}}
- name: {{ index . 2 }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name | default (include "articlesd.secretName" $root) }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}

{{/* The pod's security context: articlesd's image runs as 65532 and writes nothing. */}}
{{- define "articlesd.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "articlesd.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Refuses values that cannot work, before anything is rendered. */}}
{{- define "articlesd.validate" -}}
{{- $s := .Values.shutdown }}
{{- if ge (int $s.drainSeconds) (int $s.timeoutSeconds) }}
{{- fail (printf "shutdown.drainSeconds (%v) must be shorter than shutdown.timeoutSeconds (%v), as articlesd requires" $s.drainSeconds $s.timeoutSeconds) }}
{{- end }}
{{- if not .Values.secrets.databaseUrl.key }}
{{- fail "secrets.databaseUrl.key is empty: the pods need ARTICLESD_DATABASE_URL" }}
{{- end }}
{{- range $env, $field := include "articlesd.secretSettings" . | fromYaml }}
{{- $ref := index $.Values.secrets $field }}
{{- $value := index $.Values.secrets.values $field }}
{{- if and $.Values.secrets.create $ref.key (not $ref.name) (not $value) }}
{{- fail (printf "secrets.create is true and secrets.%s.key is set: give secrets.values.%s (or empty the key)" $field $field) }}
{{- end }}
{{- if and $value (or (not $.Values.secrets.create) (not $ref.key) $ref.name) }}
{{- fail (printf "secrets.values.%s is given but never read: it needs secrets.create true, secrets.%s.key set and secrets.%s.name empty" $field $field $field) }}
{{- end }}
{{- if hasKey $.Values.env $env }}
{{- fail (printf "env.%s: a secret setting, read from a Secret (secrets.%s), never a plain value" $env $field) }}
{{- end }}
{{- range $.Values.extraEnv }}
{{- if and (eq .name $env) (hasKey . "value") }}
{{- fail (printf "extraEnv %s: a secret setting, read from a Secret (secrets.%s), never a plain value" $env $field) }}
{{- end }}
{{- end }}
{{- end }}
{{- range list "ARTICLESD_ADDR" "ARTICLESD_AUTO_MIGRATE" "ARTICLESD_SHUTDOWN_DRAIN" "ARTICLESD_SHUTDOWN_TIMEOUT" "ARTICLESD_LOG_LEVEL" "ARTICLESD_METRICS" "ARTICLESD_OTLP_ENDPOINT" "ARTICLESD_TRUSTED_PROXIES" }}
{{- if hasKey $.Values.env . }}
{{- fail (printf "env.%s: the chart sets it from its own value (docs/kubernetes.md)" .) }}
{{- end }}
{{- end }}
{{- $token := .Values.secrets.values.bootstrapToken }}
{{- if and $token (lt (len $token) 16) }}
{{- fail "secrets.values.bootstrapToken must be at least 16 characters long" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled: articlesd serves /metrics only then" }}
{{- end }}
{{- end }}
