{{- define "milvus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "milvus.fullname" -}}
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

{{- define "milvus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "milvus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "milvus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "milvus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* the roles this release runs: (role, values key) pairs */}}
{{- define "milvus.roles" -}}
{{- if .Values.cluster.enabled -}}
rootcoord: rootCoord
datacoord: dataCoord
querycoord: queryCoord
datanode: dataNode
querynode: queryNode
indexnode: indexNode
proxy: proxy
{{- else -}}
standalone: standalone
{{- end -}}
{{- end -}}

{{/* whether this release uses the external etcd / MQ / S3 */}}
{{- define "milvus.external" -}}
{{- if or .Values.cluster.enabled (not .Values.standalone.embedded) -}}true{{- end -}}
{{- end -}}

{{/* the product configuration (flat keys of milvus/config/items.py) */}}
{{- define "milvus.config" -}}
{{- $cfg := dict -}}
{{- range $key, $value := .Values.config -}}
{{- $_ := set $cfg $key $value -}}
{{- end -}}
{{- $_ := set $cfg "grpc.address" "0.0.0.0" -}}
{{- $_ := set $cfg "metrics.address" "0.0.0.0" -}}
{{- if include "milvus.external" . -}}
{{- if and (ne .Values.mq.type "pulsar") (ne .Values.mq.type "nats") -}}
{{- fail (printf "mq.type must be pulsar or nats, not %q" .Values.mq.type) -}}
{{- end -}}
{{- $_ := set $cfg "metastore.type" "etcd" -}}
{{- $_ := set $cfg "etcd.endpoints" .Values.etcd.endpoints -}}
{{- $_ := set $cfg "etcd.rootPath" .Values.etcd.rootPath -}}
{{- $_ := set $cfg "common.clusterPrefix" .Values.etcd.rootPath -}}
{{- $_ := set $cfg "mq.type" .Values.mq.type -}}
{{- if eq .Values.mq.type "pulsar" -}}
{{- $_ := set $cfg "pulsar.address" .Values.pulsar.address -}}
{{- $_ := set $cfg "pulsar.tenant" .Values.pulsar.tenant -}}
{{- $_ := set $cfg "pulsar.namespace" .Values.pulsar.namespace -}}
{{- else -}}
{{- $_ := set $cfg "nats.url" .Values.nats.url -}}
{{- end -}}
{{- $_ := set $cfg "common.storageType" "minio" -}}
{{- $_ := set $cfg "minio.address" .Values.minio.address -}}
{{- $_ := set $cfg "minio.bucketName" .Values.minio.bucketName -}}
{{- $_ := set $cfg "minio.rootPath" .Values.minio.rootPath -}}
{{- $_ := set $cfg "minio.useSSL" .Values.minio.useSSL -}}
{{- $_ := set $cfg "minio.region" .Values.minio.region -}}
{{- else -}}
{{- $_ := set $cfg "metastore.type" "local" -}}
{{- $_ := set $cfg "mq.type" "local" -}}
{{- $_ := set $cfg "common.storageType" "local" -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- define "milvus.minioSecret" -}}
{{- default (printf "%s-minio" (include "milvus.fullname" .)) .Values.minio.existingSecret -}}
{{- end -}}
