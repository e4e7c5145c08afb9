/**
 * The web view's server (node:http): the page's few hand-written files and one server-sent event
 * stream (/events) fed by a ViewFeed. It binds 127.0.0.1 unless told otherwise, answers GET only,
 * serves nothing but the files named in ASSETS (no path ever reaches the file system), and refuses
 * a request whose Host header is not the address it is bound to: a web page elsewhere cannot
 * point a DNS name at 127.0.0.1 and read the stream through the user's browser (DNS rebinding).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { formatEndpoint } from '../../wire/address.js';
import type { ViewEvent, ViewFeed } from './view-feed.js';
import { ipFamily } from '../../wire/compact.js';

/** URL path -> file in the package's web/ folder, and its type. Nothing else is ever served. */
const ASSETS: Readonly<Record<string, readonly [file: string, type: string]>> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/view.css': ['view.css', 'text/css; charset=utf-8'],
  '/view.js': ['view.js', 'text/javascript; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
};
/** The page may load only from us: no CDN, no font, no request elsewhere. */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};
const MAX_STREAMS = 16;
const KEEPALIVE_MS = 15_000;

/**
 * Where the page's files are: web/ at the package root, the nearest folder above this module that
 * has web/index.html (two up from src/cli/web/ and from dist/cli/web/; more from a compiled copy
 * such as the examples' build).
 */
export const ASSETS_DIR = findAssets(new URL('./', import.meta.url));

function findAssets(from: URL): URL {
  for (let up = 2, dir = new URL('../../', from); up <= 8; up++, dir = new URL('../', dir)) {
    if (existsSync(new URL('web/index.html', dir))) return new URL('web/', dir);
  }
  return new URL('../../../web/', from);
}

export interface ViewServerOptions {
  /** Address to bind. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 (the default) takes any free one. */
  port?: number;
}

export class ViewServer {
  private readonly streams = new Set<ServerResponse>();
  private readonly keepalive: NodeJS.Timeout;

  private constructor(
    private readonly server: Server,
    private readonly feed: ViewFeed,
    readonly host: string,
    readonly port: number,
  ) {
    this.keepalive = setInterval(() => { for (const stream of this.streams) stream.write(': keepalive\n\n'); }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** Listen, and serve `feed`. Rejects if the address cannot be bound. */
  static async start(feed: ViewFeed, options: ViewServerOptions = {}): Promise<ViewServer> {
    const host = options.host ?? '127.0.0.1';
    let view: ViewServer | undefined;
    const server = createServer((request, response) => view?.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => { server.off('error', reject); resolve(); });
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    view = new ViewServer(server, feed, host, port);
    return view;
  }

  /** The page's address, to print. */
  get url(): string {
    return `http://${formatEndpoint({ address: this.host, port: this.port })}/`;
  }

  async close(): Promise<void> {
    clearInterval(this.keepalive);
    for (const stream of this.streams) stream.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    if (request.method !== 'GET') return refuse(response, 405, 'only GET', { Allow: 'GET' });
    if (!this.hostAllowed(request.headers.host)) return refuse(response, 421, 'unexpected Host header');
    const path = (request.url ?? '').split('?')[0]!;
    if (path === '/events') return this.stream(response);
    const asset = Object.hasOwn(ASSETS, path) ? ASSETS[path] : undefined;
    if (asset === undefined) return refuse(response, 404, 'not found');
    readFile(new URL(asset[0], ASSETS_DIR)).then(
      (body) => {
        response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': asset[1], 'Content-Length': body.length });
        response.end(body);
      },
      () => refuse(response, 500, 'asset missing'),
    );
  }

  /**
   * The Host header must name the address we are bound to, with our port. Bound to a wildcard
   * (0.0.0.0, ::), any IP literal with our port will do, but never a name: DNS rebinding needs one.
   */
  private hostAllowed(header: string | undefined): boolean {
    if (header === undefined) return false;
    const wildcard = this.host === '0.0.0.0' || this.host === '::';
    if (!wildcard) return header === formatEndpoint({ address: this.host, port: this.port });
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d+)$/.exec(header);
    if (match === null || Number(match[3]) !== this.port) return false;
    return ipFamily(match[1] ?? match[2] ?? '') !== 0;
  }

  private stream(response: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) return refuse(response, 503, 'too many viewers');
    response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    response.write(': dht-scrape view\n\n');
    this.streams.add(response);
    const send = (event: ViewEvent): void => { response.write(`data: ${JSON.stringify(event)}\n\n`); };
    const unsubscribe = this.feed.subscribe(send);
    response.on('close', () => {
      unsubscribe();
      this.streams.delete(response);
    });
  }
}

function refuse(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
  response.end(`${text}\n`);
}
