import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeLimits } from '../../config.js';
import { validateParams } from '../../pipeline/params.js';
import { settleBy, type BotDeps, type RunningBot } from '../deps.js';
import { friendlyError } from '../texts.js';
import { loadAssets, loadSample, renderPage } from './page.js';
import { StylePreviews } from './previews.js';
import { route, type Site } from './routes.js';

export interface RunningWeb extends RunningBot {
  /** Where the page is, e.g. http://127.0.0.1:8080/ */
  url: string;
}

/** "Try every style" pictures: small, so eight styles take a few seconds rather than a minute. */
const GRID_CELL_SIDE = 320;

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

/**
 * The third adapter: a page that does what the chats do (send a photo, see the queue position, get the
 * picture, try another style), over the same queue, originals store, texts and limits, with the visitor's
 * address as the user. `stop(deadline)` stops taking connections and lets the answers in flight finish.
 */
export async function startWebAdapter(deps: BotDeps): Promise<RunningWeb> {
  const { config, queue, originals } = deps;
  const logger = deps.logger.child({ platform: 'web' });
  const defaults = validateParams({ style: config.pipeline.defaultStyle });
  const limits = decodeLimits(config);
  const site: Site = {
    page: await renderPage(defaults, limits.maxBytes),
    assets: await loadAssets(),
    previews: new StylePreviews(queue, await loadSample(), defaults, logger),
    paint: { queue, originals, logger, defaults, limits, gridCellSide: GRID_CELL_SIDE },
    password: config.web.password,
  };

  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const task = route(site, req, res).catch((e: unknown) => {
      const err = e instanceof Error ? { name: e.name, message: e.message } : String(e);
      // A visitor who closed the tab mid-upload is no fault of ours.
      if (req.destroyed) logger.info({ err, path: req.url?.split('?')[0] }, 'web: visitor left during the request');
      else logger.error({ err, path: req.url?.split('?')[0] }, 'web: request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${friendlyError(e)}\n`);
      else res.end();
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.web.port, config.web.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = urlOf(config.web.host, (server.address() as AddressInfo).port);
  logger.info({ url, auth: config.web.password ? 'basic' : 'none' }, `web page on ${url}`);

  let stopped = false;
  return {
    url,
    async stop(deadline = Infinity) {
      if (stopped) return;
      stopped = true;
      server.close();
      server.closeIdleConnections();
      const drain = (async () => {
        while (inFlight.size) await Promise.allSettled([...inFlight]);
      })();
      if ((await settleBy(drain, deadline)) === 'late') logger.warn({ unanswered: inFlight.size }, 'web: stopping with answers still open');
      server.closeAllConnections();
      logger.info('web page stopped');
    },
  };
}
