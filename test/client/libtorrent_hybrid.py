#!/usr/bin/python3
"""A real private hybrid (BEP 52, v1 + v2) transfer on loopback through our tracker, seeder and leecher
as two users (two passkey URLs).

usage: libtorrent_hybrid.py SEED_URL LEECH_URL LISTEN_HOST WORKDIR TIMEOUT_SECONDS SEED_SECONDS
Prints a first JSON line {"info_hash": v1 hex, "info_hash_v2": v2 hex truncated to 20 bytes,
"payload": bytes} and waits for a line on stdin (the test registers both hashes meanwhile). Then the
transfer runs as in libtorrent_transfer.py (no DHT, LSD, UPnP, NAT-PMP, peer exchange: the tracker is
the only peer source); after it both keep seeding SEED_SECONDS, re-announcing every 2 s, and quit
(announcing stopped). The last line: {"ok", "detail", "replies": {"v1": n, "v2": n}, "seed_seconds"}.
"""
import hashlib
import json
import os
import sys
import time

import libtorrent as lt

seed_url, leech_url, listen_host, workdir = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
timeout, seed_seconds = float(sys.argv[5]), float(sys.argv[6])
seed_dir = os.path.join(workdir, "seed")
leech_dir = os.path.join(workdir, "leech")
os.makedirs(seed_dir, exist_ok=True)
os.makedirs(leech_dir, exist_ok=True)

payload = os.urandom(3 * 1024 * 1024 + 12345)
with open(os.path.join(seed_dir, "payload.bin"), "wb") as f:
    f.write(payload)

fs = lt.file_storage()
lt.add_files(fs, os.path.join(seed_dir, "payload.bin"))
# libtorrent 2.x creates hybrid torrents (v1 and v2 metadata) unless told v1_only or v2_only.
creator = lt.create_torrent(fs, 64 * 1024)
creator.set_priv(True)
lt.set_piece_hashes(creator, seed_dir)
info = lt.torrent_info(lt.bencode(creator.generate()))
hashes = info.info_hashes()
assert hashes.has_v1() and hashes.has_v2(), "not a hybrid torrent"
print(json.dumps({"info_hash": str(hashes.v1), "info_hash_v2": str(hashes.v2)[:40], "payload": len(payload)}), flush=True)
sys.stdin.readline()


def make_session():
    settings = {
        "listen_interfaces": f"{listen_host}:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "ssrf_mitigation": False,
        "announce_to_all_trackers": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
    }
    # flags 0: no default plugins, so no peer exchange (ut_pex) and no metadata exchange.
    return lt.session(settings, 0)


seeder = make_session()
leecher = make_session()
seed_handle = seeder.add_torrent({"ti": info, "save_path": seed_dir, "trackers": [seed_url]})
leech_handle = leecher.add_torrent({"ti": lt.torrent_info(info), "save_path": leech_dir, "trackers": [leech_url]})

tracker_errors = []
replies = {"v1": 0, "v2": 0}


def drain():
    for session in (seeder, leecher):
        for alert in session.pop_alerts():
            if isinstance(alert, lt.tracker_error_alert):
                tracker_errors.append(alert.message())
            elif isinstance(alert, lt.tracker_reply_alert):
                version = "v2" if alert.version == lt.protocol_version.V2 else "v1"
                replies[version] += 1


deadline = time.time() + timeout
last_reannounce = 0.0
done = False
while time.time() < deadline:
    drain()
    if leech_handle.status().is_seeding:
        done = True
        break
    if time.time() - last_reannounce > 2 and seed_handle.status().is_seeding:
        leech_handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
        last_reannounce = time.time()
    time.sleep(0.005)

seed_started = time.time()
if done:
    # Both seed a while, announcing every 2 s: seed time accrues between those announces.
    while time.time() - seed_started < seed_seconds:
        for handle in (seed_handle, leech_handle):
            handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
        until = time.time() + 2
        while time.time() < until:
            drain()
            time.sleep(0.05)
seeded = time.time() - seed_started

received = b""
path = os.path.join(leech_dir, "payload.bin")
if os.path.exists(path):
    with open(path, "rb") as f:
        received = f.read()
same = hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
status = {"seeder_uploaded": seed_handle.status().total_payload_upload, "leecher_downloaded": leech_handle.status().total_payload_download}
# Quitting: removing the torrents sends "stopped" on both hashes; give those announces time to go out.
seeder.remove_torrent(seed_handle)
leecher.remove_torrent(leech_handle)
until = time.time() + 3
while time.time() < until:
    drain()
    time.sleep(0.05)
result = {
    "ok": done and same,
    "detail": {"completed": done, "same_bytes": same, "bytes": len(received), "tracker_errors": tracker_errors[:5], **status},
    "replies": replies,
    "seed_seconds": seeded,
}
print(json.dumps(result), flush=True)
sys.exit(0 if result["ok"] else 1)
