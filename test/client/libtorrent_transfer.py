#!/usr/bin/python3
"""A real BitTorrent transfer on loopback whose only peer source is our tracker.

usage: libtorrent_transfer.py TRACKER_URL LISTEN_HOST WORKDIR TIMEOUT_SECONDS
Prints one JSON line: {"ok": bool, "detail": ..., "peer_sources": [...]} and exits 0 when the leecher
completed with the seeder's exact bytes, 1 otherwise. DHT, LSD, UPnP, NAT-PMP and peer exchange are off
(the session is made without default plugins), so the tracker is the only way the two can meet.
"""
import hashlib
import json
import os
import sys
import time

import libtorrent as lt

tracker_url, listen_host, workdir, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
seed_dir = os.path.join(workdir, "seed")
leech_dir = os.path.join(workdir, "leech")
os.makedirs(seed_dir, exist_ok=True)
os.makedirs(leech_dir, exist_ok=True)

payload = os.urandom(3 * 1024 * 1024 + 12345)
with open(os.path.join(seed_dir, "payload.bin"), "wb") as f:
    f.write(payload)

fs = lt.file_storage()
lt.add_files(fs, os.path.join(seed_dir, "payload.bin"))
creator = lt.create_torrent(fs, 64 * 1024)
creator.add_tracker(tracker_url)
lt.set_piece_hashes(creator, seed_dir)
info = lt.torrent_info(lt.bencode(creator.generate()))


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
seed_handle = seeder.add_torrent({"ti": info, "save_path": seed_dir})
leech_handle = leecher.add_torrent({"ti": lt.torrent_info(info), "save_path": leech_dir})

tracker_errors = []
peer_sources = set()
deadline = time.time() + timeout
last_reannounce = 0.0
done = False
while time.time() < deadline:
    for session in (seeder, leecher):
        for alert in session.pop_alerts():
            if isinstance(alert, (lt.tracker_error_alert,)):
                tracker_errors.append(alert.message())
    # Whichever side dialled, the dialling side learned the address from somewhere: record where.
    for handle in (seed_handle, leech_handle):
        for peer in handle.get_peer_info():
            if peer.flags & lt.peer_info.local_connection:
                if peer.source & lt.peer_info.tracker:
                    peer_sources.add("tracker")
                if peer.source & ~lt.peer_info.tracker & 0x3F:
                    peer_sources.add(f"other:{peer.source}")
    if leech_handle.status().is_seeding:
        done = True
        break
    # Until the seeder is known to the tracker, the leecher asks again (the tracker's min interval is short in this test).
    if time.time() - last_reannounce > 2 and seed_handle.status().is_seeding:
        leech_handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
        last_reannounce = time.time()
    # Polled often: on loopback the whole transfer can begin and end within a few tens of milliseconds,
    # and a connection is only seen (with its peer source) while it lasts.
    time.sleep(0.002)

# The leecher's "completed" announce follows completion: wait until the tracker has answered an
# announce of the leecher's made after it finished (a forced one, queued behind "completed").
if done:
    leech_handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
    until = time.time() + 10
    answered = False
    while time.time() < until and not answered:
        for alert in leecher.pop_alerts():
            if isinstance(alert, lt.tracker_reply_alert):
                answered = True
        time.sleep(0.05)

received = b""
path = os.path.join(leech_dir, "payload.bin")
if os.path.exists(path):
    with open(path, "rb") as f:
        received = f.read()
same = hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
# Let the leecher's "completed" announce reach the tracker before the sessions go.
time.sleep(1.0)
result = {
    "ok": done and same,
    "detail": {"completed": done, "same_bytes": same, "bytes": len(received), "tracker_errors": tracker_errors[:5]},
    "peer_sources": sorted(peer_sources),
    "info_hash": str(info.info_hash()),
}
print(json.dumps(result), flush=True)
sys.exit(0 if result["ok"] else 1)
