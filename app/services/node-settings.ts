// An admin saving the node's settings (Settings page): each change audited where it is made, the config
// repository's lores.toml kept in step with the domain, and a shorter audit retention applied at once.
import type { Logger } from '../log.ts';
import type { Actor, AuditLog, AuditRetention } from './audit.ts';
import type { ConfigRemote, RemoteStatus } from './config-repo/remote.ts';
import type { ConfigRepository } from './config-repo/repo.ts';
import type { SettingsService } from './settings.ts';

/** Values already checked; undefined leaves a setting alone. */
export type NodeSettingsChange = { nodeDomain: string; downloadLimitKBps?: number; auditRetentionDays?: number };

export function nodeSettings(deps: { settings: SettingsService; audit: AuditLog; auditRetention: AuditRetention; configRepo: Pick<ConfigRepository, 'nodeDomainChanged'>; configRemote: ConfigRemote; log: Logger }) {
  const { settings, audit } = deps;
  return {
    /**
     * `by`: the admin's username, kept with each setting. Only what changed is audited: a save of the same values
     * records nothing, and says so (false).
     */
    async save(actor: Actor, by: string, change: NodeSettingsChange): Promise<boolean> {
      const domain = settings.setNodeDomain(change.nodeDomain, by);
      let changed = domain.from !== domain.to;
      if (changed) audit.record(actor, 'settings.node-domain', { target: domain.to, detail: domain });
      // The domain is set here only; lores.toml in the config repository follows, so laptops see the same default.
      if (domain.from !== domain.to) await deps.configRepo.nodeDomainChanged(by).catch((err: Error) => deps.log.warn({ err: err.message }, 'lores.toml not updated'));
      const limit = change.downloadLimitKBps;
      if (limit !== undefined && limit !== settings.current().downloadLimitKBps) {
        changed = true;
        audit.record(actor, 'settings.download-limit', { detail: settings.setDownloadLimit(limit, by) });
      }
      const retention = change.auditRetentionDays;
      if (retention !== undefined && retention !== settings.current().auditRetentionDays) {
        changed = true;
        audit.record(actor, 'settings.audit-retention', { detail: settings.setAuditRetention(retention, by) });
        deps.auditRetention.prune(); // a shorter retention applies at once
      }
      return changed;
    },

    /** The config repository's remote: its URL and, when one is sent, a new deploy key. */
    setRemote(actor: Actor, by: string, url: unknown, deployKey: unknown): void {
      deps.configRemote.configure(url, deployKey, by);
      audit.record(actor, 'config-repo.remote', { target: deps.configRemote.url() ?? '(none)', detail: { key: typeof deployKey === 'string' && deployKey.trim() !== '' ? 'replaced' : 'kept' } });
    },

    /** A round with the remote now ("Sync now"), audited with how it went. */
    async syncRemote(actor: Actor): Promise<RemoteStatus> {
      const status = await deps.configRemote.sync();
      audit.record(actor, 'config-repo.remote-sync', { target: deps.configRemote.url(), outcome: ['failed', 'refused', 'diverged'].includes(status.outcome) ? 'failed' : 'ok', detail: status });
      return status;
    },
  };
}
export type NodeSettings = ReturnType<typeof nodeSettings>;
