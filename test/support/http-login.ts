// Logging in to a node running as its own process, the way a browser does it, with fetch.

/** The value of cookie `name` among a response's Set-Cookie headers (undefined if not set). */
export function cookieFrom(res: Response, name: string): string | undefined {
  for (const header of res.headers.getSetCookie()) {
    const first = header.split(';')[0] ?? '';
    const eq = first.indexOf('=');
    if (eq > 0 && first.slice(0, eq).trim() === name) return first.slice(eq + 1).trim();
  }
  return undefined;
}

export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error(`no CSRF token in page:\n${html.slice(0, 500)}`);
  return m[1];
}

/** Logs in with the pre-login CSRF cookie and form token; returns the session cookie header and its CSRF token. */
export async function loginOverHttp(baseUrl: string, username: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const page = await fetch(`${baseUrl}/login`, { redirect: 'manual' });
  const prelogin = cookieFrom(page, 'lores_csrf');
  const res = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `lores_csrf=${prelogin}` },
    body: new URLSearchParams({ _csrf: csrfFrom(await page.text()), username, password, next: '/' }),
  });
  const session = cookieFrom(res, 'lores_session');
  if (res.status !== 303 || !session) throw new Error(`login as ${username} failed: ${res.status}`);
  const cookie = `lores_session=${session}`;
  const account = await fetch(`${baseUrl}/account`, { headers: { cookie } });
  return { cookie, csrf: csrfFrom(await account.text()) };
}

/** A form POST with the session cookie and CSRF token; redirects are not followed. */
export function postForm(baseUrl: string, path: string, auth: { cookie: string; csrf: string }, form: Record<string, string>): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: auth.cookie },
    body: new URLSearchParams({ _csrf: auth.csrf, ...form }),
  });
}
