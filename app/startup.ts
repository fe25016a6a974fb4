// What happens once before the node serves pages: first admin, bundled recipes, abra, live state, cut-off jobs.
import type { Wiring } from './services/index.ts';
import { installBundledRecipes } from './adapters/recipes/checkout.ts';
import { describeLiveState } from './services/apps.ts';

export async function startServices(services: Wiring): Promise<void> {
  const { config, log } = services;
  const boot = await services.people.bootstrap(config.adminPassword);
  if (boot.createdAdmin) log.info('created the first admin (username "admin") from ADMIN_PASSWORD_FILE');
  if (boot.setupToken) {
    log.warn({ setupToken: boot.setupToken }, `first run: open /setup and enter this setup token: ${boot.setupToken}`);
  }
  services.auditRetention.start(); // now, then daily
  await installBundledRecipes(config.bundledRecipesDir, config.abraDir, (msg) => log.info(msg)).catch((err: Error) =>
    log.error({ err: err.message }, 'could not install the bundled recipes'),
  );
  const abra = await services.lifecycle.checkAbra();
  if (abra.ok) log.info({ abra: abra.version }, 'abra is ready');
  else log.warn({ problem: abra.problem }, 'abra is not usable: app lifecycle pages will say so');
  try {
    await services.self.adopt();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'could not write the node’s own env file: it cannot upgrade itself');
  }
  // After abra's check (which makes the server directory) and the node's own env file: the config repository laptops share.
  await services.configRepo.init().catch((err: Error) => log.error({ err: err.message }, 'could not open the config repository: laptops cannot pull or push'));
  services.configRemote.start(10); // every 10 minutes, when an admin has set a remote
  // The CPU is read once, so the first catalogue page can already say what runs here.
  await services.archFit.node().catch((err: Error) => log.warn({ err: err.message }, 'could not read this node’s CPU from Docker'));
  services.catalogue.start(); // refreshes in the background; pages show the last copy meanwhile
  await services.model.start(); // marks itself stale and keeps retrying when Docker is down
  // The node's own upgrade, if one was under way, is finished here; other cut-off jobs are marked interrupted.
  const continued = services.self.continueCutOff(services.jobHistory.unfinished());
  const interrupted = services.jobs.recover((job) => describeLiveState(services, job.app), (job) => continued.has(job.id));
  if (interrupted.length) log.warn({ jobs: interrupted.map((j) => j.id) }, 'jobs interrupted by the last stop were marked so');
  services.region.start(); // polls paired nodes; mDNS when LAN_ADDRESS is set
  void services.backups.releaseLocksAfterRestart(interrupted); // restic's lock of a backup the stop cut off
  services.backupSchedule.start(); // daily backups; today's run, if its hour is now and it has not run, starts now
  const resumed = services.zims.downloads.resumeAfterRestart();
  if (resumed.length) log.info({ jobs: resumed.map((j) => j.id) }, 'ZIM downloads cut off by the last stop go on');
}
