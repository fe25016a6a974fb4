// The stand-alone mDNS responder (cli.js mdns, recipe/compose.mdns.yml) answers for names shaped like this node's
// app names, and the node may send `.local` requests to Traefik over https (the recipe's upstream).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { anyLocalNameOf, localNameOf } from '../../app/services/region/region.ts';

describe('names the stand-alone responder answers', () => {
  const mine = anyLocalNameOf('library');

  it('every <label>-<node>.local, the names the node gives its apps', () => {
    expect(mine(localNameOf('kiwix.example.org', 'library'))).toBe(true);
    expect(mine('wiki-fr-library.local')).toBe(true);
    expect(mine('KIWIX-Library.local')).toBe(true);
  });

  it('nothing else: other nodes’ names, the bare node name, other domains, empty labels', () => {
    for (const name of ['kiwix-otherlibrary.local', 'kiwix-other.local', 'library.local', '-library.local', 'kiwix-library.local.evil', 'kiwix-library.lan', 'a.kiwix-library.local']) {
      expect(mine(name), name).toBe(false);
    }
  });
});

describe('LOCAL_NAMES_UPSTREAM', () => {
  it('takes http and https (Traefik’s https entrypoint), nothing else', () => {
    expect(loadConfig({ LOCAL_NAMES_UPSTREAM: 'https://192.168.1.10:443/' }).region.localNamesUpstream).toBe('https://192.168.1.10:443');
    expect(loadConfig({}).region.localNamesUpstream).toBe('http://127.0.0.1:80');
    expect(() => loadConfig({ LOCAL_NAMES_UPSTREAM: 'ftp://192.168.1.10' })).toThrow(/LOCAL_NAMES_UPSTREAM/);
  });
});
