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
{{- range $coord := list "rootCoord" "dataCoord" "queryCoord" -}}
{{- $spec := index $.Values $coord -}}
{{- if (($spec.activeStandby).enabled) -}}
{{- $_ := set $cfg (printf "%s.enableActiveStandby" $coord) true -}}
{{- else if gt (int $spec.replicas) 1 -}}
{{- fail (printf "%s.replicas=%d needs %s.activeStandby.enabled=true (one active coordinator, the others standbys)" $coord (int $spec.replicas) $coord) -}}
{{- end -}}
{{- end -}}
{{- if include "milvus.external" . -}}
{{- if and (ne .Values.mq.type "pulsar") (ne .Values.mq.type "nats") -}}
{{- fail (printf "mq.type must be pulsar or nats, not %q" .Values.mq.type) -}}
{{- end -}}
{{- $unused := ternary "nats" "pulsar" (eq .Values.mq.type "pulsar") -}}
{{- if (index .Values $unused).enabled -}}
{{- fail (printf "mq.type is %s: set %s.enabled=false (the bundled %s would be unused)" .Values.mq.type $unused $unused) -}}
{{- end -}}
{{- $_ := set $cfg "metastore.type" "etcd" -}}
{{- $_ := set $cfg "etcd.endpoints" (include "milvus.etcdEndpoints" . | fromYamlArray) -}}
{{- $_ := set $cfg "etcd.rootPath" .Values.etcd.rootPath -}}
{{- $_ := set $cfg "common.clusterPrefix" .Values.etcd.rootPath -}}
{{- $_ := set $cfg "mq.type" .Values.mq.type -}}
{{- if eq .Values.mq.type "pulsar" -}}
{{- $_ := set $cfg "pulsar.address" (include "milvus.pulsarAddress" .) -}}
{{- $_ := set $cfg "pulsar.tenant" .Values.pulsar.tenant -}}
{{- $_ := set $cfg "pulsar.namespace" .Values.pulsar.namespace -}}
{{- else -}}
{{- $_ := set $cfg "nats.url" (include "milvus.natsUrl" .) -}}
{{- end -}}
{{- $_ := set $cfg "common.storageType" "minio" -}}
{{- $_ := set $cfg "minio.address" (include "milvus.minioAddress" .) -}}
{{- $_ := set $cfg "minio.bucketName" .Values.minio.bucketName -}}
{{- $_ := set $cfg "minio.rootPath" .Values.minio.rootPath -}}
{{- $_ := set $cfg "minio.useSSL" .Values.minio.useSSL -}}
{{- $_ := set $cfg "minio.region" .Values.minio.region -}}
{{- else -}}
{{- range $name := list "etcd" "pulsar" "nats" "minio" -}}
{{- if (index $.Values $name).enabled -}}
{{- fail (printf "standalone.embedded=true keeps its metadata, message log and objects on its own volume: set %s.enabled=false (or standalone.embedded=false to use the bundled services)" $name) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "metastore.type" "local" -}}
{{- $_ := set $cfg "mq.type" "local" -}}
{{- $_ := set $cfg "common.storageType" "local" -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* the backends: the bundled chart's Service (<release>-<chart>, as the charts under charts/
name it) when enabled, else the external endpoint */}}
{{- define "milvus.etcdEndpoints" -}}
{{- if .Values.etcd.enabled -}}
{{- list (printf "%s-etcd:%d" .Release.Name (int (dig "service" "port" 2379 .Values.etcd))) | toYaml -}}
{{- else -}}
{{- .Values.etcd.endpoints | toYaml -}}
{{- end -}}
{{- end -}}

{{- define "milvus.pulsarAddress" -}}
{{- if .Values.pulsar.enabled -}}
{{- printf "pulsar://%s-pulsar:%d" .Release.Name (int (dig "service" "port" 6650 .Values.pulsar)) -}}
{{- else -}}
{{- .Values.pulsar.address -}}
{{- end -}}
{{- end -}}

{{- define "milvus.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s-nats:%d" .Release.Name (int (dig "service" "port" 4222 .Values.nats)) -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{- define "milvus.minioAddress" -}}
{{- if .Values.minio.enabled -}}
{{- printf "%s-minio:%d" .Release.Name (int (dig "service" "port" 9000 .Values.minio)) -}}
{{- else -}}
{{- .Values.minio.address -}}
{{- end -}}
{{- end -}}

{{/* the S3 credentials' Secret (keys accesskey / secretkey): existingSecret, else the bundled
MinIO's (<release>-minio, its root user), else this chart's own */}}
{{- define "milvus.minioSecret" -}}
{{- if .Values.minio.existingSecret -}}
{{- .Values.minio.existingSecret -}}
{{- else if .Values.minio.enabled -}}
{{- printf "%s-minio" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-minio" (include "milvus.fullname" .) -}}
{{- end -}}
{{- end -}}
