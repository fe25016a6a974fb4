// An app's service logs for the Logs page: the last lines as they are now, in time order, and a live follow.
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { serviceLogs, type LogLine } from '../adapters/docker/logs.ts';

export type { LogLine };

export function appLogs(docker: Docker) {
  return {
    /** The last `tail` lines of a service, merged across its tasks in time order. */
    async last(serviceId: string, tail: number): Promise<LogLine[]> {
      const lines: LogLine[] = [];
      const stream = await serviceLogs(docker, serviceId, { tail, follow: false, onLine: (l) => lines.push(l) });
      await new Promise<void>((resolve) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', resolve);
      });
      // Docker merges the tasks' logs task by task; the RFC 3339 timestamps put them back in time order.
      return lines.sort((a, b) => a.text.slice(0, 30).localeCompare(b.text.slice(0, 30)));
    },
    /** New lines as they come (tail 0: the page already shows the last ones); the stream can be paused and destroyed. */
    follow(serviceId: string, onLine: (line: LogLine) => void): Promise<Readable> {
      return serviceLogs(docker, serviceId, { tail: 0, follow: true, onLine });
    },
  };
}
export type AppLogs = ReturnType<typeof appLogs>;
