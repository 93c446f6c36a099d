{{/*
The chart's name, truncated to the 63 characters of a label value.
*/}}
{{- define "bootstrap.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified name of the release's objects.
*/}}
{{- define "bootstrap.fullname" -}}
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
Common labels.
*/}}
{{- define "bootstrap.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "bootstrap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | toString | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: bootstrap
app.kubernetes.io/part-of: srvthreds
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The image reference, from a values map shaped like this chart's values. The
tag is the git commit of the image: required unless a digest pins the image,
and never "latest". With both, repository:tag@digest.
*/}}
{{- define "bootstrap.image" -}}
{{- $tag := .image.tag | default "" | toString }}
{{- if eq $tag "latest" }}
{{- fail "image.tag must be the git commit the bootstrap image was built from, not latest" }}
{{- end }}
{{- if .image.digest }}
{{- if $tag }}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest }}
{{- else }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- end }}
{{- else }}
{{- $tag = required "image.tag is required: set it to the git commit the bootstrap image was built from (or set image.digest)" .image.tag | toString }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount the pods run as: serviceAccount.name, else the release's
full name when the chart creates one, else "default".
*/}}
{{- define "bootstrap.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bootstrap.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Fails when no profile is named; renders nothing.
*/}}
{{- define "bootstrap.checkProfiles" -}}
{{- if not .profiles }}
{{- fail "profiles: name at least one profile" }}
{{- end }}
{{- end }}

{{/*
The environment shared by the Job's container and the initContainer, from a
values map shaped like this chart's values: every setting as its
BOOTSTRAP_<FLAG> variable, then extraEnv.
*/}}
{{- define "bootstrap.commonEnv" -}}
- name: BOOTSTRAP_PROFILES_DIR
  value: {{ .profilesDir | quote }}
- name: BOOTSTRAP_LOG_FORMAT
  value: {{ .log.format | quote }}
- name: BOOTSTRAP_LOG_LEVEL
  value: {{ .log.level | quote }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The environment of a pod that runs against the databases (the Job and the
test pod), from the root context: the connection, lock and timeout settings,
the Secrets as files, then the common environment.
*/}}
{{- define "bootstrap.runEnv" -}}
# Secrets as files, so that exec steps' processes do not inherit them.
- name: BOOTSTRAP_MONGO_URI_FILE
  value: /var/run/secrets/bootstrap/mongo-uri
{{- if .Values.redis.existingSecret }}
- name: REDIS_PASSWORD_FILE
  value: /var/run/secrets/bootstrap/redis-password
{{- end }}
- name: REDIS_HOST
  value: {{ .Values.redis.host | quote }}
- name: REDIS_USE_TLS
  value: {{ .Values.redis.useTLS | quote }}
- name: BOOTSTRAP_LOCK_NAME
  value: {{ .Values.lock.name | quote }}
- name: BOOTSTRAP_LOCK_TTL
  value: {{ .Values.lock.ttl | quote }}
- name: BOOTSTRAP_LOCK_WAIT
  value: {{ .Values.lock.wait | quote }}
- name: BOOTSTRAP_CONNECT_TIMEOUT
  value: {{ .Values.timeouts.connect | quote }}
- name: BOOTSTRAP_STALL_TIMEOUT
  value: {{ .Values.timeouts.stall | quote }}
- name: BOOTSTRAP_TIMEOUT
  value: {{ .Values.timeouts.run | quote }}
- name: BOOTSTRAP_SHUTDOWN_GRACE
  value: {{ .Values.timeouts.shutdownGrace | quote }}
- name: BOOTSTRAP_HEALTH_ADDR
  value: {{ printf ":%v" .Values.health.port | quote }}
{{ include "bootstrap.commonEnv" .Values }}
{{- end }}

{{/*
The volume mounts of a pod that runs against the databases, from the root
context: the Secrets, a scratch /tmp, then extraVolumeMounts.
*/}}
{{- define "bootstrap.runVolumeMounts" -}}
- name: secrets
  mountPath: /var/run/secrets/bootstrap
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The volumes that go with bootstrap.runVolumeMounts, then extraVolumes.
*/}}
{{- define "bootstrap.runVolumes" -}}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ required "mongo.existingSecret is required" .Values.mongo.existingSecret }}
          items:
            - key: {{ .Values.mongo.uriKey }}
              path: mongo-uri
      {{- if .Values.redis.existingSecret }}
      - secret:
          name: {{ .Values.redis.existingSecret }}
          items:
            - key: {{ .Values.redis.passwordKey }}
              path: redis-password
      {{- end }}
# The root filesystem is read-only; exec steps may need scratch space.
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The pod-level settings shared by the Job's pod and the test pod, from the root
context.
*/}}
{{- define "bootstrap.podSpecCommon" -}}
serviceAccountName: {{ include "bootstrap.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
bootstrap.waitInitContainer renders one initContainer (a list item) that runs
`bootstrap wait` for the configured profiles: it exits 0 once every profile's
marker matches the version in the image, and 4 past waitInitContainer.timeout.

Its argument is a values map shaped like this chart's values. In a service's
chart that lists this chart as a dependency (with job.enabled false if that
chart should not run the Job too):

  spec:
    template:
      spec:
        initContainers:
          {{- include "bootstrap.waitInitContainer" .Values.bootstrap | nindent 10 }}

The MongoDB URI comes from the Secret through an environment variable, not a
mounted file, so that the snippet needs no pod volume.
*/}}
{{- define "bootstrap.waitInitContainer" -}}
{{- include "bootstrap.checkProfiles" . -}}
- name: {{ .waitInitContainer.name }}
  image: {{ include "bootstrap.image" . | quote }}
  imagePullPolicy: {{ .image.pullPolicy }}
  args:
    - wait
    {{- range .profiles }}
    - -p
    - {{ . | quote }}
    {{- end }}
    - --timeout
    - {{ .waitInitContainer.timeout | quote }}
  env:
    - name: BOOTSTRAP_MONGO_URI
      valueFrom:
        secretKeyRef:
          name: {{ required "mongo.existingSecret is required" .mongo.existingSecret }}
          key: {{ .mongo.uriKey }}
    {{- include "bootstrap.commonEnv" . | nindent 4 }}
  {{- with .extraEnvFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationMessagePolicy: {{ .terminationMessagePolicy }}
  {{- with .waitInitContainer.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
