#!/usr/bin/python3
"""Seeds a small torrent from a libtorrent session listening on LISTEN_IP, for a connectability check.

usage: libtorrent_listen.py LISTEN_IP WORKDIR
Prints one JSON line once the torrent is seeding: {"port": n, "info_hash": "<hex>"}; then runs until its
stdin closes. No tracker: the test announces for it, with the port it prints.
"""
import json
import os
import sys
import time

import libtorrent as lt

listen_ip, workdir = sys.argv[1], sys.argv[2]
with open(os.path.join(workdir, "payload.bin"), "wb") as f:
    f.write(os.urandom(64 * 1024))
fs = lt.file_storage()
lt.add_files(fs, os.path.join(workdir, "payload.bin"))
creator = lt.create_torrent(fs, 16 * 1024)
lt.set_piece_hashes(creator, workdir)
info = lt.torrent_info(lt.bencode(creator.generate()))

session = lt.session(
    {
        "listen_interfaces": f"{listen_ip}:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
    },
    0,
)
handle = session.add_torrent({"ti": info, "save_path": workdir})
deadline = time.time() + 20
while handle.status().state != lt.torrent_status.seeding and time.time() < deadline:
    time.sleep(0.05)
print(json.dumps({"port": session.listen_port(), "info_hash": str(info.info_hash()), "state": str(handle.status().state)}), flush=True)
sys.stdin.read()
