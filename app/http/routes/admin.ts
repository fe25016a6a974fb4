// Admin pages: the audit log and the node's settings.
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { auditRetentionSchema, downloadLimitSchema } from '../../services/settings.ts';
import { actorOf, type Services } from '../context.ts';
import { parseField, parseForm, withForm } from '../forms.ts';
import { domainSchema } from '../../validation.ts';
import { render } from '../render.ts';

const PAGE_SIZE = 50;
const auditQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  action: z.string().regex(/^[a-z.-]{0,40}$/, 'may only hold letters, dots and dashes').optional(),
});
const settingsForm = z.object({ nodeDomain: z.string().max(253), downloadLimitKBps: z.string().max(20).optional(), auditRetentionDays: z.string().max(20).optional() });

export function adminRoutes(s: Services) {

  const auditPage: RequestHandler = (req, res) => {
    const q = parseForm(auditQuery, req.query, { before: 'Page', action: 'Action filter' });
    const rows = s.auditHistory.page({ limit: PAGE_SIZE + 1, beforeId: q.before, action: q.action || undefined });
    const more = rows.length > PAGE_SIZE;
    const shown = rows.slice(0, PAGE_SIZE);
    render(req, res, 'audit', { title: 'Audit log', rows: shown, action: q.action ?? '', olderThan: more ? shown.at(-1)!.id : undefined });
  };

  const settingsPage = (req: Request, res: Response) => {
    // What this node runs on: a Raspberry Pi's admin (and the release's arm64 test) can see which image variant it is.
    const runtime = { node: process.version, platform: `${process.platform}/${process.arch}` };
    const saved = req.method !== 'GET' ? undefined : req.query.saved === '1' ? 'saved' : req.query.saved === 'none' ? 'unchanged' : undefined;
    render(req, res, 'settings', { title: 'Settings', settings: s.settings.current(), saved, runtime, backup: { repository: s.backupRepo.location(), beforeUpgrade: s.backups.snapshotBeforeUpgrade(), s3Keys: s.backupRepo.hasS3Keys() } });
  };

  // A refused value is said beside its field, the form as typed (the backup forms of this page have their own id).
  const saveSettings: RequestHandler = withForm(async (req, res) => {
    const form = parseForm(settingsForm, req.body, { nodeDomain: 'The node’s domain' });
    parseField('nodeDomain', domainSchema, form.nodeDomain, 'The node’s domain');
    const by = res.locals.session!.user.username;
    // The limit is checked before the domain is saved: a bad value changes nothing.
    // An emptied field means "no limit"; a form without the field leaves the limit alone.
    const limit = form.downloadLimitKBps === undefined ? undefined : form.downloadLimitKBps.trim() === '' ? 0 : parseField('downloadLimitKBps', downloadLimitSchema, form.downloadLimitKBps, 'The download limit');
    // Likewise the audit log's retention: checked first, left alone when the form does not carry it.
    const retention = form.auditRetentionDays === undefined ? undefined : parseField('auditRetentionDays', auditRetentionSchema, form.auditRetentionDays, 'The audit log retention');
    const changed = await s.nodeSettings.save(actorOf(req, res.locals.session), by, { nodeDomain: form.nodeDomain, downloadLimitKBps: limit, auditRetentionDays: retention });
    res.redirect(303, `/settings?saved=${changed ? '1' : 'none'}`);
  }, settingsPage, { id: () => 'settings' });

  return { auditPage, settingsPage, saveSettings };
}
