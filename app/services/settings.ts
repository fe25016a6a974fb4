// Node-wide settings an admin edits on the settings page; env values are the defaults.
import type { Store } from '../store/index.ts';
import { domainSchema, parseOrRefuse } from '../validation.ts';

export type NodeSettings = { nodeDomain: string };

export function settingsService(store: Store, defaults: NodeSettings, now: () => number) {
  return {
    current(): NodeSettings {
      return { nodeDomain: store.settings.get('node_domain') ?? defaults.nodeDomain };
    },
    /** Validates and stores the node's domain; returns the old and new value for the audit log. */
    setNodeDomain(value: string, by: string): { from: string; to: string } {
      const domain = parseOrRefuse(domainSchema, value, { value: 'The node’s domain' });
      const from = this.current().nodeDomain;
      store.settings.set('node_domain', domain, by, now());
      return { from, to: domain };
    },
  };
}
export type SettingsService = ReturnType<typeof settingsService>;
