#!/usr/bin/env python3
"""A few libtorrent sessions with DHT on, meshed on loopback, one seeding a generated torrent.

With `--leechers N`, sessions 1..N hold part of the same torrent in upload mode: they announce as
downloaders (no `seed` flag) and never download the rest, so the swarm stays one seed and N leechers.

The interop tests (tests/interop/*.test.ts) start this script and talk to it in JSON lines:
every line it prints on stdout is one event (`{"event": ...}`), every line it reads on stdin is
one command (`{"cmd": ...}`). It prints `ready` once the announce of every session holding
the torrent has been stored by another session, so the whole swarm is findable. It always ends by itself: after `--ttl` seconds,
on `quit`, or when stdin closes (the test process went away).

Loopback only. Each session listens on its own /24 (127.0.K.1), because libtorrent keeps one
routing-table entry per IP and one per /24 per bucket by default; its public bootstrap routers,
LSD, UPnP, NAT-PMP and the IP notifier are all off, so nothing leaves the machine.
"""
import argparse
import hashlib
import json
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings

import libtorrent as lt

START = time.monotonic()


def emit(event, **fields):
    fields = {"event": event, "t": round((time.monotonic() - START) * 1000), **fields}
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def quiet_alert_mask(verbose):
    """Everything about the DHT, torrents and errors; none of the chatty log categories."""
    c = lt.alert.category_t
    noisy = (c.peer_log_notification | c.session_log_notification | c.torrent_log_notification
             | c.picker_log_notification | c.port_mapping_log_notification | c.progress_notification
             | c.block_progress_notification | c.piece_progress_notification
             | c.file_progress_notification | c.stats_notification | c.dht_log_notification)
    mask = c.all_categories & ~noisy
    return mask | c.dht_log_notification if verbose else mask


def session_settings(address, verbose):
    return {
        "listen_interfaces": f"{address}:0",  # an IP literal: libtorrent runs no DHT on 0.0.0.0 here
        "enable_dht": True,
        "dht_bootstrap_nodes": "",  # the default resolves a public host
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        # Stock anti-abuse limits (5 packets/s per IP, 8,000 B/s of replies) silence a fast client.
        "dht_block_ratelimit": 1_000_000,
        "dht_upload_rate_limit": 10_000_000,
        # Nodes that went away (the CLI exits after each run) leave its tables sooner.
        "dht_max_fail_count": 3,
        "alert_mask": quiet_alert_mask(verbose),
    }


def node_id_of(ses):
    """The session's DHT node ID (its state lists IDs as 20 bytes + the IP they belong to)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        state = ses.dht_state()
    ids = state.get(b"node-id") or state.get("node-id") or []
    if isinstance(ids, (bytes, bytearray)):
        ids = [ids]
    return bytes(ids[0][:20]) if ids else None


PIECE_BYTES = 16384


TORRENT_FLAGS = {"v1": "v1_only", "v2": "v2_only", "hybrid": None}


def make_payload(directory, data, version="v1"):
    """A torrent of one file: v1 only by default (a hybrid torrent announces two hashes);
    `v2` (BEP 52, announced under its SHA-256 cut to 20 bytes) or `hybrid` when asked."""
    payload = os.path.join(directory, "payload")
    os.makedirs(payload)
    with open(os.path.join(payload, "data.bin"), "wb") as f:
        f.write(data)
    fs = lt.file_storage()
    lt.add_files(fs, payload)
    flag = TORRENT_FLAGS[version]
    ct = lt.create_torrent(fs, PIECE_BYTES, flags=getattr(lt.create_torrent, flag)) if flag else lt.create_torrent(fs, PIECE_BYTES)
    lt.set_piece_hashes(ct, directory)
    entry = ct.generate()
    layers = entry.get(b"piece layers", {})
    return lt.torrent_info(entry), {bytes(k).hex(): bytes(v).hex() for k, v in layers.items()}


def describe_torrent(info):
    """The torrent as libtorrent built it, for tests to compare with what a peer served."""
    fs = info.files()
    # libtorrent names a v2 torrent of one file after that file; `info_name` is the dictionary's own `name`.
    return {"name": info.name(), "info_name": lt.bdecode(info.info_section())[b"name"].decode(),
            "total_size": info.total_size(), "piece_length": info.piece_length(),
            "pieces": info.num_pieces(), "metadata_size": len(info.info_section()),
            "files": [{"path": fs.file_path(i).replace(os.sep, "/"), "size": fs.file_size(i)}
                      for i in range(fs.num_files())]}


def leecher_flags():
    """Upload mode: serve what it has, request nothing. Neither auto-managed (whose queue may lift
    upload mode) nor paused (the default flags hold `paused` for the auto-manager to lift)."""
    f = lt.torrent_flags
    return (f.default_flags & ~f.auto_managed & ~f.paused) | f.upload_mode


def raw_hex(value):
    """The binding hands some byte fields over as str (one char per byte), others as bytes."""
    return value.encode("latin-1").hex() if isinstance(value, str) else bytes(value).hex()


def item_hex(alert):
    """A BEP 44 item alert's value, bencoded, in hex; its repr if the binding cannot convert it."""
    try:
        item = alert.item
        # For a mutable item the binding hands over the whole record: the value is under "value".
        if isinstance(item, dict) and "value" in item:
            item = item["value"]
        return lt.bencode(item).hex()
    except Exception as error:  # the 2.0.8 binding reads an immutable item as a string only
        return f"unreadable: {type(error).__name__}: {error}"


