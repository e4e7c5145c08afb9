/** The live view's event stream (/events, server-sent events) read by tests, as a page reads it. */
import { request } from 'node:http';
import type { ViewEvent } from '../../src/cli/web/view-feed.js';

/** Read the event stream until `until` says stop (or `ms` pass); returns the events read. */
export function readEvents(port: number, until: (events: ViewEvent[]) => boolean, ms = 20_000): Promise<ViewEvent[]> {
  return new Promise((resolve, reject) => {
    const events: ViewEvent[] = [];
    const req = request({ host: '127.0.0.1', port, path: '/events', headers: { host: `127.0.0.1:${port}` } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith('data: ')) events.push(JSON.parse(block.slice(6)) as ViewEvent);
        }
        if (until(events)) { clearTimeout(timer); req.destroy(); resolve(events); }
      });
    });
    const timer = setTimeout(() => { req.destroy(); resolve(events); }, ms);
    req.on('error', (error) => { if (!req.destroyed) reject(error); });
    req.end();
  });
}
