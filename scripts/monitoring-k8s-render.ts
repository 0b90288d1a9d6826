/**
 * The Kubernetes copies of monitoring/alerts.yml (a PrometheusRule) and monitoring/grafana/shoal.json (a
 * ConfigMap for Grafana's dashboard sidecar), rendered from those files so that they cannot drift:
 * `npm run monitoring:k8s` writes them, test/deploy/monitoring.test.ts checks they are current.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ALERTS_FILE = `${ROOT}monitoring/alerts.yml`;
export const DASHBOARD_FILE = `${ROOT}monitoring/grafana/shoal.json`;
export const PROMETHEUS_RULE_FILE = `${ROOT}k8s/monitoring/prometheus-rule.yaml`;
export const DASHBOARD_CONFIGMAP_FILE = `${ROOT}k8s/monitoring/grafana-dashboard.yaml`;

const HEADER = '# Generated from monitoring/%s by `npm run monitoring:k8s`: edit that file, not this one.\n';

export function renderK8sMonitoring(): Record<string, string> {
  const alerts = parse(readFileSync(ALERTS_FILE, 'utf8')) as { groups: unknown[] };
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'shoal', labels: { 'app.kubernetes.io/name': 'shoal' } },
    spec: { groups: alerts.groups },
  };
  const dashboard = readFileSync(DASHBOARD_FILE, 'utf8');
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'shoal-grafana-dashboard', labels: { 'app.kubernetes.io/name': 'shoal', grafana_dashboard: '1' } },
    data: { 'shoal.json': dashboard },
  };
  return {
    [PROMETHEUS_RULE_FILE]: HEADER.replace('%s', 'alerts.yml') + stringify(rule, { lineWidth: 0 }),
    [DASHBOARD_CONFIGMAP_FILE]: HEADER.replace('%s', 'grafana/shoal.json') + stringify(configMap, { lineWidth: 0 }),
  };
}
