// Three real nodes (node app/server.ts), each in its own network namespace on one bridge, and a phone-like client in
// a fourth: they find each other by mDNS, pair with the right code (not a wrong one), the region page follows a node
// that stops and comes back, and the client resolves `kiwix-bravo.local` by mDNS and reads an article through the
// node's routing. Docker is left out on purpose (DOCKER_SOCKET points nowhere): apps come from abra env files and
// show "not deployed"; in front of kiwix-serve stands a small Host-routing proxy in Traefik's place.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../app/store/index.ts';
import { makeTestZim, type TestZim } from '../support/kiwix.ts';
import { within } from '../support/poll.ts';
import { available } from '../support/requirements.ts';
import { canMakeNamespaces, lanClient, lanLogin, makeLan, spawnIn, type Lan, type LanClient, type NsProcess } from '../support/netns/lan.ts';

const PASSWORD = 'region admin password';
const BIG = 'wikipedia_en_big_maxi_2026-03.zim';
const BIG_SIZE = 32 * 1024 * 1024 + 99;
const TAMPERED = 'wikipedia_en_tampered_mini_2026-03.zim';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes an abra env file for a Kiwix app with its ZIM folder under `base`. */
function kiwixEnv(base: string, domain: string): string {
  const zimDir = path.join(base, 'zims', 'kiwix');
  mkdirSync(zimDir, { recursive: true });
  mkdirSync(path.join(base, 'abra', 'servers', 'default'), { recursive: true });
  writeFileSync(path.join(base, 'abra', 'servers', 'default', `${domain}.env`), `TYPE=kiwix:1.2.0+3.8.2\nDOMAIN=${domain}\nZIM_FILES_PATH=${zimDir}\n`);
  return zimDir;
}
const canRun = available('the region LAN test', await canMakeNamespaces(), 'network namespaces are needed: run as root with iproute2, as CI does');

/** One paired node's card on the region page (its `<section data-peer>`), so a check cannot read a neighbour's. */
const peerCard = (html: string, name: string): string => html.split('<section').find((part) => part.includes(`data-peer="${name}"`)) ?? '';

