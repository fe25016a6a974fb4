// Starts the node: reads config, opens the store, connects to Docker, and listens.
// First: keeps dockerode's unused SSH and gRPC code out of memory (see the module).
import './adapters/docker/lean-load.ts';
import { once } from 'node:events';
import { ConfigError, loadConfig } from './config.ts';
import { createDocker } from './adapters/docker/client.ts';
import { createLogger } from './log.ts';
import { createStore } from './store/index.ts';
import { buildServices, createApp } from './app.ts';
import { startServices } from './startup.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`lores-node: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const store = createStore(config.dataDir);
  const services = buildServices({ config, store, docker: createDocker(config.dockerSocket), log });

  await startServices(services);
  const sweep = setInterval(() => services.sessions.sweep(), 10 * 60_000);
  sweep.unref();

  const server = createApp(services).listen(config.port, config.host);
  await once(server, 'listening');
  log.info({ host: config.host, port: config.port, dataDir: config.dataDir }, `LoRes Node listening on http://${config.host}:${config.port}`);

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    services.jobs.abortAll();
    services.model.stop();
    services.region.stop();
    services.catalogue.stop();
    server.close(() => {
      store.close();
      process.exit(0);
    });
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  // One failed background task (a live update, a refresh) must not take every steward's node down: log it, go on.
  process.on('unhandledRejection', (err) => log.error({ err: err instanceof Error ? err.stack : String(err) }, 'a background task failed'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await main();
