{{- define "preflight-hook.name" -}}
{{- printf "%s-preflight" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "preflight-hook.clusterName" -}}
{{- printf "%s-%s-preflight" .Release.Namespace .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "preflight-hook.labels" -}}
app.kubernetes.io/name: preflight-hook
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: preflight
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The RBAC objects: hooks ahead of the pod, deleted with it on success. */}}
{{- define "preflight-hook.rbacAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ .Values.weights.rbac | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}

{{- define "preflight-hook.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "preflight-hook.releaseRecord" -}}
{{- printf "sh.helm.release.v1.%s.v%d" .Release.Name (int .Release.Revision) -}}
{{- end -}}
