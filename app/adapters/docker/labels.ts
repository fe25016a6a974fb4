// Reads what Co-op Cloud and Traefik labels say about an app, from a swarm service's labels.
export const STACK_LABEL = 'com.docker.stack.namespace';

export type AppLabels = {
  recipe?: string;
  version?: string;
  chaos: boolean;
  chaosVersion?: string;
  domain?: string;
  extraDomains: string[];
};

/** Host(`a`) || Host(`b`, `c`) → ['a', 'b', 'c'] (Traefik v2 and v3 rule syntax). */
export function hostsFromRule(rule: string): string[] {
  const hosts: string[] = [];
  for (const m of rule.matchAll(/Host\(([^)]*)\)/g)) {
    for (const h of (m[1] ?? '').matchAll(/[`"']([^`"']+)[`"']/g)) if (h[1]) hosts.push(h[1]);
  }
  return hosts;
}

/** The labels abra and the recipe put on `<stack>_app`: coop-cloud.<stack>.* and traefik.http.routers.<stack>.rule. */
export function readAppLabels(stack: string, labels: Record<string, string>): AppLabels {
  const cc = (key: string) => labels[`coop-cloud.${stack}.${key}`];
  const rule = labels[`traefik.http.routers.${stack}.rule`];
  const hosts = rule ? hostsFromRule(rule) : [];
  return {
    recipe: cc('recipe') || undefined,
    version: cc('version') || undefined,
    chaos: cc('chaos') === 'true',
    chaosVersion: cc('chaos-version') || undefined,
    domain: hosts[0],
    extraDomains: hosts.slice(1),
  };
}

/** A stack counts as a Co-op Cloud app when any coop-cloud.<stack>.* label is present. */
export function isCoopCloudApp(stack: string, labels: Record<string, string>): boolean {
  const prefix = `coop-cloud.${stack}.`;
  return Object.keys(labels).some((k) => k.startsWith(prefix));
}
