"""A fresh libtorrent session in its own process, for the cold-start benchmark (bench/cold-start.ts):
/usr/bin/python3 cold-libtorrent.py <bootstrap ip:port> <infohash hex> <bind address>. It asks
dht_get_peers at once and prints one JSON line: ms to the first peer and to the end of the lookup
(no DHT request left), get_peers sent (session counter), peers found."""
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
ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(hexhash)))
metrics = {m.name: m.value_index for m in lt.session_stats_metrics()}
first, peers, ended, queries, asked_once = None, set(), "timeout", 0, False
deadline = started + 15
while time.monotonic() < deadline:
    ses.wait_for_alert(20)
    for a in ses.pop_alerts():
        if isinstance(a, lt.dht_get_peers_reply_alert) and a.num_peers() > 0:
            if first is None:
                first = (time.monotonic() - started) * 1000
            for p in a.peers():
                peers.add(f"{p[0]}:{p[1]}")
        elif isinstance(a, lt.dht_stats_alert):
            running = any((r.get("type") if isinstance(r, dict) else r.type) == "get_peers" for r in a.active_requests)
            if running:
                asked_once = True
            elif asked_once:
                ended = "done"
        elif isinstance(a, lt.session_stats_alert):
            queries = a.values["dht.dht_get_peers_out"] if isinstance(a.values, dict) else a.values[metrics["dht.dht_get_peers_out"]]
    if ended == "done":
        break
    ses.post_dht_stats()
duration = (time.monotonic() - started) * 1000
ses.post_session_stats()
end = time.monotonic() + 1
while time.monotonic() < end:
    ses.wait_for_alert(100)
    got = False
    for a in ses.pop_alerts():
        if isinstance(a, lt.session_stats_alert):
            queries = a.values["dht.dht_get_peers_out"] if isinstance(a.values, dict) else a.values[metrics["dht.dht_get_peers_out"]]
            got = True
    if got:
        break
print(json.dumps({"ended": ended, "first": first, "duration": duration, "queries": queries, "peers": sorted(peers)}))
