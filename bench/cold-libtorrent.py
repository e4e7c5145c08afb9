"""A fresh libtorrent session in its own process, for the cold-start benchmark (bench/cold-start.ts):
/usr/bin/python3 cold-libtorrent.py <bootstrap ip:port> <infohash hex> <bind address>. It asks
dht_get_peers at once and prints one JSON line: ms to the first peer and to the end of the lookup
(from the session's creation), get_peers sent for this info-hash, peers found.

What the figures rest on (libtorrent 2.0.8, checked on the local network):
- A dht_get_peers issued before the session's DHT has started is dropped without a word (no
  traversal, no alert): about half the calls made right after creating the session. So the call is
  repeated every 5 ms until a dht_outgoing_get_peers_alert for this info-hash shows the lookup has
  left; `asked` says how many calls that took, `lookups` how many get_peers traversals ran at once
  (more than 1 would mean a repeated call was not needed after all: its queries are then counted too).
- Queries are the dht_outgoing_get_peers_alerts for this info-hash. The session counter
  dht.dht_get_peers_out also counts the bootstrap's get_peers (for random targets): not ours.
- The end is when the get_peers traversal in dht_stats_alert's active_requests (polled every 20 ms;
  the bootstrap traversal has its own type) has no request outstanding: libtorrent calls a traversal
  done when its invoke count falls to 0. The entry itself may stay listed for up to the 15 s hard
  timeout, while queries that passed their short timeout are still awaited (they no longer count as
  outstanding); waiting for it to vanish made 2 in 5 lookups look like 15 s ones. A lookup whose
  closest candidates include silent nodes really does wait for them: libtorrent queries no farther
  node while they are outstanding past their short timeout, until their 15 s hard timeout (seen on
  the local network: 4 requests outstanding, 8 nodes left, for 15 s). `ended` is then "timeout"
  (at 15 s), and its first-peer time is still exact.
"""
import json, sys, time
import libtorrent as lt

bootstrap, hexhash, address = sys.argv[1:4]
started = time.monotonic()
ses = lt.session({
    "listen_interfaces": f"{address}:0", "enable_dht": True, "dht_bootstrap_nodes": bootstrap,
    "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False, "enable_ip_notifier": False,
    "dht_block_ratelimit": 1_000_000, "dht_upload_rate_limit": 10_000_000,
    "alert_mask": lt.alert.category_t.all_categories,
})
target = lt.sha1_hash(bytes.fromhex(hexhash))


def elapsed_ms():
    return (time.monotonic() - started) * 1000


ses.dht_get_peers(target)
asked, asked_at, left = 1, time.monotonic(), False
first, peers, ended, queries, lookups, seen_running, polled_at = None, set(), "timeout", 0, 0, False, 0.0
deadline = started + 15
while time.monotonic() < deadline:
    ses.wait_for_alert(20 if left else 5)
    for a in ses.pop_alerts():
        if isinstance(a, lt.dht_outgoing_get_peers_alert) and a.info_hash == target:
            queries += 1
            left = True
        elif isinstance(a, lt.dht_get_peers_reply_alert) and a.info_hash == target and a.num_peers() > 0:
            if first is None:
                first = elapsed_ms()
            for p in a.peers():
                peers.add(f"{p[0]}:{p[1]}")
        elif isinstance(a, lt.dht_stats_alert):
            ours = [r for r in a.active_requests if r["type"] == "get_peers"]
            lookups = max(lookups, len(ours))
            if any(r["outstanding_requests"] > 0 for r in ours):
                seen_running = True
            elif seen_running and left:
                ended = "done"
    if ended == "done":
        break
    if not left and time.monotonic() - asked_at >= 0.005:
        ses.dht_get_peers(target)
        asked, asked_at = asked + 1, time.monotonic()
    if time.monotonic() - polled_at >= 0.02:
        # At most every 20 ms: each call is work for libtorrent's network thread; asked on every
        # alert, as this harness first did, it kept that thread busy (600,000 stats alerts in 15 s)
        # and lookups stalled with queries outstanding until the 15 s end.
        ses.post_dht_stats()
        polled_at = time.monotonic()
duration = elapsed_ms()
print(json.dumps({"ended": ended, "first": first, "duration": duration, "queries": queries, "peers": sorted(peers),
                  "asked": asked, "lookups": lookups}))
