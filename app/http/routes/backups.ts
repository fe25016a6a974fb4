// Backups: the repository (admins, on the Settings page), an app's snapshots with "Back up now", restore with a
// typed confirmation, download as tar.gz; the node's own backups; the one-click restore after a failed upgrade.
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { UserFacingError, asFieldError, fieldError } from '../../errors.ts';
import { formatBytes } from '../../services/resource-fit.ts';
import { shownRepository } from '../../services/backups/repository.ts';
import { stackSchema } from '../../validation.ts';
import { DEFAULT_RETENTION, NODE_SCHEDULE } from '../../services/backups/schedule.ts';
import { auditRefusals } from '../audited.ts';
import type { AppAction } from '../../services/app-access.ts';
import { authorizedApp } from '../app-guard.ts';
import { actorOf, type Services } from '../context.ts';
import { parseForm, parseId, withForm } from '../forms.ts';
import { render } from '../render.ts';

const repositoryForm = z.object({ repository: z.string().max(500), password: z.string().max(500).optional(), s3KeyId: z.string().max(200).optional(), s3Secret: z.string().max(200).optional() });
const snapshotId = z.string().regex(/^[0-9a-f]{8,64}$/, 'is not a snapshot id');

export function backupRoutes(s: Services) {
  const stackOf = (req: Request) => parseForm(stackSchema, req.params.stack, { value: 'The app' });
  /** The stack of an app the caller may back up or restore, as for every other action (managed or adopted, not the
   *  node itself, no host reach for stewards); a clear refusal otherwise. */
  const allowedStack = async (req: Request, res: Response, action: AppAction, stack = stackOf(req)): Promise<string> => (await authorizedApp(s, req, res, stack, action)).stack;
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const view = (list: Awaited<ReturnType<Services['backups']['snapshots']>>) =>
    list.map((x) => ({ ...x, sizeText: x.bytes === null ? '—' : formatBytes(x.bytes), when: x.time }));

  /** Which field of the repository form a refusal of the backup repository is about, by what it says. */
  const repositoryField = (err: unknown) => {
    const said = err instanceof Error ? err.message : '';
    return asFieldError(err, /S3 access key/.test(said) ? 's3KeyId' : /S3 secret/.test(said) ? 's3Secret' : /password must/.test(said) ? 'password' : 'repository');
  };

  // Refused, the Settings page comes back with the repository form as typed (never its password or keys).
  const setRepository: RequestHandler = withForm(auditRefusals(s, 'backup.repository', async (req, res) => {
    const form = parseForm(repositoryForm, body(req), { repository: 'The repository', password: 'The password' });
    const actor = actorOf(req, res.locals.session);
    const result = await s.backupAdmin.setRepository(actor, { repository: form.repository, password: form.password || undefined, s3KeyId: form.s3KeyId, s3Secret: form.s3Secret }).catch((err: unknown) => Promise.reject(repositoryField(err)));
    if (!result.generatedPassword) return res.redirect(303, '/settings?saved=1');
    res.set('Cache-Control', 'no-store');
    render(req, res, 'backup-password', { title: 'The backup password', repository: shownRepository(result.repository), password: result.generatedPassword, passwordFile: s.backupRepo.passwordFile });
  }), { path: '/settings' }, { id: () => 'backup' });

  const setUpgradeSnapshot: RequestHandler = (req, res) => {
    const on = body(req).on === '1';
    s.backupAdmin.setSnapshotBeforeUpgrade({ ...actorOf(req, res.locals.session), name: res.locals.session!.user.username }, on);
    res.redirect(303, '/settings?saved=1');
  };

  const appBackupsPage: RequestHandler = async (req, res) => {
    const stack = stackOf(req);
    const plan = await s.backups.planOf(stack);
    const repository = s.backupRepo.location();
    let snapshots: ReturnType<typeof view> = [];
    let error: string | undefined;
    if (repository) {
      try {
        snapshots = view(await s.backups.snapshots(stack));
      } catch (err) {
        if (!(err instanceof UserFacingError)) throw err;
        error = err.message;
      }
    }
    render(req, res, 'backups', { title: `Backups · ${stack}`, stack, plan, repository: repository && shownRepository(repository), snapshots, error, busy: s.jobs.holder(stack), schedule: s.backupSchedule.of(stack), retention: DEFAULT_RETENTION, action: `/apps/${stack}/backups/schedule` });
  };

  const backUpApp: RequestHandler = auditRefusals(s, 'job.backup', async (req, res) => {
    res.redirect(303, `/jobs/${s.backups.backUp(await allowedStack(req, res, 'backup'), actorOf(req, res.locals.session)).id}`);
  });

  const restorePage: RequestHandler = async (req, res) => {
    const stack = await allowedStack(req, res, 'restore');
    const snap = await s.backups.findSnapshot(stack, parseForm(snapshotId, req.params.id));
    render(req, res, 'backup-restore', { title: `Restore ${stack}`, stack, snap: view([snap])[0] });
  };

  const restore: RequestHandler = withForm(auditRefusals(s, 'job.restore', async (req, res) => {
    const stack = await allowedStack(req, res, 'restore');
    const id = parseForm(snapshotId, req.params.id);
    const actor = actorOf(req, res.locals.session);
    if (body(req).confirm !== stack) {
      // Audited as refused (auditRefusals), and the page comes back with the note beside the confirmation.
      throw fieldError('confirm', `To restore, type the app’s name exactly: ${stack}`);
    }
    res.redirect(303, `/jobs/${(await s.backups.restore(stack, id, body(req).confirm, actor)).id}`);
  }), restorePage);

  /** "Restore the data from before the upgrade": the safety snapshot of a failed upgrade job, in one click. */
  const restoreBeforeUpgrade: RequestHandler = auditRefusals(s, 'job.restore', async (req, res) => {
    const job = s.jobHistory.byId(parseId(req.params.id));
    const safety = job && s.backups.safetySnapshotOf(job.id);
    if (!job?.app || !safety) throw new UserFacingError('This job took no safety snapshot to restore.', 404);
    await allowedStack(req, res, 'restore', job.app);
    res.redirect(303, `/jobs/${(await s.backupAdmin.restoreBeforeUpgrade(actorOf(req, res.locals.session), { ...job, app: job.app }, safety)).id}`);
  });

  /** A snapshot as a tar.gz, volumes under /var/lib/docker/volumes/<stack>_<volume> (as backup-bot-two's are). */
  const download: RequestHandler = async (req, res) => {
    const stack = await allowedStack(req, res, 'backup');
    const snap = await s.backupAdmin.snapshotForDownload(actorOf(req, res.locals.session), stack, parseForm(snapshotId, req.params.id));
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    // The whole tree from /: entries keep their full paths, var/lib/docker/volumes/<stack>_<volume>/_data/….
    const child = s.backupRepo.restic().dumpTar(snap.id, '/', abort.signal);
    res.set({ 'Content-Type': 'application/gzip', 'Content-Disposition': `attachment; filename="${stack}-${snap.shortId}.tar.gz"`, 'Cache-Control': 'no-store' });
    await Promise.all([pipeline(child.stdout!, createGzip({ level: 6 }), res).catch(() => undefined), child.catch(() => undefined)]);
  };

  /** A daily backup at a quiet hour with retention, or none (remove=1). `target` is the stack, or '' for the node. */
  const saveSchedule = (req: Request, target: string) => {
    const actor = actorOf(req, req.res!.locals.session);
    if (body(req).remove === '1') {
      s.backupAdmin.removeSchedule(actor, target);
      return;
    }
    s.backupAdmin.setSchedule(actor, target, { hour: body(req).hour, keepDaily: body(req).keepDaily, keepWeekly: body(req).keepWeekly, keepMonthly: body(req).keepMonthly });
  };

  const appSchedule: RequestHandler = withForm(auditRefusals(s, 'backup.schedule', async (req, res) => {
    const stack = await allowedStack(req, res, 'backup');
    saveSchedule(req, stack);
    res.redirect(303, `/apps/${stack}/backups`);
  }), appBackupsPage);

  const nodeSchedule: RequestHandler = withForm(auditRefusals(s, 'backup.schedule', (req, res) => {
    saveSchedule(req, NODE_SCHEDULE);
    res.redirect(303, '/node/backups');
  }), (req, res) => nodeBackupsPage(req, res));

  async function nodeBackupsPage(req: Request, res: Response) {
    let snapshots: ReturnType<typeof view> = [];
    let error: string | undefined;
    if (s.backupRepo.location()) {
      try {
        snapshots = view(await s.backups.snapshots(null));
      } catch (err) {
        if (!(err instanceof UserFacingError)) throw err;
        error = err.message;
      }
    }
    render(req, res, 'node-backups', { title: 'Backups of the node', repository: s.backupRepo.location(), snapshots, error, schedule: s.backupSchedule.of(NODE_SCHEDULE), retention: DEFAULT_RETENTION, action: '/node/backups/schedule' });
  };

  const backUpNode: RequestHandler = auditRefusals(s, 'job.node-backup', (req, res) => {
    res.redirect(303, `/jobs/${s.backups.backUpNode(actorOf(req, res.locals.session)).id}`);
  });

  return { setRepository, setUpgradeSnapshot, appBackupsPage, backUpApp, restorePage, restore, restoreBeforeUpgrade, download, appSchedule, nodeSchedule, nodeBackupsPage, backUpNode };
}
