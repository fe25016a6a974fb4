// An in-memory model of the swarm (services, tasks, nodes), kept current by Docker's event stream.
// Pages read this model only: no Docker call per page view.
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from '../../log.ts';
import { STACK_LABEL } from './labels.ts';
import { isConverging, toNode, toService, type NodeState, type RawNode, type RawService, type RawTask, type ServiceState } from './swarm-mapping.ts';

export type { NodeState, ServiceState, TaskFailure, TaskState } from './swarm-mapping.ts';

export type RecentEvent = { at: number; service: string; what: string };
const RECENT_PER_STACK = 20;

export type ModelStatus = { stale: boolean; since: number | null; error: string | null; syncedAt: number | null };

type DockerEvent = { Type: string; Action: string; Actor: { ID: string; Attributes?: Record<string, string> } };

// Healthchecks fire exec_* events every interval; they never change what we show.
const IGNORED_ACTIONS = /^exec_/;
// Swarm reports task state changes late and without events of their own (API 1.41): while a service
// converges, re-read it a little later, a bounded number of times; every new event restarts the count.
const FOLLOW_UP_MS = 400;
const MAX_FOLLOW_UPS = 50;
const PING_EVERY_MS = 10_000;
// A targeted re-read that fails while Docker still answers its ping is tried again this often, this many times.
const REREAD_RETRY_MS = 1000;
const REREAD_RETRIES = 3;

export class LiveModel extends EventEmitter<{ change: [stacks: Set<string | null>]; status: [ModelStatus] }> {
  readonly services = new Map<string, ServiceState>();
  readonly nodes = new Map<string, NodeState>();
  /** The last few things that happened to each stack, newest last, for the app page. */
  readonly recent = new Map<string, RecentEvent[]>();
  status: ModelStatus = { stale: true, since: Date.now(), error: 'not yet synced', syncedAt: null };
  /** How the model stayed current: full reads vs re-reads of single services named by events. */
  readonly stats = { fullSyncs: 0, serviceRereads: 0 };
  /** Goes up with every change and status announced, so what is derived from the model can be kept until it moves. */
  #version = 0;
  get version(): number {
    return this.#version;
  }

  #docker: Docker;
  #log: Logger;
  #events: Readable | null = null;
  #stopped = false;
  #retryMs = 250;
  #retryTimer: NodeJS.Timeout | null = null;
  #pendingServices = new Set<string>();
  #pendingNodes = false;
  #flushTimer: NodeJS.Timeout | null = null;
  #flushing = false;
  #rereadRetries = 0;
  #health = new Map<string, string>(); // containerId → health status, from events
  #followUps = new Map<string, number>(); // serviceId → re-reads done while it converges
  // One timer per service: a service that never converges backs off to 5 s without delaying the others.
  #followUpTimers = new Map<string, NodeJS.Timeout>();
  #pingTimer: NodeJS.Timeout | null = null;

  constructor(docker: Docker, log: Logger) {
    super();
    this.#docker = docker;
    this.#log = log;
  }

  /** Subscribe to events first, then read everything, so no change falls between the two. */
  async start(): Promise<void> {
    this.#stopped = false;
    try {
      await this.#subscribe();
      await this.resync();
      this.#retryMs = 250;
      this.#setStatus({ stale: false, since: null, error: null, syncedAt: Date.now() });
      this.#watchDaemon();
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    for (const timer of this.#followUpTimers.values()) clearTimeout(timer);
    this.#followUpTimers.clear();
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#events?.destroy();
    this.#events = null;
  }

  /** One full read of services, tasks and nodes. */
  async resync(): Promise<void> {
    const [services, tasks, nodes] = await Promise.all([
      this.#docker.listServices() as unknown as Promise<RawService[]>,
      this.#docker.listTasks() as unknown as Promise<RawTask[]>,
      this.#docker.listNodes() as unknown as Promise<RawNode[]>,
    ]);
    const live = new Set(tasks.map((t) => t.Status.ContainerStatus?.ContainerID).filter(Boolean));
    for (const id of this.#health.keys()) if (!live.has(id)) this.#health.delete(id);
    await this.#readHealth(tasks);
    const byService = Map.groupBy(tasks, (t) => t.ServiceID);
    const changed = new Set<string | null>();
    const seen = new Set<string>();
    for (const s of services) {
      seen.add(s.ID);
      const next = this.#toService(s, byService.get(s.ID) ?? []);
      if (JSON.stringify(this.services.get(s.ID)) !== JSON.stringify(next)) changed.add(next.stack);
      this.services.set(s.ID, next);
      this.#forgetFollowUps(s.ID);
      if (this.#converging(next)) this.#followUp(s.ID);
    }
    for (const [id, s] of this.services) {
      if (!seen.has(id)) {
        this.services.delete(id);
        this.#forgetFollowUps(id);
        changed.add(s.stack);
      }
    }
    this.#setNodes(nodes);
    this.stats.fullSyncs += 1;
    this.#version += 1;
    this.emit('change', changed);
  }

  /** Re-reads a stack's services soon, e.g. while a deploy is watched: swarm reports task failures without events. */
  refresh(stack: string): void {
    if (this.#stopped || this.status.stale) return;
    for (const [id, s] of this.services) if (s.stack === stack) this.#pendingServices.add(id);
    if (this.#pendingServices.size) this.#flushTimer ??= setTimeout(() => void this.#flush(), 0);
  }

  async #subscribe(): Promise<void> {
    // Forget the old stream before destroying it: its 'close' must not count as losing the new one.
    const old = this.#events;
    this.#events = null;
    old?.destroy();
    const stream = (await this.#docker.getEvents({
      filters: { type: ['service', 'container', 'node'] },
    })) as unknown as Readable & { socket?: { setTimeout(ms: number): unknown } };
    // The client's request timeout would otherwise cut this long-lived stream whenever the swarm is quiet.
    stream.socket?.setTimeout(0);
    this.#events = stream;
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) this.#onEvent(line);
      }
    });
    const lost = (why: string) => {
      if (this.#events !== stream || this.#stopped) return;
      this.#events = null;
      this.#fail(new Error(why));
    };
    stream.on('error', (err) => lost(`event stream failed: ${err.message}`));
    stream.on('end', () => lost('event stream ended'));
    stream.on('close', () => lost('event stream closed'));
  }

