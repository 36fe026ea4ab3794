// Helm templates of the chart (see helm_templates.h). Keep every object field for field the
// same as kubernetes.cpp and kubernetes_pod.cpp make: tests/e2e/deploy.test.mjs renders the
// chart and compares.
#include "deploy/helm_templates.h"

namespace citadel::deploy {
namespace {

constexpr const char* kHelpers = R"tpl({{/* Names and labels shared by every template. */}}
{{- define "citadel.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "citadel.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "citadel.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
{{ include "citadel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "citadel.image" -}}
{{ .Values.image.repository }}{{ with .Values.image.tag }}:{{ . }}{{ end }}
{{- end -}}

{{- define "citadel.scheme" -}}
{{ ternary "HTTPS" "HTTP" .Values.tls.enabled }}
{{- end -}}
)tpl";

constexpr const char* kDeployment = R"tpl(apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "citadel.fullname" . }}
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "citadel.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "citadel.selectorLabels" . | nindent 8 }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .Values.port | quote }}
        prometheus.io/path: /metrics
        prometheus.io/scheme: {{ include "citadel.scheme" . | lower }}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ add .Values.shutdownTimeoutSeconds 15 }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      containers:
        - name: citadel
          image: {{ include "citadel.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          args:
            - serve
            - --host
            - 0.0.0.0
            - --port
            - {{ .Values.port | quote }}
            {{- range .Values.models }}
            - -m
            - {{ printf "%s=/models/%s" .name .file | quote }}
            {{- end }}
            {{- with .Values.engine }}
            {{- if .ctx }}
            - --ctx
            - {{ .ctx | quote }}
            {{- end }}
            {{- if .maxSeqs }}
            - --max-seqs
            - {{ .maxSeqs | quote }}
            {{- end }}
            {{- if .kvMem }}
            - --kv-mem
            - {{ .kvMem | quote }}
            {{- end }}
            {{- end }}
            - --data-dir
            - /data
            - --jwt-secret-file
            - /etc/citadel/auth/jwt-secret
            - --shutdown-timeout
            - {{ printf "%vs" .Values.shutdownTimeoutSeconds | quote }}
            {{- if .Values.tls.enabled }}
            - --tls-cert
            - /etc/citadel/tls/tls.crt
            - --tls-key
            - /etc/citadel/tls/tls.key
            {{- end }}
          ports:
            - name: http
              containerPort: {{ .Values.port }}
              protocol: TCP
          startupProbe:
            httpGet: {path: /ready, port: http, scheme: {{ include "citadel.scheme" . }}}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 120
          livenessProbe:
            httpGet: {path: /health, port: http, scheme: {{ include "citadel.scheme" . }}}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /ready, port: http, scheme: {{ include "citadel.scheme" . }}}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - {name: models, mountPath: /models, readOnly: true}
            - {name: data, mountPath: /data}
            - {name: tmp, mountPath: /tmp}
            - {name: auth, mountPath: /etc/citadel/auth, readOnly: true}
            {{- if .Values.tls.enabled }}
            - {name: tls, mountPath: /etc/citadel/tls, readOnly: true}
            {{- end }}
      volumes:
        - name: models
          persistentVolumeClaim:
            claimName: {{ .Values.modelsVolume.existingClaim | default (printf "%s-models" (include "citadel.fullname" .)) }}
            readOnly: true
        - name: data
          emptyDir: {}
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        - name: auth
          secret:
            secretName: {{ include "citadel.fullname" . }}-auth
            defaultMode: 288
        {{- if .Values.tls.enabled }}
        - name: tls
          secret:
            secretName: {{ include "citadel.fullname" . }}-tls
            defaultMode: 288
        {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
)tpl";

constexpr const char* kService = R"tpl(apiVersion: v1
kind: Service
metadata:
  name: {{ include "citadel.fullname" . }}
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "citadel.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.port }}
      targetPort: http
      protocol: TCP
)tpl";

constexpr const char* kAutoscaler = R"tpl({{- if .Values.autoscaling.enabled }}
# The Pods metric needs prometheus-adapter renaming citadel:num_requests_waiting
# (prometheus/adapter-values.yaml).
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "citadel.fullname" . }}
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "citadel.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Pods
      pods:
        metric:
          name: citadel_num_requests_waiting
        target:
          type: AverageValue
          averageValue: {{ .Values.autoscaling.targetWaitingRequests | quote }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
)tpl";

constexpr const char* kDisruptionBudget = R"tpl({{- if .Values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "citadel.fullname" . }}
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "citadel.selectorLabels" . | nindent 6 }}
{{- end }}
)tpl";

