/** `npm run monitoring:k8s`: writes k8s/monitoring's PrometheusRule and dashboard ConfigMap from monitoring/. */
import { writeFileSync } from 'node:fs';
import { renderK8sMonitoring } from './monitoring-k8s-render.js';

for (const [file, text] of Object.entries(renderK8sMonitoring())) {
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
