// Runs a short command in a service's running container and reads its output: what abra has no verb for
// (e.g. which ZIM files kiwix-serve has in its library right now).
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';

/** The ID of a running container of `<stack>_<service>`, or undefined when none runs. */
export async function runningContainerOf(docker: Docker, service: string): Promise<string | undefined> {
  const list = await docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${service}`], status: ['running'] } });
  return list[0]?.Id;
}

/** stdout of `cmd` (an argument array, no shell), bounded in time and size; throws when it fails. */
export async function execRead(docker: Docker, containerId: string, cmd: string[], opts: { timeoutMs?: number; maxBytes?: number } = {}): Promise<string> {
  const { timeoutMs = 5000, maxBytes = 4 * 1024 * 1024 } = opts;
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  docker.modem.demuxStream(stream, out, err);
  const chunks: Buffer[] = [];
  let size = 0;
  out.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= maxBytes) chunks.push(c);
    else stream.destroy();
  });
  let stderr = '';
  err.on('data', (c: Buffer) => void (stderr = (stderr + c.toString('utf8')).slice(-500)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`${cmd[0]} did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    stream.on('end', () => (clearTimeout(timer), resolve()));
    stream.on('close', () => (clearTimeout(timer), resolve()));
    stream.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
  const { ExitCode } = (await exec.inspect()) as { ExitCode: number | null };
  if (ExitCode !== 0) throw new Error(`${cmd[0]} exited with ${ExitCode}: ${stderr.trim() || 'no message'}`);
  if (size > maxBytes) throw new Error(`${cmd[0]} printed more than ${maxBytes} bytes`);
  return Buffer.concat(chunks).toString('utf8');
}
