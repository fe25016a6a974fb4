// For tests of the image's release: a stand-in for abra's release downloads on the Docker bridge (where build
// containers reach the host; git.coopcloud.tech is unreachable here), and a proxy in front of a real registry
// that misbehaves on purpose (refuses pushes, or says it stored a manifest it dropped).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/**
 * The host's address on Docker's default bridge, where build containers reach it. (Node's networkInterfaces()
 * leaves the bridge out while no container is attached to it: the link is down then, its address still there.)
 */
export async function bridgeAddress(): Promise<string> {
  const name = (await execa('docker', ['network', 'inspect', 'bridge', '--format', '{{index .Options "com.docker.network.bridge.name"}}'])).stdout.trim() || 'docker0';
  const { stdout } = await execa('ip', ['-4', '-o', 'addr', 'show', 'dev', name]);
  const address = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(stdout)?.[1];
  if (!address) throw new Error(`no IPv4 address on ${name}: cannot serve a fake abra release to the build`);
  return address;
}

export type FakeAbraRelease = { source: string; sha256: string; requests: string[]; close(): void };

/** abra 0.13.0-beta's release tarballs (a script printing its version), served for amd64, arm64 and armv7. */
export async function serveFakeAbraRelease(): Promise<FakeAbraRelease> {
  const work = mkdtempSync(path.join(tmpdir(), 'fake-abra-'));
  writeFileSync(path.join(work, 'abra'), '#!/bin/sh\necho "abra version 0.13.0-beta (fake release)"\n', { mode: 0o755 });
  await execa('tar', ['-czf', path.join(work, 'release.tar.gz'), '-C', work, 'abra']);
  const tarball = readFileSync(path.join(work, 'release.tar.gz'));
  rmSync(work, { recursive: true, force: true });
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (/^\/abra_0\.13\.0-beta_linux_(amd64|arm64|armv7)\.tar\.gz$/.test(req.url ?? '')) res.end(tarball);
    else res.writeHead(404).end();
  });
  const address = await bridgeAddress();
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return {
    source: `http://${address}:${(server.address() as AddressInfo).port}/abra_0.13.0-beta_linux_{arch}.tar.gz`,
    sha256: createHash('sha256').update(tarball).digest('hex'),
    requests,
    close: () => server.close(),
  };
}

/** What the proxy does with a request: forward it, answer it with a status instead, or answer 201 and drop it. */
export type Fault = (req: IncomingMessage) => 'forward' | 'swallow' | number;

/** An HTTP proxy on 127.0.0.1 in front of a registry, applying `fault` to each request. */
export async function faultyRegistry(target: string, fault: Fault): Promise<{ host: string; close(): Promise<void> }> {
  const [targetHost, targetPort] = target.split(':');
  const server = createServer((req, res) => {
    const what = fault(req);
    if (what !== 'forward') {
      req.resume();
      req.on('end', () => {
        if (what === 'swallow') {
          res.writeHead(201, { 'docker-content-digest': '' }).end();
        } else {
          res.writeHead(what, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'pushes are refused by this test registry' }] }));
        }
      });
      return;
    }
    const up = request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (r) => {
      // The registry's upload locations name its own address: point them back at the proxy.
      const headers = { ...r.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`//${target}`, `//${req.headers.host}`);
      res.writeHead(r.statusCode ?? 502, headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
