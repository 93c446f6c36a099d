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
app.kubernetes.io/component: bootstrap
app.kubernetes.io/part-of: srvthreds
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The image reference, from a values map shaped like this chart's values. The
tag is the git commit of the image: required, and never "latest".
*/}}
{{- define "bootstrap.image" -}}
{{- $tag := required "image.tag is required: set it to the git commit the bootstrap image was built from" .image.tag | toString }}
{{- if eq $tag "latest" }}
{{- fail "image.tag must be the git commit the bootstrap image was built from, not latest" }}
{{- end }}
{{- printf "%s:%s" .image.repository $tag }}
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
BOOTSTRAP_<FLAG> variable (SPEC §3), then extraEnv.
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
  {{- with .waitInitContainer.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