  #onEvent(line: string): void {
    let ev: DockerEvent;
    try {
      ev = JSON.parse(line) as DockerEvent;
    } catch {
      return;
    }
    if (IGNORED_ACTIONS.test(ev.Action)) return;
    const attrs = ev.Actor.Attributes ?? {};
    this.#remember(ev, attrs);
    if (ev.Type === 'service') {
      this.#forgetFollowUps(ev.Actor.ID);
      this.#pendingServices.add(ev.Actor.ID);
    } else if (ev.Type === 'container' && attrs['com.docker.swarm.service.id']) {
      const serviceId = attrs['com.docker.swarm.service.id'];
      if (ev.Action.startsWith('health_status')) {
        const health = ev.Action.split(': ')[1] ?? 'unknown';
        if (this.#health.get(ev.Actor.ID) === health) return; // repeated result of the same check
        this.#health.set(ev.Actor.ID, health);
      }
      this.#forgetFollowUps(serviceId);
      this.#pendingServices.add(serviceId);
    } else if (ev.Type === 'node') {
      this.#pendingNodes = true;
    } else {
      return;
    }
    // Coalesce bursts (a deploy fires dozens of events) into one re-read per service.
    this.#flushTimer ??= setTimeout(() => void this.#flush(), 30);
  }

  #remember(ev: DockerEvent, attrs: Record<string, string>): void {
    let stack: string | undefined;
    let service: string | undefined;
    let what: string | undefined;
    if (ev.Type === 'service') {
      service = attrs.name ?? this.services.get(ev.Actor.ID)?.name;
      stack = this.services.get(ev.Actor.ID)?.stack ?? undefined;
      what = `service ${ev.Action}`;
    } else if (ev.Type === 'container' && /^(start|die|oom|kill|health_status)/.test(ev.Action)) {
      stack = attrs[STACK_LABEL];
      service = attrs['com.docker.swarm.service.name'];
      const exit = ev.Action === 'die' && attrs.exitCode ? ` (exit code ${attrs.exitCode})` : '';
      what = `container ${ev.Action.replace('health_status: ', 'health: ')}${exit}`;
    }
    if (!stack || !service || !what) return;
    const list = this.recent.get(stack) ?? [];
    list.push({ at: Date.now(), service, what });
    if (list.length > RECENT_PER_STACK) list.shift();
    this.recent.set(stack, list);
  }

  async #flush(): Promise<void> {
    this.#flushTimer = null;
    // One flush at a time: two overlapping could apply an older read after a newer one. The running one starts
    // another for what was asked meanwhile.
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      await this.#flushPending();
    } finally {
      this.#flushing = false;
      if (!this.#stopped && (this.#pendingServices.size || this.#pendingNodes)) this.#flushTimer ??= setTimeout(() => void this.#flush(), 0);
    }
  }

  async #flushPending(): Promise<void> {
    const ids = [...this.#pendingServices];
    const nodes = this.#pendingNodes;
    this.#pendingServices.clear();
    this.#pendingNodes = false;
    const changed = new Set<string | null>();
    try {
      // Read everything first, then change the model in one synchronous step with its version: a reader must never
      // see a service's new state under the old version (a page kept under that version would then never change).
      const read = await Promise.all(ids.map(async (id) => ({ id, next: await this.#readService(id) })));
      const nodeList = nodes ? ((await this.#docker.listNodes()) as unknown as RawNode[]) : undefined;
      for (const { id, next } of read) this.#applyService(id, next, changed);
      if (nodeList) this.#setNodes(nodeList);
      if (changed.size || nodes) {
        this.#version += 1;
        this.emit('change', changed);
      }
      this.#rereadRetries = 0;
    } catch (err) {
      // One slow or cut-off answer from a daemon that still answers (a Pi busy with a download) is asked again
      // shortly, not taken for Docker going away: that would flag every page stale and read the whole swarm again.
      if (this.#rereadRetries < REREAD_RETRIES && !this.#stopped && (await this.#docker.ping().then(() => true, () => false))) {
        this.#rereadRetries += 1;
        for (const id of ids) this.#pendingServices.add(id);
        this.#pendingNodes ||= nodes;
        this.#flushTimer ??= setTimeout(() => void this.#flush(), REREAD_RETRY_MS);
        return;
      }
      this.#log.warn({ err: (err as Error).message }, 'targeted re-read failed; resyncing');
      this.#rereadRetries = 0;
      this.#fail(err as Error);
    }
  }

  /** A service as Docker has it now; null once it is gone. */
  async #readService(id: string): Promise<ServiceState | null> {
    let raw: RawService;
    try {
      raw = (await this.#docker.getService(id).inspect()) as RawService;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
    const tasks = (await this.#docker.listTasks({ filters: { service: [id] } })) as unknown as RawTask[];
    await this.#readHealth(tasks);
    this.stats.serviceRereads += 1;
    return this.#toService(raw, tasks);
  }

  #applyService(id: string, next: ServiceState | null, changed: Set<string | null>): void {
    if (!next) {
      const old = this.services.get(id);
      this.#forgetFollowUps(id);
      if (old) {
        this.services.delete(id);
        changed.add(old.stack);
      }
      return;
    }
    // Only a real difference is a change: re-reads while a service converges often find nothing new.
    if (JSON.stringify(this.services.get(id)) !== JSON.stringify(next)) changed.add(next.stack);
    this.services.set(id, next);
    if (this.#converging(next)) this.#followUp(id);
    else this.#forgetFollowUps(id);
  }

  #converging(s: ServiceState): boolean {
    return isConverging(s);
  }

  #followUp(id: string): void {
    if (this.#stopped) return;
    const done = this.#followUps.get(id) ?? 0;
    if (done >= MAX_FOLLOW_UPS) return;
    this.#followUps.set(id, done + 1);
    // Soon at first, then less often: a crash-looping service should not be re-read every 400 ms for long.
    const delay = Math.min(FOLLOW_UP_MS * 2 ** Math.floor(done / 5), 5000);
    clearTimeout(this.#followUpTimers.get(id));
    const timer = setTimeout(() => {
      this.#followUpTimers.delete(id);
      this.#pendingServices.add(id);
      this.#flushTimer ??= setTimeout(() => void this.#flush(), 0);
    }, delay);
    this.#followUpTimers.set(id, timer);
  }

  /** A new event (or a settled or vanished service) starts its follow-ups afresh: count and pending timer. */
  #forgetFollowUps(id: string): void {
    this.#followUps.delete(id);
    const timer = this.#followUpTimers.get(id);
    if (timer) clearTimeout(timer);
    this.#followUpTimers.delete(id);
  }

  /** Health lives on containers, not tasks: inspect running local containers we have not heard about yet. */
  async #readHealth(tasks: RawTask[]): Promise<void> {
    const unknown = tasks.filter((t) => t.Status.State === 'running' && t.Status.ContainerStatus?.ContainerID && !this.#health.has(t.Status.ContainerStatus.ContainerID));
    await Promise.all(
      unknown.map(async (t) => {
        const id = t.Status.ContainerStatus!.ContainerID!;
        try {
          const info = (await this.#docker.getContainer(id).inspect()) as { State?: { Health?: { Status?: string } } };
          this.#health.set(id, info.State?.Health?.Status ?? 'none');
        } catch {
          // The container runs on another swarm node, or is already gone: health unknown here.
        }
      }),
    );
  }

  #toService(s: RawService, tasks: RawTask[]): ServiceState {
    return toService(s, tasks, (cid) => this.#health.get(cid));
  }

  #setNodes(nodes: RawNode[]): void {
    this.nodes.clear();
    for (const n of nodes) this.nodes.set(n.ID, toNode(n));
  }

  /** A daemon that hangs without closing the event stream is only noticed by asking it now and then. */
  #watchDaemon(): void {
    if (this.#pingTimer) return;
    this.#pingTimer = setInterval(() => {
      if (this.status.stale) return;
      this.#docker.ping().catch((err: Error) => this.#fail(new Error(`Docker does not answer: ${err.message}`)));
    }, PING_EVERY_MS);
    this.#pingTimer.unref();
  }

  /** Mark the model stale and reconnect with backoff (250 ms doubling to 2 s), then resync fully. */
  #fail(err: Error): void {
    if (this.#stopped) return;
    if (!this.status.stale) this.#log.warn({ err: err.message }, 'live state is stale; reconnecting to Docker');
    this.#setStatus({ stale: true, since: this.status.since ?? Date.now(), error: err.message, syncedAt: this.status.syncedAt });
    if (this.#retryTimer) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, 2000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.start();
    }, delay);
  }

  #setStatus(status: ModelStatus): void {
    const was = this.status;
    this.status = status;
    if (was.stale !== status.stale || was.error !== status.error) {
      this.#version += 1;
      this.emit('status', status);
    }
  }
}
