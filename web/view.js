// dht-scrape live view: draws what the server streams at /events (server-sent events, JSON).
// Plain browser JavaScript, no library: the routing table as a tree of buckets, one lookup at a
// time in XOR space with a replay slider, and a crawl's rate, top list and ID-space spread.
// Text from the network (torrent names) only ever goes through textContent.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

/** An SVG element with attributes, appended to parent when given. */
function svg(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  if (parent) parent.appendChild(el);
  return el;
}

function text(parent, x, y, content, attrs) {
  const el = svg('text', { x, y, ...(attrs || {}) }, parent);
  el.textContent = content;
  return el;
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

const hopClass = (hop) => `hop${Math.min(hop, 5)}`;

// ---- the routing table ----

let knownContacts = new Set();
let knownBuckets = 0;
/** Where each bucket was drawn last time, by prefix: a split is drawn from its parent's place. */
let lastLayout = new Map();
/** Splits seen since the page opened, and bucket elements animated out of a parent (the tree's
 * data-splits and data-split-animations, read by the browser test). */
let splitsSeen = 0;
let splitAnimations = 0;

/** The deepest bucket of the last drawing whose prefix `prefix` extends: the bucket it split from. */
function splitParent(prefix) {
  if (lastLayout.has(prefix)) return undefined;
  let parent;
  for (const old of lastLayout.keys()) {
    if (prefix.startsWith(old) && (parent === undefined || old.length > parent.length)) parent = old;
  }
  return parent;
}

/**
 * A bucket that split (BEP 5: the bucket holding our own ID splits in two when full) is drawn
 * where its parent was, then slides and grows into its own place, while the parent's frame fades.
 */
function animateSplit(g, from, to) {
  if (typeof g.animate !== 'function') return;
  // Map the child's band [to.y, to.y + to.height] onto the parent's (origin: the SVG's top left).
  const sy = from.height / to.height;
  const ty = from.y - sy * to.y;
  splitAnimations++;
  g.animate([
    { transform: `translate(0px, ${ty}px) scale(1, ${sy})`, opacity: 0.4 },
    { transform: 'none', opacity: 1 },
  ], { duration: 900, easing: 'ease-out' });
}

function drawTable(table) {
  const tree = $('tree');
  clear(tree);
  const x0 = 14;
  const boxX = 150;
  const boxW = 400;
  const square = 7;
  const perRow = Math.floor((boxW - 12) / (square + 2));
  let y = 10;
  const spine = [];
  const seen = new Set();
  const layout = new Map();
  const ghosts = new Map();
  table.buckets.forEach((bucket, i) => {
    const rows = Math.max(1, Math.ceil(bucket.capacity / perRow));
    const height = 22 + rows * (square + 2) + 4;
    const spineX = x0 + Math.min(i, 12) * 9;
    const midY = y + height / 2;
    spine.push([spineX, y + 6]);
    const parent = splitParent(bucket.prefix);
    const g = svg('g', { class: `bucket${bucket.holdsOwnId ? ' own' : ''}${parent !== undefined ? ' split' : ''}`, 'data-index': i, 'data-prefix': bucket.prefix }, tree);
    if (parent !== undefined) {
      g.setAttribute('data-split-from', parent);
      ghosts.set(parent, lastLayout.get(parent));
      animateSplit(g, lastLayout.get(parent), { y, height });
    }
    layout.set(bucket.prefix, { y, height });
    svg('path', { class: 'branch', d: `M${spineX},${y + 6} C${spineX},${midY} ${spineX + 20},${midY} ${boxX},${midY}` }, g);
    text(g, spineX + 4, y + 4, bucket.holdsOwnId ? '' : bucket.prefix.slice(-1), { class: 'bit' });
    svg('rect', { class: 'frame', x: boxX, y: y + 2, width: boxW, height: height - 4, rx: 4 }, g);
    const label = `${bucket.prefix.length > 16 ? '…' + bucket.prefix.slice(-15) : bucket.prefix || '(all)'}*  ${bucket.contacts.length}/${bucket.capacity}` +
      (bucket.holdsOwnId ? '  ← our ID' : '');
    text(g, boxX + 6, y + 16, label);
    bucket.contacts.forEach((c, n) => {
      const cx = boxX + 6 + (n % perRow) * (square + 2);
      const cy = y + 22 + Math.floor(n / perRow) * (square + 2);
      const fresh = knownContacts.size > 0 && !knownContacts.has(c.id);
      const r = svg('rect', { class: `c ${c.state}${fresh ? ' fresh' : ''}`, x: cx, y: cy, width: square, height: square, rx: 1.5 }, g);
      svg('title', {}, r).textContent = `${c.id.slice(0, 16)}… ${c.address}:${c.port} ${c.state}`;
      seen.add(c.id);
    });
    y += height;
  });
  if (spine.length > 0) {
    const d = spine.map(([x, yy], i) => `${i === 0 ? 'M' : 'L'}${x},${yy}`).join(' ');
    svg('path', { class: 'own-path', d }, tree);
  }
  // The parents' frames, fading out where they stood: the picture of a bucket becoming two.
  for (const [prefix, at] of ghosts) {
    const ghost = svg('rect', { class: 'ghost', x: boxX, y: at.y + 2, width: boxW, height: at.height - 4, rx: 4, 'data-prefix': prefix }, tree);
    if (typeof ghost.animate === 'function') ghost.animate([{ opacity: 0.9 }, { opacity: 0 }], { duration: 900, easing: 'ease-out', fill: 'forwards' });
  }
  if (knownBuckets > 0 && ghosts.size > 0) splitsSeen += table.buckets.length - knownBuckets;
  tree.setAttribute('data-splits', String(splitsSeen));
  tree.setAttribute('data-split-animations', String(splitAnimations));
  tree.setAttribute('height', String(y + 8));
  knownContacts = seen;
  knownBuckets = table.buckets.length;
  lastLayout = layout;
  const counts = table.buckets.reduce((sum, b) => {
    for (const k of Object.keys(b.counts)) sum[k] = (sum[k] || 0) + b.counts[k];
    return sum;
  }, {});
  $('table-summary').textContent = `${table.nodes} contacts in ${table.buckets.length} buckets: ` +
    `${counts.good || 0} good, ${counts.questionable || 0} questionable, ${counts.bad || 0} bad, ${counts.heard || 0} heard of`;
}

// ---- lookups ----

/** id -> { label, method, target, steps: [...] } */
const lookups = new Map();
let shown = undefined;
let following = true;

function onLookupEvent(event) {
  let lookup = lookups.get(event.id);
  if (lookup === undefined) {
    lookup = { id: event.id, label: `lookup ${event.id}`, method: '', target: '', steps: [] };
    lookups.set(event.id, lookup);
  }
  const step = event.step;
  if (step.type === 'start') {
    lookup.label = step.label;
    lookup.method = step.method;
    lookup.target = step.target;
    addOption(lookup);
    // Follow the newest get_peers lookup (what the user asked for), else the newest of any kind.
    const current = lookups.get(shown);
    if (shown === undefined || (step.method === 'get_peers') || (current && current.method !== 'get_peers' && current.done)) show(lookup.id, true);
  }
  lookup.steps.push(step);
  if (step.type === 'end') lookup.done = true;
  if (lookup.id === shown) {
    const slider = $('replay');
    const atEnd = Number(slider.value) >= Number(slider.max);
    slider.max = String(lookup.steps.length);
    if (following || atEnd) slider.value = slider.max;
    drawLookup();
  }
}

function addOption(lookup) {
  const select = $('lookup-select');
  const option = document.createElement('option');
  option.value = String(lookup.id);
  option.textContent = lookup.label;
  select.insertBefore(option, select.firstChild);
  while (select.options.length > 40) select.removeChild(select.lastChild);
}

function show(id, follow) {
  shown = id;
  following = follow;
  const lookup = lookups.get(id);
  $('lookup-select').value = String(id);
  const slider = $('replay');
  slider.max = String(lookup.steps.length);
  slider.value = slider.max;
  drawLookup();
}

function drawLookup() {
  const lookup = lookups.get(shown);
  const area = $('xor');
  clear(area);
  if (lookup === undefined) return;
  const upto = Number($('replay').value);
  const steps = lookup.steps.slice(0, upto);
  const W = 600;
  const H = 290;
  const left = 40;
  const maxBits = Math.max(16, ...lookup.steps.map((s) => (s.bits === undefined ? 0 : s.bits + 2)));
  const xOf = (bits) => left + (bits / maxBits) * (W - left);
  const yOf = (id) => 24 + (parseInt(id.slice(8, 14), 16) / 0xffffff) * (H - 40);
  // Axis: shared bits with the target.
  svg('line', { class: 'axis', x1: left, y1: H, x2: W, y2: H }, area);
  for (let b = 0; b <= maxBits; b += 2) text(area, xOf(b) - 3, H + 14, String(b));
  text(area, left, H + 28, 'leading bits shared with the target →');
  svg('path', { class: 'target', d: `M${W + 10},${H / 2 - 8} l4,8 l-4,8 l-4,-8 z` }, area);
  text(area, W - 20, H / 2 - 14, 'target');
  const us = [left - 28, H / 2];
  svg('circle', { class: 'node answered', cx: us[0], cy: us[1], r: 6 }, area);
  text(area, us[0] - 8, us[1] + 20, 'us');
  const nodes = new Map();
  const place = (id, bits) => {
    if (!nodes.has(id)) nodes.set(id, { x: xOf(bits), y: yOf(id), state: 'known' });
    return nodes.get(id);
  };
  const lines = svg('g', {}, area);
  const frontier = new Map();
  let lastHop = 0;
  const peers = [];
  for (const step of steps) {
    if (step.type === 'query') {
      const n = place(step.to, step.bits);
      n.state = n.state === 'known' ? 'asked' : n.state;
      n.hop = step.hop;
      lastHop = Math.max(lastHop, step.hop);
      svg('line', { class: `q ${hopClass(step.hop)}`, x1: us[0], y1: us[1], x2: n.x, y2: n.y }, lines);
    } else if (step.type === 'response') {
      const n = place(step.from, step.bits);
      n.state = 'answered';
      svg('path', { class: `r ${hopClass(step.hop)}`, d: `M${n.x},${n.y} Q${(n.x + us[0]) / 2},${(n.y + us[1]) / 2 - 30} ${us[0]},${us[1]}` }, lines);
      frontier.set(step.hop, Math.max(frontier.get(step.hop) ?? 0, step.bits));
    } else if (step.type === 'timeout') {
      const n = nodes.get(step.node);
      if (n) n.state = 'failed';
    } else if (step.type === 'item' && step.peer !== undefined) {
      peers.push(step);
    }
  }
  for (const [hop, bits] of frontier) {
    const x = xOf(bits);
    svg('line', { class: `frontier ${hopClass(hop)}`, x1: x, y1: 10, x2: x, y2: H }, area);
    text(area, x + 3, 10 + 12 * (hop % 3), `hop ${hop}`);
  }
  for (const [id, n] of nodes) {
    const c = svg('circle', { class: `node ${n.state}`, cx: n.x, cy: n.y, r: 4, 'data-id': id }, area);
    svg('title', {}, c).textContent = `${id.slice(0, 16)}… ${n.state}${n.hop !== undefined ? `, hop ${n.hop}` : ''}`;
  }
  const list = $('peers');
  clear(list);
  const shownPeers = new Set();
  const labelled = new Set();
  for (const item of peers) {
    const n = nodes.get(item.from);
    // One mark per node that gave peers, named after the first of them.
    if (n && !shownPeers.has(item.peer) && !labelled.has(item.from)) {
      labelled.add(item.from);
      svg('circle', { class: 'peer-mark', cx: n.x, cy: n.y, r: 7, opacity: 0.5 }, area);
      const label = text(area, n.x + 8, n.y - 8, `peer ${item.peer}`, { class: 'peer-label' });
      label.setAttribute('data-peer', item.peer);
    }
    if (!shownPeers.has(item.peer)) {
      shownPeers.add(item.peer);
      const li = document.createElement('li');
      li.className = 'peer';
      li.textContent = item.peer;
      list.appendChild(li);
    }
  }
  const hops = lookup.steps.reduce((max, s) => (s.hop === undefined ? max : Math.max(max, s.hop)), 0);
  $('replay-label').textContent = `hop ${lastHop} of ${hops} · step ${upto} of ${lookup.steps.length}`;
  const end = lookup.steps.find((s) => s.type === 'end');
  $('lookup-summary').textContent = `${lookup.label}: ` + (end
    ? `${end.ended}, ${end.queries} queries, ${end.responses} replies, closest shares ${end.closestBits} bits, ${end.items} items`
    : 'running…');
}

// ---- the crawl ----

function drawCrawl(crawl) {
  $('crawl-panel').hidden = false;
  rates.push(crawl.rate);
  if (rates.length > 240) rates.shift();
  // A dual-stack crawl (BEP 32): what each family's DHT named, as the CLI's summary says it.
  const families = crawl.seenIn[4] > 0 && crawl.seenIn[6] > 0 ? ` (IPv4 DHT ${crawl.seenIn[4]}, IPv6 DHT ${crawl.seenIn[6]})` : '';
  $('crawl-summary').textContent = `${crawl.discovered} info_hashes${families} in ${(crawl.elapsedMs / 1000).toFixed(0)} s, ` +
    `${crawl.rate.toFixed(1)} per second now`;
  const rate = $('rate');
  clear(rate);
  const max = Math.max(1, ...rates);
  const W = 540;
  const H = 100;
  svg('line', { class: 'axis', x1: 0, y1: H, x2: W, y2: H }, rate);
  const points = rates.map((r, i) => `${(i / Math.max(1, rates.length - 1)) * W},${H - (r / max) * H}`).join(' ');
  svg('polyline', { class: 'rate-line', points }, rate);
  text(rate, 2, 10, `${max.toFixed(1)}/s`);
  const space = $('space');
  clear(space);
  const bins = crawl.space.sample.length;
  const top = Math.max(1, ...crawl.space.sample.map((s, i) => s + crawl.space.passive[i]));
  const bw = W / bins;
  for (let i = 0; i < bins; i++) {
    const s = (crawl.space.sample[i] / top) * 80;
    const p = (crawl.space.passive[i] / top) * 80;
    svg('rect', { class: 'bar sample', x: i * bw, y: 80 - s, width: bw - 1, height: s }, space);
    svg('rect', { class: 'bar passive', x: i * bw, y: 80 - s - p, width: bw - 1, height: p }, space);
  }
  text(space, 0, 96, '000000…');
  text(space, W - 50, 96, '111111…');
  drawTop($('top'), crawl.top, 'none yet (sampled info_hashes are not requests)');
  drawTop($('seen'), crawl.seen ?? [], 'none yet');
}

/** A top list; a name, once resolved, comes first (textContent: whatever a peer sent is text). */
function drawTop(list, entries, empty) {
  clear(list);
  for (const entry of entries) {
    const li = document.createElement('li');
    if (entry.name !== undefined) {
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = entry.name;
      li.append(name, '  ');
    }
    li.append(`${entry.infoHash}  (${entry.requests} requests, ~${entry.sources} sources)`);
    list.appendChild(li);
  }
  if (entries.length === 0) {
    const li = document.createElement('li');
    li.className = 'dim none';
    li.textContent = empty;
    list.appendChild(li);
  }
}
const rates = [];

// ---- the stream ----

function onEvent(event) {
  if (event.kind === 'hello') {
    // A reconnected stream starts over with the whole history: forget what was drawn.
    if (lookups.size > 0) reset();
    $('title').textContent = event.title;
    $('own-id').textContent = event.ownId;
    $('table-family').textContent = `of our IPv${event.family} node`;
    // A dual-stack run (BEP 32) has a node per family, each with its own table: say which is drawn.
    const other = $('table-not-shown');
    other.hidden = event.notShown === undefined;
    other.textContent = event.notShown === undefined ? '' : `An IPv${event.notShown} node runs beside it (BEP 32: each family is its own DHT); ` +
      `its table and its lookups are not drawn here (crawl figures, where shown, count both).`;
  } else if (event.kind === 'table') {
    drawTable(event.table);
  } else if (event.kind === 'lookup') {
    onLookupEvent(event);
  } else if (event.kind === 'crawl') {
    drawCrawl(event.crawl);
  }
}

function reset() {
  lookups.clear();
  shown = undefined;
  following = true;
  clear($('lookup-select'));
  rates.length = 0;
}

function connect() {
  const source = new EventSource('/events');
  source.onopen = () => { $('status').textContent = 'live'; $('status').className = 'status live'; };
  source.onerror = () => { $('status').textContent = 'disconnected (the run may be over)'; $('status').className = 'status lost'; };
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
}

$('replay').addEventListener('input', () => {
  const slider = $('replay');
  following = Number(slider.value) >= Number(slider.max);
  drawLookup();
});
$('lookup-select').addEventListener('change', () => show(Number($('lookup-select').value), false));
connect();
