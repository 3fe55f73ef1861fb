{{- define "govbus.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "govbus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "govbus.labels" -}}
app.kubernetes.io/name: {{ include "govbus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "govbus.selector" -}}
app.kubernetes.io/name: {{ include "govbus.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "govbus.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "govbus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "govbus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Settings from the ConfigMap, secrets as files (GOVBUS_<NAME>_FILE), the pod name as the
     worker/instance id (HOSTNAME is set by Kubernetes). */}}
{{- define "govbus.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "govbus.fullname" . }}-settings
env:
  - name: GOVBUS_PSEUDONYM_KEY_FILE
    value: /run/secrets/govbus/pseudonym-key
  - name: GOVBUS_SUBJECT_KEY_FILE
    value: /run/secrets/govbus/subject-key
  - name: GOVBUS_DELIVERY_ID_KEY_FILE
    value: /run/secrets/govbus/delivery-id-key
  - name: GOVBUS_PG_DSN_FILE
    value: /run/secrets/govbus/pg-dsn
  {{- if hasPrefix "SASL" .Values.kafka.securityProtocol }}
  - name: GOVBUS_KAFKA_SASL_PASSWORD_FILE
    value: /run/secrets/govbus/kafka-sasl-password
  {{- end }}
  {{- if .Values.kafka.caSecretName }}
  - name: GOVBUS_KAFKA_SSL_CA_LOCATION
    value: /run/secrets/kafka-ca/ca.crt
  {{- end }}
{{- end -}}

{{- define "govbus.volumeMounts" -}}
- name: secrets
  mountPath: /run/secrets/govbus
  readOnly: true
{{- if .Values.kafka.caSecretName }}
- name: kafka-ca
  mountPath: /run/secrets/kafka-ca
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
- name: state
  mountPath: /var/lib/govbus
{{- end -}}

{{- define "govbus.volumes" -}}
- name: secrets
  secret:
    secretName: {{ .Values.secrets.existingSecret }}
    defaultMode: 0440
{{- if .Values.kafka.caSecretName }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.caSecretName }}
    defaultMode: 0440
{{- end }}
- name: tmp
  emptyDir: {}
- name: state
  emptyDir: {}
{{- end -}}
