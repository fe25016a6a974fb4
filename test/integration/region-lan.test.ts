// Three real nodes (node app/server.ts), each in its own network namespace on one bridge, and a phone-like client in
// a fourth: they find each other by mDNS, pair with the right code (not a wrong one), the region page follows a node
// that stops and comes back, and the client resolves `kiwix-bravo.local` by mDNS and reads an article through the
// node's routing. Docker is left out on purpose (DOCKER_SOCKET points nowhere): apps come from abra env files and
// show "not deployed"; in front of kiwix-serve stands a small Host-routing proxy in Traefik's place.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../app/store/index.ts';
import { makeTestZim, type TestZim } from '../support/kiwix.ts';
import { within } from '../support/poll.ts';
import { inCI } from '../support/requirements.ts';
import { canMakeNamespaces, lanClient, lanLogin, makeLan, spawnIn, type Lan, type LanClient, type NsProcess } from '../support/netns/lan.ts';

const PASSWORD = 'region admin password';
const problem = await canMakeNamespaces();
if (problem && inCI) throw new Error(`network namespaces are needed: ${problem}`);

describe.skipIf(!!problem)('a region on a LAN of network namespaces', () => {
  let lan: Lan;
  let work: string;
  let client: LanClient;
  let zim: TestZim;
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

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-lan-'));
    lan = await makeLan(['alpha', 'bravo', 'charlie', 'phone']);
    // bravo runs Kiwix with one tiny real ZIM, whose hash it kept when it "downloaded" it.
    const zimDir = path.join(work, 'bravo', 'zims', 'kiwix');
    zim = await makeTestZim(zimDir, { name: 'wikipedia_en_lan_mini_2026-03', articleText: 'Ferries leave the harbour at dawn.' });
    mkdirSync(path.join(work, 'bravo', 'abra', 'servers', 'default'), { recursive: true });
    writeFileSync(path.join(work, 'bravo', 'abra', 'servers', 'default', 'kiwix.bravo.example.env'), `TYPE=kiwix:1.2.0+3.8.2\nDOMAIN=kiwix.bravo.example\nZIM_FILES_PATH=${zimDir}\n`);
    const store = createStore(path.join(work, 'bravo', 'data'));
    store.region.keepHash({ fileName: path.basename(zim.path), sha256: zim.sha256, size: zim.size, source: 'https://download.kiwix.org/zim/wikipedia/x.meta4', keptAt: Date.now() });
    store.close();
    // In bravo's namespace: kiwix-serve, and in front of it a Host router standing in for Traefik.
    const kiwix = spawnIn(lan.ns('bravo'), ['kiwix-serve', '-i', '127.0.0.1', '-p', '8081', zim.path]);
    const router = spawnIn(lan.ns('bravo'), [process.execPath, 'test/support/netns/host-router.ts', '127.0.0.1:8000', 'kiwix.bravo.example=http://127.0.0.1:8081']);
    extras.push(kiwix, router);
    await router.waitFor('listening', 20_000);
    await Promise.all(['alpha', 'bravo', 'charlie'].map(startNode));
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
  });

  it('pairs alpha with bravo and charlie by code (a wrong code fails); the region page shows their apps and books', async () => {
    const a = await lanLogin(client, url('alpha'), 'admin', PASSWORD);
    for (const host of ['bravo', 'charlie']) {
      const offered = await a.post('/region/pair', { url: `${url(host)}:80` });
      const code = /id="pair-code"><strong>(\d{6})</.exec(offered.text)?.[1];
      expect(code, offered.text.slice(0, 400)).toBeTruthy();
      const other = await lanLogin(client, url(host), 'admin', PASSWORD);
      const page = (await other.get('/region')).text;
      const id = /data-request="alpha"[\s\S]*?action="\/region\/requests\/([0-9a-f]{32})\/accept"/.exec(page)![1]!;
      const wrong = await other.post(`/region/requests/${id}/accept`, { code: String((Number(code) + 7) % 1_000_000).padStart(6, '0') });
      expect(wrong.text).toContain('The code is wrong.');
      const right = await other.post(`/region/requests/${id}/accept`, { code: code! });
      expect(right.text).toContain('Paired with alpha.');
    }
    const { value: region } = await within('bravo’s apps and books on alpha', 15_000, async () => {
      const text = (await a.get('/region/peers')).text;
      return text.includes('kiwix.bravo.example') && text.includes('wikipedia_en_lan_mini_2026-03') && text.includes('data-peer="charlie"') && text;
    });
    expect(region).toMatch(/data-peer="bravo">[\s\S]*?data-reachable="yes"/);
  });

  it('bravo stopped: alpha shows it unreachable with the age of its copy; bravo back: live again', async () => {
    const a = await lanLogin(client, url('alpha'), 'admin', PASSWORD);
    await nodes.get('bravo')!.stop();
    const { value: down } = await within('bravo unreachable on alpha', 15_000, async () => {
      const text = (await a.get('/region/peers')).text;
      return /data-peer="bravo">[\s\S]*?data-reachable="no"/.test(text) && text;
    });
    expect(down).toMatch(/showing its copy from (just now|\d+ minutes? ago)/);
    expect(down).toContain('wikipedia_en_lan_mini_2026-03');
    await startNode('bravo');
    await within('bravo live again on alpha', 20_000, async () => /data-peer="bravo">[\s\S]*?data-reachable="yes"/.test((await a.get('/region/peers')).text));
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
});
