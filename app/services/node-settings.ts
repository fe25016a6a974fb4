// An admin saving the node's settings (Settings page): each change audited where it is made, the config
// repository's lores.toml kept in step with the domain, and a shorter audit retention applied at once.
import type { Logger } from '../log.ts';
import type { Actor, AuditLog, AuditRetention } from './audit.ts';
import type { ConfigRepository } from './config-repo/repo.ts';
import type { SettingsService } from './settings.ts';

/** Values already checked; undefined leaves a setting alone. */
export type NodeSettingsChange = { nodeDomain: string; downloadLimitKBps?: number; auditRetentionDays?: number };

export function nodeSettings(deps: { settings: SettingsService; audit: AuditLog; auditRetention: AuditRetention; configRepo: Pick<ConfigRepository, 'nodeDomainChanged'>; log: Logger }) {
  const { settings, audit } = deps;
  return {
    /** `by`: the admin's username, kept with each setting. */
    async save(actor: Actor, by: string, change: NodeSettingsChange): Promise<void> {
      const domain = settings.setNodeDomain(change.nodeDomain, by);
      audit.record(actor, 'settings.node-domain', { target: domain.to, detail: domain });
      // The domain is set here only; lores.toml in the config repository follows, so laptops see the same default.
      if (domain.from !== domain.to) await deps.configRepo.nodeDomainChanged(by).catch((err: Error) => deps.log.warn({ err: err.message }, 'lores.toml not updated'));
      const limit = change.downloadLimitKBps;
      if (limit !== undefined && limit !== settings.current().downloadLimitKBps) {
        audit.record(actor, 'settings.download-limit', { detail: settings.setDownloadLimit(limit, by) });
      }
      const retention = change.auditRetentionDays;
      if (retention !== undefined && retention !== settings.current().auditRetentionDays) {
        audit.record(actor, 'settings.audit-retention', { detail: settings.setAuditRetention(retention, by) });
        deps.auditRetention.prune(); // a shorter retention applies at once
      }
    },
  };
}
export type NodeSettings = ReturnType<typeof nodeSettings>;
