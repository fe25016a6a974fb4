// A region of three nodes on loopback, each a real app on a real port with its own SQLite file: pairing with the
// right code, wrong and expired codes, an unpaired node refused, signed requests not replayable, and the region
// page with each paired node's apps and books — and, when one stops, its last copy and its age.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedIn } from '../support/app.ts';
import { accept, close, listen, offer, regionNode, type Running } from '../support/region.ts';
import { signedHeaders } from '../../app/services/region/signed.ts';

describe('a region of three nodes', () => {
  let A: Running, B: Running, C: Running;
  beforeAll(async () => {
    A = await regionNode('alpha');
    B = await regionNode('bravo', [{ domain: 'kiwix.bravo.test', recipe: 'kiwix', zims: [{ file: 'wikipedia_en_medicine_maxi_2026-01.zim', bytes: 4096 }] }, { domain: 'pad.bravo.test', recipe: 'hedgedoc' }]);
    C = await regionNode('charlie', [{ domain: 'kiwix.charlie.test', recipe: 'kiwix', zims: [{ file: 'wikipedia_fr_all_nopic_2025-11.zim', bytes: 2048 }] }]);
    await Promise.all([A, B, C].map(listen));
  });
  afterAll(async () => {
    for (const r of [A, B, C]) {
      await close(r);
      r.node.close();
      rmSync(r.base, { recursive: true, force: true });
    }
  });

  it('pairs with the right code; a wrong code fails and pairs nothing', async () => {
    const code = await offer(A, B);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    const bad = await accept(B, 'alpha', wrong);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('The code is wrong.');
    expect(A.node.services.store.region.peers()).toHaveLength(0);
    expect(B.node.services.store.region.peers()).toHaveLength(0);

    const good = await accept(B, 'alpha', code);
    expect(good.status).toBe(200);
    expect(good.text).toContain('Paired with alpha.');
    expect(A.node.services.store.region.peers().map((p) => p.name)).toEqual(['bravo']);
    expect(B.node.services.store.region.peers().map((p) => p.name)).toEqual(['alpha']);
    // Each kept the other's real key: the ids name the keys.
    expect(A.node.services.store.region.peers()[0]!.publicKey).toBe(B.node.services.region.identity.publicKey);
    // A used code does not work twice.
    // The code worked once: the offer on A and the request on B are gone.
    expect(A.node.services.region.pairing.offers()).toHaveLength(0);
    expect(B.node.services.region.pairing.requests()).toHaveLength(0);
    const actions = A.node.services.store.audit.page({ limit: 50 }).map((e) => `${e.action} ${e.outcome}`);
    expect(actions).toEqual(expect.arrayContaining(['region.pair.offer ok', 'region.pair.confirm denied', 'region.pair.confirm ok']));
  });

  it('an expired code fails', async () => {
    const code = await offer(A, C);
    // Eleven minutes later on A: the pairing is over.
    A.node.clock.advance(11 * 60_000);
    const res = await accept(C, 'alpha', code);
    A.node.clock.advance(-11 * 60_000);
    expect(res.status).toBe(400);
    expect(res.text).toContain('expired');
    expect(C.node.services.store.region.peers()).toHaveLength(0);
  });

  it('an unpaired node learns nothing: its signed requests are refused, and a replayed request too', async () => {
    const pathname = '/region/peer/status';
    const fromC = signedHeaders(C.node.services.region.identity, A.node.services.region.identity.id, 'GET', pathname, '', Date.now());
    const refused = await fetch(`${A.url}${pathname}`, { headers: fromC });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: 'refused' });
    const opds = await fetch(`${A.url}/region/peer/opds`, { headers: fromC });
    expect(opds.status).toBe(403);

    // B is paired with A: its request is answered once, and the same request replayed is refused.
    const fromB = signedHeaders(B.node.services.region.identity, A.node.services.region.identity.id, 'GET', pathname, '', Date.now());
    expect((await fetch(`${A.url}${pathname}`, { headers: fromB })).status).toBe(200);
    expect((await fetch(`${A.url}${pathname}`, { headers: fromB })).status).toBe(403);
    const refusals = A.node.services.store.audit.page({ limit: 20, action: 'region.peer.refused' });
    expect(refusals.map((e) => e.detail ?? '')).toEqual(expect.arrayContaining([expect.stringContaining('not paired'), expect.stringContaining('replayed')]));
  });

  it('the region page lists the paired nodes’ apps and books; a stopped node shows its last copy and its age; back, it is live again', async () => {
    // Pair A with C by a pairing link (as for a node off this LAN).
    const { agent, csrf } = await loggedIn(A.node);
    const made = await agent.post('/region/pair').type('form').send({ _csrf: csrf }).expect(200);
    const link = /id="pair-link" value="([^"]+)"/.exec(made.text)![1]!;
    const onC = await loggedIn(C.node);
    const paired = await onC.agent.post('/region/pair-link').type('form').send({ _csrf: onC.csrf, link });
    expect(paired.text).toContain('Paired with alpha.');

    await A.node.services.region.pollAll();
    const guest = { username: 'visitor', password: 'visitor password 1' };
    await A.node.services.people.add({ ...guest, role: 'guest' });
    const asGuest = await loggedIn(A.node, guest.username, guest.password);
    const page = (await asGuest.agent.get('/region').expect(200)).text;
    for (const text of ['bravo', 'charlie', 'kiwix.bravo.test', 'pad.bravo.test', 'hedgedoc', 'wikipedia_en_medicine_maxi_2026-01', 'wikipedia_fr_all_nopic_2025-11', 'kiwix.charlie.test']) expect(page).toContain(text);
    expect(page).toMatch(/data-peer="bravo">[\s\S]*?data-reachable="yes"/);
    expect(page).not.toContain('Pair with'); // a guest sees no pairing controls

    await close(B);
    A.node.clock.advance(5 * 60_000);
    await A.node.services.region.pollAll();
    const down = (await asGuest.agent.get('/region/peers').expect(200)).text;
    expect(down).toMatch(/data-peer="bravo">[\s\S]*?data-reachable="no"[\s\S]*?showing its copy from 5 minutes ago/);
    expect(down).toContain('wikipedia_en_medicine_maxi_2026-01'); // the kept copy
    expect(down).toMatch(/data-peer="charlie">[\s\S]*?data-reachable="yes"/);

    await listen(B);
    A.node.clock.advance(-5 * 60_000);
    await A.node.services.region.pollAll();
    const back = (await asGuest.agent.get('/region/peers').expect(200)).text;
    expect(back).toMatch(/data-peer="bravo">[\s\S]*?data-reachable="yes"/);
  });
});