def endpoint_text(ep):
    return f"{ep[0]}:{ep[1]}"


class Fixture:
    def __init__(self, args):
        self.args = args
        self.verbose = args.verbose
        self.tmp = tempfile.mkdtemp(prefix="dht-scrape-lt-")
        self.sessions = []
        self.addresses = []
        self.seed_hash = None  # the 20-byte DHT key: the v1 hash, or the cut v2 hash of a v2-only torrent
        self.seed_hash_v2 = None  # BEP 52: the whole SHA-256, for v2 and hybrid torrents
        self.torrent = None
        self.holders = {}  # session index -> its handle of the seeded torrent
        self.stored = set()  # holders whose announce another session has stored
        self.ready = False
        self.stop_reason = None

    def start(self):
        for i in range(self.args.sessions):
            address = f"127.0.{self.args.subnet + i}.1"
            self.addresses.append(address)
            self.sessions.append(lt.session(session_settings(address, self.verbose)))
        for i, ses in enumerate(self.sessions):
            if ses.listen_port() == 0 or not ses.is_dht_running():
                raise RuntimeError(f"session {i} on {self.addresses[i]} has no DHT")
        for i, ses in enumerate(self.sessions):
            for j, other in enumerate(self.sessions):
                if i != j:
                    ses.add_dht_node((self.addresses[j], other.listen_port()))
        data = os.urandom(self.args.payload_bytes)
        info, piece_layers = make_payload(self.tmp, data, self.args.torrent_version)
        hashes = info.info_hashes()
        self.seed_hash = str(hashes.v1) if hashes.has_v1() else str(hashes.get_best())
        self.seed_hash_v2 = str(hashes.v2) if hashes.has_v2() else None
        self.torrent = describe_torrent(info)
        self.torrent["piece_layers"] = piece_layers
        self.holders[0] = self.sessions[0].add_torrent({"ti": info, "save_path": self.tmp})
        for i in range(1, self.args.leechers + 1):
            self.holders[i] = self.sessions[i].add_torrent(self.leecher_params(info, data, i))

    def leecher_params(self, info, data, i):
        """Leecher i holds the first i / (leechers + 1) of the pieces; the rest of its file is zeros."""
        held = i * info.num_pieces() // (self.args.leechers + 1)
        directory = os.path.join(self.tmp, f"leecher-{i}")
        os.makedirs(os.path.join(directory, "payload"))
        kept = held * PIECE_BYTES
        with open(os.path.join(directory, "payload", "data.bin"), "wb") as f:
            f.write(data[:kept] + bytes(len(data) - kept))
        return {"ti": info, "save_path": directory, "flags": leecher_flags()}

    def swarm(self):
        """Each holder of the torrent as libtorrent sees itself: how many pieces, seeding or not."""
        out = []
        for i, handle in sorted(self.holders.items()):
            st = handle.status()
            out.append({"session": i, "address": self.addresses[i], "pieces": st.num_pieces,
                        "seed": st.is_seeding, "state": str(st.state)})
        return out

    def describe(self):
        out = []
        for i, ses in enumerate(self.sessions):
            nid = node_id_of(ses)
            out.append({"index": i, "address": self.addresses[i], "port": ses.listen_port(),
                        "node_id": nid.hex() if nid else None})
        return out

    # ---- commands (one JSON object per stdin line) ----

    def command(self, cmd):
        name = cmd.get("cmd")
        if name == "quit":
            self.stop_reason = "quit"
            return
        ses = self.sessions[int(cmd.get("session", 0))]
        if name == "get_peers":
            ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(cmd["infohash"])))
        elif name == "announce":
            # dht_announce() is unusable from Python in 2.0.8; a bare info-hash torrent announces for real.
            params = lt.add_torrent_params()
            params.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes.fromhex(cmd["infohash"])))
            params.save_path = self.tmp
            ses.add_torrent(params)
        elif name == "add_node":
            ses.add_dht_node((cmd["address"], int(cmd["port"])))
        elif name == "live_nodes":
            nid = node_id_of(ses)
            if nid is None:
                raise RuntimeError("session has no node id")
            ses.dht_live_nodes(lt.sha1_hash(nid))
        elif name == "put_immutable":
            # BEP 44: the value as a bencoded entry; libtorrent stores it under its SHA-1.
            target = ses.dht_put_immutable_item(lt.bdecode(bytes.fromhex(cmd["value"])))
            emit("put_immutable", session=int(cmd.get("session", 0)), target=str(target))
        elif name == "get_immutable":
            ses.dht_get_immutable_item(lt.sha1_hash(bytes.fromhex(cmd["target"])))
        elif name == "put_mutable":
            # libtorrent signs with the 64-byte expanded ed25519 key (SHA-512 of the seed, clamped);
            # the value it puts is `data` as a bencoded string.
            digest = bytearray(hashlib.sha512(bytes.fromhex(cmd["seed"])).digest())
            digest[0] &= 248
            digest[31] &= 63
            digest[31] |= 64
            ses.dht_put_mutable_item(bytes(digest), bytes.fromhex(cmd["public_key"]), cmd["data"], cmd.get("salt", ""))
        elif name == "get_mutable":
            ses.dht_get_mutable_item(bytes.fromhex(cmd["public_key"]), cmd.get("salt", ""))
        elif name == "sample":
            target = bytes.fromhex(cmd["target"]) if "target" in cmd else os.urandom(20)
            ses.dht_sample_infohashes((cmd["address"], int(cmd["port"])), lt.sha1_hash(target))
        else:
            raise ValueError(f"unknown command {name!r}")

    # ---- alerts ----

    def alerts(self, index, ses):
        for a in ses.pop_alerts():
            try:
                self.alert(index, a)
            except Exception as error:  # an alert we could not read is reported, never fatal
                emit("fixture_error", session=index, kind=type(a).__name__, message=f"{type(error).__name__}: {error}")

    def alert(self, i, a):
        if isinstance(a, lt.dht_announce_alert):
            ih = str(a.info_hash)
            emit("incoming_announce", session=i, infohash=ih, peer=f"{a.ip}:{a.port}")
            announcer = self.addresses.index(str(a.ip)) if str(a.ip) in self.addresses else None
            if ih == self.seed_hash and announcer in self.holders and announcer != i:
                self.stored.add(announcer)
            if not self.ready and self.stored == set(self.holders):
                self.ready = True
                emit("ready", version=lt.__version__, python=sys.executable, infohash=self.seed_hash,
                     infohash_v2=self.seed_hash_v2, torrent_version=self.args.torrent_version,
                     seeder=0, sessions=self.describe(), torrent=self.torrent, swarm=self.swarm())
        elif isinstance(a, lt.listen_succeeded_alert):
            emit("listening", session=i, address=str(a.address), port=a.port, socket=str(a.socket_type))
        elif isinstance(a, lt.dht_get_peers_alert):
            emit("incoming_get_peers", session=i, infohash=str(a.info_hash))
        elif isinstance(a, lt.dht_get_peers_reply_alert):
            peers = [endpoint_text(p) for p in a.peers()]
            emit("get_peers_reply", session=i, infohash=str(a.info_hash), peers=peers)
        elif isinstance(a, lt.dht_live_nodes_alert):
            nodes = [{"id": str(n["nid"]), "address": n["endpoint"][0], "port": n["endpoint"][1]}
                     for n in a.nodes]
            emit("live_nodes", session=i, nodes=nodes)
        elif isinstance(a, lt.dht_sample_infohashes_alert):
            interval = a.interval.total_seconds() if hasattr(a.interval, "total_seconds") else a.interval
            emit("samples", session=i, source=endpoint_text(a.endpoint), interval=interval,
                 num=a.num_infohashes, samples=[str(s) for s in a.samples], nodes=a.num_nodes)
        elif isinstance(a, lt.dht_immutable_item_alert):
            emit("immutable_item", session=i, target=str(a.target), value=item_hex(a))
        elif isinstance(a, lt.dht_mutable_item_alert):
            emit("mutable_item", session=i, key=raw_hex(a.key), seq=a.seq, salt=raw_hex(a.salt),
                 value=item_hex(a), authoritative=a.authoritative)
        elif isinstance(a, lt.dht_put_alert):
            emit("put_done", session=i, target=str(a.target), num_success=a.num_success,
                 key=raw_hex(a.public_key), seq=a.seq)
        elif isinstance(a, lt.dht_pkt_alert):
            emit("packet", session=i, message=a.message(), hex=bytes(a.pkt_buf).hex())
        elif isinstance(a, lt.dht_log_alert):
            emit("log", session=i, message=a.message())
        elif a.category() & lt.alert.category_t.error_notification:
            emit("lt_error", session=i, kind=type(a).__name__, message=a.message())

    def run(self, commands):
        deadline = time.monotonic() + self.args.ttl
        while self.stop_reason is None:
            if time.monotonic() > deadline:
                self.stop_reason = "ttl"
                break
            if not self.ready and time.monotonic() - START > self.args.ready_timeout:
                missing = sorted(set(self.holders) - self.stored)
                emit("fatal", message=f"sessions {missing} were not announced within {self.args.ready_timeout} s")
                self.stop_reason = "not-ready"
                break
            try:
                while True:
                    line = commands.get_nowait()
                    if line is None:
                        self.stop_reason = "stdin-closed"
                        break
                    self.safe_command(line)
            except queue.Empty:
                pass
            for i, ses in enumerate(self.sessions):
                self.alerts(i, ses)
            self.sessions[0].wait_for_alert(20)

    def safe_command(self, line):
        try:
            self.command(json.loads(line))
        except Exception as error:  # a bad command is reported, never fatal
            emit("command_error", line=line.strip(), message=f"{type(error).__name__}: {error}")

    def close(self):
        for ses in self.sessions:
            ses.pause()
        self.sessions.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_stdin(commands):
    for line in sys.stdin:
        if line.strip():
            commands.put(line)
    commands.put(None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--subnet", type=int, default=60, help="session K listens on 127.0.(subnet+K).1")
    parser.add_argument("--ttl", type=float, default=120, help="seconds before exiting, whatever happens")
    parser.add_argument("--ready-timeout", type=float, default=20)
    parser.add_argument("--payload-bytes", type=int, default=64 * 1024)
    parser.add_argument("--leechers", type=int, default=0,
                        help="sessions 1..N hold part of the torrent in upload mode (announce as downloaders)")
    parser.add_argument("--torrent-version", choices=sorted(TORRENT_FLAGS), default="v1",
                        help="the seeded torrent: v1 only, v2 only (BEP 52) or hybrid")
    parser.add_argument("--verbose", action="store_true", help="also emit every DHT packet and log line")
    args = parser.parse_args()
    if not 2 <= args.sessions <= 16 or not 1 <= args.subnet <= 254 - args.sessions:
        parser.error("need 2-16 sessions on 127.0.1.1 .. 127.0.254.1")
    if not 0 <= args.leechers < args.sessions:
        parser.error("--leechers must leave the seeder (session 0) out: 0 to sessions - 1")

    fixture = Fixture(args)
    signal.signal(signal.SIGTERM, lambda *_: setattr(fixture, "stop_reason", "sigterm"))
    commands = queue.Queue()
    threading.Thread(target=read_stdin, args=(commands,), daemon=True).start()
    try:
        fixture.start()
        emit("started", sessions=fixture.describe(), infohash=fixture.seed_hash, torrent=fixture.torrent)
        fixture.run(commands)
    finally:
        emit("exit", reason=fixture.stop_reason or "error")
        fixture.close()


if __name__ == "__main__":
    main()
