{{- define "labelmesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name; service objects append "-<service>", so leave room for it. */}}
{{- define "labelmesh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "labelmesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels shared by every object; call with (dict "root" $ "component" "<svc>"). */}}
{{- define "labelmesh.labels" -}}
helm.sh/chart: {{ include "labelmesh.chart" .root }}
{{ include "labelmesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: labelmesh
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "labelmesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "labelmesh.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "labelmesh.image" -}}
{{- printf "%s/labelmesh-%s:%s" .root.Values.image.registry .component (.root.Values.image.tag | default .root.Chart.AppVersion) }}
{{- end }}

{{/* The chart creates one Secret, holding only what no existing Secret provides. */}}
{{- define "labelmesh.secretName" -}}
{{- include "labelmesh.fullname" . }}
{{- end }}

{{- define "labelmesh.mongoSecretName" -}}
{{- .Values.mongodb.existingSecret | default (include "labelmesh.secretName" .) }}
{{- end }}

{{- define "labelmesh.mongoSecretKey" -}}
{{- if .Values.mongodb.existingSecret }}{{ .Values.mongodb.existingSecretKey }}{{ else }}mongo-uri{{ end }}
{{- end }}

{{- define "labelmesh.s3SecretName" -}}
{{- .Values.minio.existingSecret | default (include "labelmesh.secretName" .) }}
{{- end }}

{{- define "labelmesh.s3AccessKeyKey" -}}
{{- if .Values.minio.existingSecret }}{{ .Values.minio.accessKeyKey }}{{ else }}s3-access-key{{ end }}
{{- end }}

{{- define "labelmesh.s3SecretKeyKey" -}}
{{- if .Values.minio.existingSecret }}{{ .Values.minio.secretKeyKey }}{{ else }}s3-secret-key{{ end }}
{{- end }}

{{/* The access service's pepper and OIDC settings live in a Secret of their own, so that the generated pepper can be kept. */}}
{{- define "labelmesh.accessSecretName" -}}
{{- .Values.access.existingSecret | default (printf "%s-access" (include "labelmesh.fullname" .)) }}
{{- end }}

{{/* A key of the access Secret; call with (dict "root" $ "key" "keyPepper"). */}}
{{- define "labelmesh.accessSecretKey" -}}
{{- $defaults := dict "keyPepper" "key-pepper" "oidcIssuer" "oidc-issuer" "oidcAudience" "oidc-audience" "oidcJwksUrl" "oidc-jwks-url" "oidcSubjectClaim" "oidc-subject-claim" }}
{{- if .root.Values.access.existingSecret }}
{{- get .root.Values.access.existingSecretKeys .key | default (get $defaults .key) }}
{{- else }}
{{- get $defaults .key }}
{{- end }}
{{- end }}

{{/* host:port of the access service's gRPC API, which every other service calls. */}}
{{- define "labelmesh.accessGrpcTarget" -}}
{{- $access := .Values.services.access | default dict }}
{{- if .Values.access.grpcTarget }}
{{- .Values.access.grpcTarget }}
{{- else if $access.enabled }}
{{- printf "%s-access:%d" (include "labelmesh.fullname" .) ($access.grpcPort | int) }}
{{- else }}
{{- fail "access.grpcTarget is required when services.access.enabled is false" }}
{{- end }}
{{- end }}
