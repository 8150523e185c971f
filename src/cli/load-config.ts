import type { ClusterConfig } from '../config/cluster-config.js';
import { formatProblem, loadClusterConfig } from '../config/cluster-config.js';

/**
 * Reads cluster.yml for a command that runs nodes (`start`, `up`): the refusal (with its
 * file:line:col) or the warnings go to stderr. Null means the command must exit 2.
 */
export async function loadConfigForNodes(file: string): Promise<ClusterConfig | null> {
  const loaded = await loadClusterConfig(file);
  if (!loaded.ok) {
    process.stderr.write(`raftlock: invalid configuration\n${loaded.error.message}\n`);
    return null;
  }
  const config = loaded.value;
  for (const warning of config.warnings) {
    process.stderr.write(`raftlock: warning: ${formatProblem(config.file, warning)}\n`);
  }
  return config;
}