constexpr const char* kNetworkPolicy = R"tpl({{- if .Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "citadel.fullname" . }}
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "citadel.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - ports:
        - port: {{ .Values.port }}
          protocol: TCP
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- range .Values.networkPolicy.egressCIDRs }}
    - to:
        - ipBlock:
            cidr: {{ . | quote }}
    {{- end }}
{{- end }}
)tpl";

constexpr const char* kModelsClaim = R"tpl({{- if not .Values.modelsVolume.existingClaim }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "citadel.fullname" . }}-models
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
spec:
  accessModes:
    - ReadOnlyMany
  {{- with .Values.modelsVolume.storageClassName }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ .Values.modelsVolume.size | quote }}
{{- end }}
)tpl";

constexpr const char* kSecrets = R"tpl({{- if .Values.secrets.create }}
# Placeholders unless you set secrets.jwtSecret (32 bytes or more; citadel refuses a
# shorter one) and, with TLS, secrets.tlsCrt / secrets.tlsKey. Or set secrets.create=false
# and create the Secrets yourself.
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "citadel.fullname" . }}-auth
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
type: Opaque
stringData:
  jwt-secret: {{ required "secrets.jwtSecret is required" .Values.secrets.jwtSecret | quote }}
{{- if .Values.tls.enabled }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "citadel.fullname" . }}-tls
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
type: kubernetes.io/tls
stringData:
  tls.crt: {{ required "secrets.tlsCrt is required with TLS" .Values.secrets.tlsCrt | quote }}
  tls.key: {{ required "secrets.tlsKey is required with TLS" .Values.secrets.tlsKey | quote }}
{{- end }}
{{- end }}
)tpl";

constexpr const char* kServiceMonitor = R"tpl({{- if .Values.serviceMonitor.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "citadel.fullname" . }}
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "citadel.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval }}
      scheme: {{ include "citadel.scheme" . | lower }}
      bearerTokenSecret:
        name: {{ include "citadel.fullname" . }}-metrics
        key: token
      {{- if .Values.tls.enabled }}
      tlsConfig:
        serverName: {{ include "citadel.fullname" . }}
      {{- end }}
{{- if .Values.secrets.create }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "citadel.fullname" . }}-metrics
  labels:
    {{- include "citadel.labels" . | nindent 4 }}
type: Opaque
stringData:
  token: {{ required "secrets.metricsToken is required" .Values.secrets.metricsToken | quote }}
{{- end }}
{{- end }}
)tpl";

constexpr const char* kNotes =
    R"tpl(Citadel {{ .Chart.AppVersion }} is starting as {{ include "citadel.fullname" . }} in {{ .Release.Namespace }}.

Readiness waits for the models to load (GET /ready). Then:
  kubectl -n {{ .Release.Namespace }} port-forward svc/{{ include "citadel.fullname" . }} {{ .Values.port }}
  curl {{ include "citadel.scheme" . | lower }}://127.0.0.1:{{ .Values.port }}/v1/models -H "Authorization: Bearer $JWT"
)tpl";

}  // namespace

const std::vector<std::pair<std::string, std::string>>& helm_templates() {
    static const std::vector<std::pair<std::string, std::string>> templates = {
        {"_helpers.tpl", kHelpers},
        {"deployment.yaml", kDeployment},
        {"service.yaml", kService},
        {"hpa.yaml", kAutoscaler},
        {"pdb.yaml", kDisruptionBudget},
        {"networkpolicy.yaml", kNetworkPolicy},
        {"pvc-models.yaml", kModelsClaim},
        {"secrets.yaml", kSecrets},
        {"servicemonitor.yaml", kServiceMonitor},
        {"NOTES.txt", kNotes},
    };
    return templates;
}

}  // namespace citadel::deploy
