// Node-wide settings an admin edits on the settings page; env values are the defaults.
import type { Store } from '../store/index.ts';
import { domainSchema, describeIssues } from '../validation.ts';
import { UserFacingError } from './errors.ts';

export type NodeSettings = { nodeDomain: string };

export function settingsService(store: Store, defaults: NodeSettings, now: () => number) {
  return {
    current(): NodeSettings {
      return { nodeDomain: store.settings.get('node_domain') ?? defaults.nodeDomain };
    },
    /** Validates and stores the node's domain; returns the old and new value for the audit log. */
    setNodeDomain(value: string, by: string): { from: string; to: string } {
      const parsed = domainSchema.safeParse(value);
      if (!parsed.success) throw new UserFacingError(describeIssues(parsed.error, { value: 'The node’s domain' }));
      const from = this.current().nodeDomain;
      store.settings.set('node_domain', parsed.data, by, now());
      return { from, to: parsed.data };
    },
  };
}
export type SettingsService = ReturnType<typeof settingsService>;
