#!/usr/bin/python3
"""Announces once to TRACKER_URL and reports the external address libtorrent was told (BEP 24).

usage: libtorrent_external_ip.py TRACKER_URL WORKDIR TIMEOUT_SECONDS
Prints one JSON line: {"external_ip": "..." or null, "replies": n, "errors": [...]}. libtorrent posts
external_ip_alert when a vote changes its idea of its external address; it ignores loopback and private
addresses, so the test tells the tracker a public one through a trusted proxy.
"""
import json
import os
import sys
import time

import libtorrent as lt

tracker_url, workdir, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(os.path.join(workdir, "payload.bin"), "wb") as f:
    f.write(os.urandom(64 * 1024))
fs = lt.file_storage()
lt.add_files(fs, os.path.join(workdir, "payload.bin"))
creator = lt.create_torrent(fs, 16 * 1024)
creator.add_tracker(tracker_url)
lt.set_piece_hashes(creator, workdir)
info = lt.torrent_info(lt.bencode(creator.generate()))

session = lt.session(
    {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "ssrf_mitigation": False,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.tracker_notification
        | lt.alert.category_t.status_notification,
    },
    0,
)
session.add_torrent({"ti": info, "save_path": workdir})
external_ip = None
replies = 0
errors = []
deadline = time.time() + timeout
while time.time() < deadline and external_ip is None:
    for alert in session.pop_alerts():
        if isinstance(alert, lt.external_ip_alert):
            external_ip = str(alert.external_address)
        elif isinstance(alert, lt.tracker_reply_alert):
            replies += 1
        elif isinstance(alert, lt.tracker_error_alert):
            errors.append(alert.message())
    time.sleep(0.05)
print(json.dumps({"external_ip": external_ip, "replies": replies, "errors": errors[:5]}), flush=True)
