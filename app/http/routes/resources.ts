// "This server" (disk, memory, uptime, temperature) and an app's CPU and memory: small panels the dashboard and the
// app page fetch with htmx when they show, or whole pages for a browser without JavaScript. Read only here, on demand.
import type { Request, RequestHandler, Response } from 'express';
import { describeCpu, describeDisk, describeMemory, describeTemperature, describeUptime } from '../../services/node-health.ts';
import { formatBytes } from '../../services/resource-fit.ts';
import { stackSchema } from '../../validation.ts';
import type { Services } from '../context.ts';
import { parseForm } from '../forms.ts';
import { render, renderPartial } from '../render.ts';

const fromHtmx = (req: Request) => req.get('HX-Request') === 'true';

export function resourceRoutes(s: Services) {

  /** A part for htmx, the page otherwise. */
  const answer = (req: Request, res: Response, page: string, partial: string, data: Record<string, unknown> & { title: string }) =>
    fromHtmx(req) ? void res.type('html').send(renderPartial(res, partial, data)) : render(req, res, page, data);

  const serverPage: RequestHandler = async (req, res) => {
    const n = await s.serverHealth.node();
    const temperature = describeTemperature(n.temperatures);
    const panel = {
      disks: n.disks.map((d) => ({ label: d.label, path: d.path, text: d.reading ? describeDisk(d.reading) : 'this folder is not there' })),
      memory: describeMemory(n.memory),
      uptime: describeUptime(n.uptimeSeconds),
      temperature: temperature.text,
      hot: temperature.hot,
      readAt: n.at,
    };
    answer(req, res, 'server', 'node-panel', { title: 'This server', panel });
  };

  const appResources: RequestHandler = async (req, res) => {
    const app = s.apps.find(parseForm(stackSchema, req.params.stack, { value: 'The app' }));
    const usage = await s.serverHealth.app(app.stack).then(
      (u) => ({ containers: u.containers, cpu: describeCpu(u.cpuPercent), memory: formatBytes(u.memoryBytes), memoryBytes: u.memoryBytes, readAt: u.at, error: null }),
      (err: Error) => ({ containers: 0, error: `Docker did not answer: ${err.message}` }),
    );
    answer(req, res, 'app-resources', 'app-resources', { title: `On this server · ${app.domain ?? app.stack}`, app, usage });
  };

  return { serverPage, appResources };
}
