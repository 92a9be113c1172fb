// What every request passes before a route sees it: a bounded URL, no '..' anywhere in its path or
// query however it is encoded (a 404, the same answer as a file that does not exist), and, when the
// server listens off loopback, the access token (header, cookie or ?token=, compared in constant time).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const MAX_URL_LENGTH = 4096;
export const MAX_BODY_BYTES = 64 * 1024;
export const TOKEN_COOKIE = 'kep_token';

/** The URL decoded until it stops changing (at most 4 rounds: %252e%252e is '..' twice encoded). */
export function decodeRepeatedly(url: string): string {
  let s = url;
  for (let i = 0; i < 4; i++) {
    let next: string;
    try {
      next = decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
    if (next === s) break;
    s = next;
  }
  return s;
}

/** True for a URL that names a parent folder, a backslash path or a NUL byte, in any encoding. */
export function climbs(url: string): boolean {
  const d = decodeRepeatedly(url);
  return d.includes('..') || d.includes('\\') || d.includes('\0');
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function presentedToken(req: FastifyRequest): { token: string | undefined; fromQuery: boolean } {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return { token: auth.slice(7), fromQuery: false };
  const q = new URL(req.url, 'http://x').searchParams.get('token');
  if (q !== null) return { token: q, fromQuery: true };
  return { token: cookieValue(req.headers.cookie, TOKEN_COOKIE), fromQuery: false };
}

export function installGuards(app: FastifyInstance, token: string | undefined): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.url.length > MAX_URL_LENGTH)
      return reply.code(414).send({ error: `URL longer than ${MAX_URL_LENGTH} characters` });
    if (climbs(req.url)) return reply.code(404).send({ error: 'not found' });
    if (token === undefined) return;
    const presented = presentedToken(req);
    if (!sameToken(presented.token, token))
      return reply
        .code(401)
        .send({ error: 'this server needs its access token (?token=… or Authorization: Bearer …)' });
    // The page's own requests (tiles, fetches) then carry the token as a cookie.
    if (presented.fromQuery)
      reply.header('set-cookie', `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
  });
}
