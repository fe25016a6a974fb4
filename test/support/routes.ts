// Lists every route registered on the Express app, by walking its router stack (all routers mount at '/').
import type { Express } from 'express';

export type RouteInfo = { method: string; path: string };

type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };

function walk(stack: Layer[], out: RouteInfo[]): void {
  for (const layer of stack) {
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods)) if (on) out.push({ method: method.toUpperCase(), path: layer.route.path });
    } else if (layer.handle?.stack) {
      walk(layer.handle.stack, out);
    }
  }
}

export function listRoutes(app: Express): RouteInfo[] {
  const out: RouteInfo[] = [];
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, out);
  return out;
}

/** A concrete URL for a route pattern: `:id`-style parameters become their value in `params`, or 1. */
export const concretePath = (pattern: string, params: Record<string, string> = {}) => pattern.replace(/:([a-zA-Z]+)/g, (_, name: string) => params[name] ?? '1');

/** The names of a route pattern's parameters (`/apps/:stack/stop` → ['stack']). */
export const routeParams = (pattern: string): string[] => [...pattern.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1]!);
