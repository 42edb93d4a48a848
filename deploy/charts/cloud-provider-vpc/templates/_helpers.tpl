{{/*
Labels of every object: deploy/base's, and Helm's own.
*/}}
{{- define "cpv.labels" -}}
app.kubernetes.io/name: cloud-controller-manager
app.kubernetes.io/part-of: cloud-provider-vpc
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "cpv.selectorLabels" -}}
app.kubernetes.io/name: cloud-controller-manager
{{- end -}}

{{/*
The checks that stop an install with one line naming the value, beside
values.schema.json (types, names, loadBalancerMode's two modes). The chart
lives in kube-system only: the CCM's controllers get their ServiceAccounts
there (k8s.io/controller-manager pkg/clientbuilder), the secure port reads
kube-system/extension-apiserver-authentication, and the Lease is there.
*/}}
{{- define "cpv.validate" -}}
{{- if ne .Release.Namespace "kube-system" -}}
{{- fail (printf "namespace %q: install the chart in kube-system (helm install --namespace kube-system), where the CCM's ServiceAccounts, Lease and the API server's authentication ConfigMap are" .Release.Namespace) -}}
{{- end -}}
{{- if not .Values.clusterName -}}
{{- fail "clusterName is required: a name no other cluster in the project or network uses (--set clusterName=NAME; docs/cloud-config.md, \"The cluster's name\")" -}}
{{- end -}}
{{- if and .Values.cloudConfig.existingConfigMap .Values.cloudConfig.existingSecret -}}
{{- fail "cloudConfig.existingConfigMap and cloudConfig.existingSecret are both set: set one" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (eq .Values.metrics.bindAddress "127.0.0.1") -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.bindAddress that Prometheus reaches (for example 0.0.0.0): on 127.0.0.1 the secure port is the node's alone" -}}
{{- end -}}
{{- end -}}

{{/*
The gce.conf the chart writes when no existing cloud config is named.
*/}}
{{- define "cpv.gceConf" -}}
{{- if .Values.cloudConfig.inline -}}
{{ .Values.cloudConfig.inline }}
{{- else -}}
[global]
{{- range $k, $v := .Values.cloudConfig.global }}
{{- if kindIs "slice" $v }}
{{- range $v }}
{{ $k }} = {{ . }}
{{- end }}
{{- else }}
{{ $k }} = {{ $v }}
{{- end }}
{{- end }}

[compute-api]
{{- range $k, $v := .Values.cloudConfig.computeAPI }}
{{ $k }} = {{ $v }}
{{- end }}

[load-balancer]
mode = {{ .Values.loadBalancerMode }}
{{ end -}}
{{- end -}}
