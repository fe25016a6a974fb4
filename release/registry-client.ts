// A small client for the OCI distribution API, enough to publish an image index: blobs, manifests by digest,
// the index by tag, and reading them back. Plain HTTP for loopback registries, HTTPS otherwise; a registry that
// asks for credentials gets LORES_REGISTRY_USER / LORES_REGISTRY_PASSWORD (basic, or the bearer-token dance).
import { createHash } from 'node:crypto';

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
} as const;

const ACCEPT = [MEDIA.index, MEDIA.manifest, 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

export const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** `127.0.0.1:5000/lores/lores-node` → where to speak and which repository. */
export type Repository = { host: string; name: string; base: string };

export function parseRepository(ref: string): Repository {
  const slash = ref.indexOf('/');
  if (slash < 0) throw new Error(`${JSON.stringify(ref)} names no registry: give <host>/<namespace>`);
  const host = ref.slice(0, slash);
  const name = ref.slice(slash + 1);
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(name)) throw new Error(`${JSON.stringify(name)} is not a valid repository name`);
  if (!/^[A-Za-z0-9.-]+(?::\d+)?$/.test(host)) throw new Error(`${JSON.stringify(host)} is not a registry host`);
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost)(:\d+)?$/.test(host);
  return { host, name, base: `${loopback ? 'http' : 'https'}://${host}/v2/${name}` };
}

export class RegistryError extends Error {}

export class RegistryClient {
  private token: string | undefined;
  readonly repo: Repository;
  constructor(repo: Repository) {
    this.repo = repo;
  }

  private async request(url: string, init: RequestInit & { headers?: Record<string, string> }, what: string): Promise<Response> {
    const go = () => fetch(url, { ...init, headers: { ...init.headers, ...(this.token ? { authorization: this.token } : {}) }, signal: AbortSignal.timeout(600_000) });
    let res: Response;
    try {
      res = await go();
      if (res.status === 401 && (await this.authenticate(res))) res = await go();
    } catch (err) {
      throw new RegistryError(`${what}: the registry ${this.repo.host} does not answer (${(err as Error).message})`);
    }
    return res;
  }

  /** Basic credentials, or a bearer token from the realm the registry names. */
  private async authenticate(res: Response): Promise<boolean> {
    const user = process.env.LORES_REGISTRY_USER;
    const password = process.env.LORES_REGISTRY_PASSWORD;
    await res.arrayBuffer();
    if (!user || !password || this.token) return false;
    const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const challenge = res.headers.get('www-authenticate') ?? '';
    if (/^basic/i.test(challenge)) {
      this.token = basic;
      return true;
    }
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (!params.realm) return false;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', `repository:${this.repo.name}:pull,push`);
    const t = await fetch(url, { headers: { authorization: basic } });
    if (!t.ok) throw new RegistryError(`the registry ${this.repo.host} refused the credentials in LORES_REGISTRY_USER (HTTP ${t.status})`);
    const body = (await t.json()) as { token?: string; access_token?: string };
    this.token = `Bearer ${body.token ?? body.access_token}`;
    return true;
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = (await res.text().catch(() => '')).replace(/\s+/g, ' ').slice(0, 300);
    throw new RegistryError(`${what}: the registry ${this.repo.host} answered HTTP ${res.status}${text ? ` (${text})` : ''}`);
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request(`${this.repo.base}/blobs/${digest}`, { method: 'HEAD' }, `check blob ${digest}`);
    await res.arrayBuffer();
    return res.status === 200;
  }

  /** Uploads a blob unless the registry has it (monolithic: POST opens the upload, PUT ?digest= closes it). */
  async putBlob(body: Uint8Array, what: string): Promise<void> {
    const digest = sha256(body);
    if (await this.hasBlob(digest)) return;
    const started = await this.request(`${this.repo.base}/blobs/uploads/`, { method: 'POST' }, `upload ${what}`);
    if (started.status !== 202) await this.fail(started, `upload ${what}`);
    await started.arrayBuffer();
    const location = new URL(started.headers.get('location') ?? '', this.repo.base);
    location.searchParams.set('digest', digest);
    const done = await this.request(location.toString(), { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body }, `upload ${what}`);
    if (done.status !== 201) await this.fail(done, `upload ${what}`);
    await done.arrayBuffer();
  }

  /** PUTs a manifest or index under a digest or tag; returns the digest the registry says it stored. */
  async putManifest(reference: string, mediaType: string, body: Uint8Array, what: string): Promise<string> {
    const res = await this.request(`${this.repo.base}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': mediaType }, body }, `push ${what}`);
    if (res.status !== 201) await this.fail(res, `push ${what}`);
    await res.arrayBuffer();
    return res.headers.get('docker-content-digest') ?? sha256(body);
  }

  /** The manifest or index under a digest or tag, as stored (null when the registry has none). */
  async getManifest(reference: string): Promise<{ digest: string; mediaType: string; body: Buffer } | null> {
    const res = await this.request(`${this.repo.base}/manifests/${reference}`, { headers: { accept: ACCEPT } }, `read ${reference}`);
    if (res.status === 404) {
      await res.arrayBuffer();
      return null;
    }
    if (res.status !== 200) await this.fail(res, `read ${reference}`);
    const body = Buffer.from(await res.arrayBuffer());
    return { digest: sha256(body), mediaType: res.headers.get('content-type') ?? '', body };
  }
}