describe.skipIf(!canRun)('a region on a LAN of network namespaces', () => {
  let lan: Lan;
  let work: string;
  let client: LanClient;
  let zim: TestZim;
  let big: Buffer;
  const nodes = new Map<string, NsProcess>();
  const extras: NsProcess[] = [];
  const url = (h: string) => `http://${lan.address(h)}`;

  function startNode(host: string) {
    const base = path.join(work, host);
    const p = spawnIn(lan.ns(host), [process.execPath, 'app/server.ts'], {
      DATA_DIR: path.join(base, 'data'), ABRA_DIR: path.join(base, 'abra'), ZIM_ROOT: path.join(base, 'zims'),
      HOST: '0.0.0.0', PORT: '80', NODE_NAME: host, LAN_ADDRESS: lan.address(host), NODE_URL: url(host),
      ADMIN_PASSWORD: PASSWORD, CATALOGUE_URL: '', DOCKER_SOCKET: '/nonexistent/docker.sock', LOG_LEVEL: 'info',
      REGION_POLL_SECONDS: '1', LOCAL_NAMES_UPSTREAM: 'http://127.0.0.1:8000',
    });
    nodes.set(host, p);
    return p.waitFor('listening', 60_000);
  }

  /**
   * A node as its recipe deploys it with compose.mdns.yml: the node itself does no multicast (on the swarm it sits on
   * an overlay network), and beside it the responder (`cli.ts mdns`, on the host's network) browses the LAN and
   * serves what it finds on MDNS_NEARBY_PORT, where the node reads it (MDNS_NEARBY_URL), as the recipe sets them.
   */
  async function startDeployedNode(host: string) {
    const base = path.join(work, host);
    const shared = { NODE_NAME: host, NODE_URL: url(host), DATA_DIR: path.join(base, 'data'), LOG_LEVEL: 'info', DOCKER_SOCKET: '/nonexistent/docker.sock' };
    const responder = spawnIn(lan.ns(host), [process.execPath, 'app/cli.ts', 'mdns'], { ...shared, LAN_ADDRESS: lan.address(host), MDNS_NEARBY_PORT: '5380' });
    extras.push(responder);
    await responder.waitFor('mDNS responder: answering', 30_000);
    const p = spawnIn(lan.ns(host), [process.execPath, 'app/server.ts'], {
      ...shared, ABRA_DIR: path.join(base, 'abra'), ZIM_ROOT: path.join(base, 'zims'), HOST: '0.0.0.0', PORT: '80',
      ADMIN_PASSWORD: PASSWORD, CATALOGUE_URL: '', REGION_POLL_SECONDS: '1', MDNS_NEARBY_URL: `http://${lan.address(host)}:5380/nearby`,
    });
    nodes.set(host, p);
    await p.waitFor('listening', 60_000);
  }

  /** `from`'s admin asks `to` to pair; `to`'s admin types a wrong code, then the right one. */
  async function pairOverLan(from: string, to: string) {
    const a = await lanLogin(client, url(from), 'admin', PASSWORD);
    const offered = await a.post('/region/pair', { url: `${url(to)}:80` });
    const code = /id="pair-code"><strong>(\d{6})</.exec(offered.text)?.[1];
    expect(code, offered.text.slice(0, 400)).toBeTruthy();
    const other = await lanLogin(client, url(to), 'admin', PASSWORD);
    const page = (await other.get('/region')).text;
    const id = new RegExp(`data-request="${from}"[\\s\\S]*?action="/region/requests/([0-9a-f]{32})/accept"`).exec(page)![1]!;
    const wrong = await other.post(`/region/requests/${id}/accept`, { code: String((Number(code) + 7) % 1_000_000).padStart(6, '0') });
    expect(wrong.text).toContain('The code is wrong.');
    const right = await other.post(`/region/requests/${id}/accept`, { code: code! });
    expect(right.text).toContain(`Paired with ${from}.`);
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-lan-'));
    lan = await makeLan(['alpha', 'bravo', 'charlie', 'delta', 'phone']);
    // bravo runs Kiwix with one tiny real ZIM, whose hash it kept when it "downloaded" it.
    const zimDir = kiwixEnv(path.join(work, 'bravo'), 'kiwix.bravo.example');
    kiwixEnv(path.join(work, 'charlie'), 'kiwix.charlie.example');
    zim = await makeTestZim(zimDir, { name: 'wikipedia_en_lan_mini_2026-03', articleText: 'Ferries leave the harbour at dawn.' });
    // A bigger book to copy to charlie, and one whose bytes changed on bravo's disk after its hash was kept.
    big = randomBytes(BIG_SIZE);
    writeFileSync(path.join(zimDir, BIG), big);
    writeFileSync(path.join(zimDir, TAMPERED), randomBytes(100_000));
    const store = createStore(path.join(work, 'bravo', 'data'));
    const keep = (fileName: string, sha256: string, size: number) => store.region.keepHash({ fileName, sha256, size, source: 'https://download.kiwix.org/zim/wikipedia/x.meta4', keptAt: Date.now() });
    keep(path.basename(zim.path), zim.sha256, zim.size);
    keep(BIG, sha(big), BIG_SIZE);
    keep(TAMPERED, sha(randomBytes(100_000)), 100_000);
    store.close();
    // In bravo's namespace: kiwix-serve, and in front of it a Host router standing in for Traefik.
    const kiwix = spawnIn(lan.ns('bravo'), ['kiwix-serve', '-i', '127.0.0.1', '-p', '8081', zim.path]);
    const router = spawnIn(lan.ns('bravo'), [process.execPath, 'test/support/netns/host-router.ts', '127.0.0.1:8000', 'kiwix.bravo.example=http://127.0.0.1:8081']);
    extras.push(kiwix, router);
    await router.waitFor('listening', 20_000);
    await Promise.all([...['alpha', 'bravo', 'charlie'].map(startNode), startDeployedNode('delta')]);
    client = lanClient(lan.ns('phone'), lan.address('phone'));
  });

  afterAll(async () => {
    await client?.close();
    for (const p of [...nodes.values(), ...extras]) await p.stop();
    await lan?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the nodes find each other by mDNS', async () => {
    const a = await lanLogin(client, url('alpha'), 'admin', PASSWORD);
    const { value: page } = await within('bravo and charlie nearby on alpha', 20_000, async () => {
      const text = (await a.get('/region')).text;
      return text.includes('data-nearby="bravo"') && text.includes('data-nearby="charlie"') && text;
    });
    expect(page).toContain(`value="${url('bravo')}:80"`);
    // The phone is no paired node: alpha tells it nothing.
    const refused = await client.http(`${url('alpha')}/region/peer/status`);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toEqual({ error: 'refused' });
  });

  it('a node deployed from its recipe finds the others through its mDNS responder, and is found by them', async () => {
    const d = await lanLogin(client, url('delta'), 'admin', PASSWORD);
    const { value: page } = await within('alpha, bravo and charlie nearby on delta', 20_000, async () => {
      const text = (await d.get('/region')).text;
      return ['alpha', 'bravo', 'charlie'].every((n) => text.includes(`data-nearby="${n}"`)) && text;
    });
    expect(page).toContain(`value="${url('alpha')}:80"`);
    expect(page).not.toContain('data-nearby="delta"');
    const a = await lanLogin(client, url('alpha'), 'admin', PASSWORD);
    const { value: seen } = await within('delta nearby on alpha, at its node’s address', 20_000, async () => {
      const text = (await a.get('/region')).text;
      return text.includes('data-nearby="delta"') && text;
    });
    expect(seen).toContain(`value="${url('delta')}:80"`);
  });

  it('pairs alpha with bravo and charlie by code (a wrong code fails); the region page shows their apps and books', async () => {
    const a = await lanLogin(client, url('alpha'), 'admin', PASSWORD);
    for (const host of ['bravo', 'charlie']) await pairOverLan('alpha', host);
    const { value: region } = await within('bravo’s apps and books on alpha', 15_000, async () => {
      const text = (await a.get('/region/peers')).text;
      return text.includes('kiwix.bravo.example') && text.includes('wikipedia_en_lan_mini_2026-03') && text.includes('data-peer="charlie"') && text;
    });
    expect(peerCard(region, 'bravo')).toContain('data-reachable="yes"');
  });

  it('bravo stopped: alpha shows it unreachable with the age of its copy; bravo back: live again', async () => {
    const a = await lanLogin(client, url('alpha'), 'admin', PASSWORD);
    // Alpha must hold a copy of bravo's status first (its poll may lag the pairing on a loaded machine).
    await within('alpha holds bravo’s status', 20_000, async () => {
      const text = (await a.get('/region/peers')).text;
      return peerCard(text, 'bravo').includes('data-reachable="yes"') && peerCard(text, 'bravo').includes('wikipedia_en_lan_mini_2026-03');
    });
    await nodes.get('bravo')!.stop();
    const { value: down } = await within('bravo unreachable on alpha', 15_000, async () => {
      const text = (await a.get('/region/peers')).text;
      // bravo's own card: a loose match could run on into charlie's card and its badge.
      return peerCard(text, 'bravo').includes('data-reachable="no"') && peerCard(text, 'bravo');
    });
    expect(down).toMatch(/showing its copy from (just now|\d+ minutes? ago)/);
    expect(down).toContain('wikipedia_en_lan_mini_2026-03');
    await startNode('bravo');
    await within('bravo live again on alpha', 20_000, async () => peerCard((await a.get('/region/peers')).text, 'bravo').includes('data-reachable="yes"'));
  });

  it('a phone on the LAN resolves kiwix-bravo.local by mDNS and reads an article through bravo’s routing', async () => {
    const b = await lanLogin(client, url('bravo'), 'admin', PASSWORD);
    expect(await client.resolve('kiwix-bravo.local', 2500)).toBeUndefined(); // off until a steward turns it on
    const on = await b.post('/region/local-names', { stack: 'kiwix_bravo_example', on: '1' });
    expect(on.status).toBe(303);
    const address = await client.resolve('kiwix-bravo.local');
    expect(address).toBe(lan.address('bravo'));
    const article = await client.http(`http://${address}${zim.urlPath}`, { headers: { host: 'kiwix-bravo.local' } });
    expect(article.status).toBe(200);
    expect(article.text).toContain('Ferries leave the harbour at dawn.');
    // alpha's region page gives the LAN URL too.
    const a = await lanLogin(client, url('alpha'), 'admin', PASSWORD);
    await within('the LAN URL on alpha', 10_000, async () => (await a.get('/region/peers')).text.includes('http://kiwix-bravo.local'));
  });

  it('charlie copies a book from bravo over the LAN; the connection is cut on the way; the copy resumes and verifies; a tampered file is caught', async () => {
    await pairOverLan('charlie', 'bravo');
    const c = await lanLogin(client, url('charlie'), 'admin', PASSWORD);
    // 8 MB/s, so the 32 MB copy lasts about four seconds.
    expect((await c.post('/settings', { nodeDomain: 'charlie.example', downloadLimitKBps: '8192' })).status).toBeLessThan(400);
    const offered = (await c.get('/apps/kiwix_charlie_example/zims/neighbours')).text;
    expect(offered).toContain(`data-zim="${BIG}"`);
    const peer = /name="peer" value="([0-9a-f]{20})"/.exec(offered)![1]!;
    const started = await c.post('/apps/kiwix_charlie_example/zims/from-neighbour', { peer, fileName: BIG });
    expect(started.status, started.text.slice(0, 300)).toBe(303);
    const jobPath = String(started.headers.location);
    const cDir = path.join(work, 'charlie', 'zims', 'kiwix');
    const part = path.join(cDir, `${BIG}.part`);
    await within('a quarter of the book on charlie', 60_000, () => existsSync(part) && statSync(part).size > BIG_SIZE / 4, { everyMs: 50 });
    // The cut: bravo's kernel drops every TCP connection to charlie (ss -K), as a pulled cable would end them.
    await execa('ip', ['netns', 'exec', lan.ns('bravo'), 'ss', '-K', 'dst', lan.address('charlie')]);
    const cutAt = statSync(part).size;
    console.log(`LAN copy: ${BIG_SIZE} bytes, cut by ss -K after ${cutAt} bytes on disk`);
    await within('the copy on charlie', 90_000, () => existsSync(path.join(cDir, BIG)) && !existsSync(part));
    expect(cutAt).toBeLessThan(BIG_SIZE);
    expect(sha(readFileSync(path.join(cDir, BIG)))).toBe(sha(big));
    const job = (await c.get(jobPath)).text;
    expect(job).toContain('data-state="succeeded"');
    expect(Number(/after (\d+) request\(s\)/.exec(job)?.[1])).toBeGreaterThanOrEqual(2);

    const bad = await c.post('/apps/kiwix_charlie_example/zims/from-neighbour', { peer, fileName: TAMPERED });
    const badJob = String(bad.headers.location);
    const { value: failed } = await within('the tampered copy refused', 30_000, async () => {
      const text = (await c.get(badJob)).text;
      return text.includes('data-state="failed"') && text;
    });
    expect(failed).toMatch(/sha-256 does not match/);
    expect(readdirSync(cDir).filter((f) => f.startsWith(TAMPERED))).toEqual([]);
  });
});
