// Node-wide settings an admin edits on the settings page; env values are the defaults.
import type { Store } from '../store/index.ts';
import { z } from 'zod';
import { domainSchema, parseOrRefuse } from '../validation.ts';

/**
 * `downloadLimitKBps`: the ZIM downloads' share of a shared uplink, in KB/s; 0 means no limit.
 * `auditRetentionDays`: how long audit rows are kept before the daily prune deletes them.
 */
export type NodeSettings = { nodeDomain: string; downloadLimitKBps: number; auditRetentionDays: number };

export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

export const auditRetentionSchema = z.coerce
  .number({ message: 'must be a number of days' })
  .int('must be a whole number of days')
  .min(1, 'must be at least 1 day')
  .max(36_500, 'must be at most 36500 days (100 years)');

export const downloadLimitSchema = z.coerce
  .number({ message: 'must be a number of KB/s' })
  .int('must be a whole number of KB/s')
  .min(0, 'must be 0 (no limit) or more')
  .max(10_000_000, 'is more than any uplink');

export function settingsService(store: Store, given: Omit<NodeSettings, 'auditRetentionDays'> & { auditRetentionDays?: number }, now: () => number) {
  const defaults: NodeSettings = { auditRetentionDays: DEFAULT_AUDIT_RETENTION_DAYS, ...given };
  // Read on every page and on every network read of a download: kept in memory, dropped when a setting changes.
  let cached: NodeSettings | undefined;
  return {
    current(): NodeSettings {
      cached ??= {
        nodeDomain: store.settings.get('node_domain') ?? defaults.nodeDomain,
        downloadLimitKBps: Number(store.settings.get('download_limit_kbps') ?? defaults.downloadLimitKBps),
        auditRetentionDays: Number(store.settings.get('audit_retention_days') ?? defaults.auditRetentionDays),
      };
      return cached;
    },
    /** Validates and stores the node's domain; returns the old and new value for the audit log. */
    setNodeDomain(value: string, by: string): { from: string; to: string } {
      const domain = parseOrRefuse(domainSchema, value, { value: 'The node’s domain' });
      const from = this.current().nodeDomain;
      store.settings.set('node_domain', domain, by, now());
      cached = undefined;
      return { from, to: domain };
    },
    /** Bytes per second for ZIM downloads (0: unlimited), read by running downloads as they go. */
    downloadBytesPerSecond(): number {
      return this.current().downloadLimitKBps * 1024;
    },
    setDownloadLimit(value: unknown, by: string): { from: number; to: number } {
      const kbps = parseOrRefuse(downloadLimitSchema, value, { value: 'The download limit' });
      const from = this.current().downloadLimitKBps;
      store.settings.set('download_limit_kbps', String(kbps), by, now());
      cached = undefined;
      return { from, to: kbps };
    },
    /** Days of audit log kept; the next prune (daily, at start, or right after this change) applies it. */
    setAuditRetention(value: unknown, by: string): { from: number; to: number } {
      const days = parseOrRefuse(auditRetentionSchema, value, { value: 'The audit log retention' });
      const from = this.current().auditRetentionDays;
      store.settings.set('audit_retention_days', String(days), by, now());
      cached = undefined;
      return { from, to: days };
    },
  };
}
export type SettingsService = ReturnType<typeof settingsService>;
