{{/* Names, labels and the values several templates share. */}}

{{- define "peregrine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "peregrine.fullname" -}}
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

{{- define "peregrine.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "hub") */}}
{{- define "peregrine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "peregrine.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "peregrine.labels" -}}
helm.sh/chart: {{ include "peregrine.chart" .ctx }}
{{ include "peregrine.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: peregrine
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An image reference: (dict "ctx" $ "image" .Values.hub.image) */}}
{{- define "peregrine.image" -}}
{{- $tag := default .ctx.Chart.AppVersion .image.tag -}}
{{- if .image.registry -}}
{{- printf "%s/%s:%s" .image.registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
A random secret generated once: the value in use by the installed release (read back with
lookup) or a fresh one, so upgrades keep tokens and passwords. (dict "ctx" $ "secret" NAME "key" KEY)
*/}}
{{- define "peregrine.keptRandom" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 40 -}}
{{- end -}}
{{- end -}}

{{- define "peregrine.hubAuthSecret" -}}
{{- default (printf "%s-hub-auth" (include "peregrine.fullname" .)) .Values.hub.auth.existingSecret -}}
{{- end -}}

{{- define "peregrine.redisSecret" -}}
{{- default (printf "%s-redis" (include "peregrine.fullname" .)) .Values.redis.existingSecret -}}
{{- end -}}

{{- define "peregrine.redisHasPassword" -}}
{{- if or (eq .Values.redis.mode "internal") .Values.redis.password .Values.redis.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "peregrine.hubUrl" -}}
{{- if .Values.sensor.hubUrl -}}
{{- .Values.sensor.hubUrl -}}
{{- else -}}
{{- printf "http://%s-hub.%s.svc:%v" (include "peregrine.fullname" .) .Release.Namespace .Values.hub.service.port -}}
{{- end -}}
{{- end -}}

{{- define "peregrine.responderUrl" -}}
{{- if .Values.responder.url -}}
{{- .Values.responder.url -}}
{{- else -}}
{{- printf "http://%s-responder.%s.svc:%v/" (include "peregrine.fullname" .) .Release.Namespace .Values.responder.port -}}
{{- end -}}
{{- end -}}

{{/* The responder's cap ConfigMap (docs/responder.md "The cap"). */}}
{{- define "peregrine.responderCapName" -}}
{{- $cap := default dict .Values.responder.policy.cap -}}
{{- default "peregrine-responder-cap" $cap.configMapName -}}
{{- end -}}

{{/* Checks that turn a values mistake into a message saying what to change. */}}
{{- define "peregrine.validate" -}}
{{- $modes := list "internal" "external" "sentinel" "cluster" -}}
{{- if not (has .Values.redis.mode $modes) -}}
{{- fail (printf "redis.mode: %q is not one of internal, external, sentinel, cluster" .Values.redis.mode) -}}
{{- end -}}
{{- if and (eq .Values.redis.mode "external") (not .Values.redis.external.url) -}}
{{- fail "redis.external.url: required with redis.mode external (e.g. redis://redis.example:6379)" -}}
{{- end -}}
{{- if and (eq .Values.redis.mode "sentinel") (not .Values.redis.sentinel.nodes) -}}
{{- fail "redis.sentinel.nodes: at least one {host, port} is required with redis.mode sentinel" -}}
{{- end -}}
{{- if and (eq .Values.redis.mode "cluster") (not .Values.redis.cluster.nodes) -}}
{{- fail "redis.cluster.nodes: at least one {host, port} is required with redis.mode cluster" -}}
{{- end -}}
{{- if and .Values.hub.auth.token (lt (len .Values.hub.auth.token) 16) -}}
{{- fail "hub.auth.token: use at least 16 characters (the hub refuses shorter tokens), or leave it empty to have one generated" -}}
{{- end -}}
{{- if and .Values.responder.token (lt (len .Values.responder.token) 16) -}}
{{- fail "responder.token: use at least 16 characters, or leave it empty to have one generated" -}}
{{- end -}}
{{- if lt (int .Values.hub.replicas) 1 -}}
{{- fail "hub.replicas: must be at least 1 (2 or more keep ingest up during a restart)" -}}
{{- end -}}
{{- if .Values.responder.enabled -}}
{{- if not .Values.responder.policy.namespaces.allow -}}
{{- fail "responder.policy.namespaces.allow: list the namespaces the responder may act in (names, no globs); the chart grants it pods get/delete/patch in exactly those" -}}
{{- end -}}
{{- range .Values.responder.policy.namespaces.allow -}}
{{- if or (contains "*" .) (contains "?" .) -}}
{{- fail (printf "responder.policy.namespaces.allow: %q is a glob; the chart creates one Role per namespace, so list namespace names" .) -}}
{{- end -}}
{{- if has . (list "kube-system" "kube-public" $.Release.Namespace) -}}
{{- fail (printf "responder.policy.namespaces.allow: %q is never acted in (kube-system, kube-public and the release namespace are protected); remove it" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $file, $_ := .Values.customRules -}}
{{- if not (regexMatch "^[A-Za-z0-9][A-Za-z0-9._-]*$" $file) -}}
{{- fail (printf "customRules: %q is not a usable file name (letters, digits, '.', '_', '-')" $file) -}}
{{- end -}}
{{- end -}}
{{- end -}}
