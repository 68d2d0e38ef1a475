#!/usr/bin/python3
"""A real OVSDB store of the NVGRE schema (examples/nvgre-ovsdb/nvgre.ovsschema) on loopback:
three ovsdb-server members forming a Raft cluster (ovsdb-tool create-cluster / join-cluster),
or one standalone server. Used by the agent's tests, the live demo and `make scale`.

  scripts/ovsdb_cluster.py start DIR [--members 3|--standalone]   prints the client remotes
  scripts/ovsdb_cluster.py remotes DIR                               tcp:127.0.0.1:P,... (every member)
  scripts/ovsdb_cluster.py leader DIR                                the leader's member number (1..3)
  scripts/ovsdb_cluster.py kill DIR N                                SIGKILL member N (a crash)
  scripts/ovsdb_cluster.py kill-leader DIR                           SIGKILL the leader, print its number
  scripts/ovsdb_cluster.py restart DIR N                             start member N again from its files
  scripts/ovsdb_cluster.py stop DIR                                  stop every member, remove DIR

Each member listens for clients on 127.0.0.1 (a free port chosen at start) and on DIR/mN/db.sock;
Raft runs between them on other loopback ports. DIR holds everything (databases, logs, pid files,
control sockets), so `stop` leaves nothing behind. As a module: `Cluster(DIR).start()`, `.stop()`.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "nvgre-ovsdb", "nvgre.ovsschema")
DATABASE = "NVGRE"


def free_ports(n):
    """n distinct loopback ports that were free a moment ago (bound together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run(*args, check=True):
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


class Cluster:
    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        self.state_file = os.path.join(self.dir, "cluster.json")
        self.members = []  # [{"n": 1, "client": port, "raft": port}]
        self.standalone = False
        if os.path.exists(self.state_file):
            with open(self.state_file) as f:
                state = json.load(f)
            self.members, self.standalone = state["members"], state["standalone"]

    def member_dir(self, n):
        return os.path.join(self.dir, f"m{n}")

    def remote(self, n):
        return f"tcp:127.0.0.1:{self.members[n - 1]['client']}"

    def remotes(self):
        return [self.remote(m["n"]) for m in self.members]

    def unix_remote(self, n):
        return "unix:" + os.path.join(self.member_dir(n), "db.sock")

    def _save(self):
        with open(self.state_file, "w") as f:
            json.dump({"members": self.members, "standalone": self.standalone}, f)

    def start(self, members=3, standalone=False, timeout=30.0):
        if os.path.exists(self.dir):
            raise RuntimeError(f"{self.dir} exists: stop the store there first")
        os.makedirs(self.dir)
        self.standalone = standalone
        count = 1 if standalone else members
        ports = free_ports(2 * count)
        self.members = [{"n": i + 1, "client": ports[2 * i], "raft": ports[2 * i + 1]} for i in range(count)]
        self._save()
        for m in self.members:
            os.makedirs(self.member_dir(m["n"]))
        first = self.members[0]
        db1 = os.path.join(self.member_dir(1), "db")
        if standalone:
            run("ovsdb-tool", "create", db1, SCHEMA)
        else:
            run("ovsdb-tool", "create-cluster", db1, SCHEMA, f"tcp:127.0.0.1:{first['raft']}")
            for m in self.members[1:]:
                run("ovsdb-tool", "join-cluster", os.path.join(self.member_dir(m["n"]), "db"), DATABASE,
                    f"tcp:127.0.0.1:{m['raft']}", f"tcp:127.0.0.1:{first['raft']}")
        for m in self.members:
            self.restart(m["n"], wait=False)
        self.wait_connected(timeout)
        return self

    def restart(self, n, wait=True, timeout=30.0):
        d = self.member_dir(n)
        m = self.members[n - 1]
        for stale in ("pid", "ctl", "db.sock"):
            p = os.path.join(d, stale)
            if os.path.exists(p):
                os.unlink(p)
        run("ovsdb-server", "--detach", "--no-chdir", f"--pidfile={d}/pid", f"--log-file={d}/log",
            f"--unixctl={d}/ctl", f"--remote=ptcp:{m['client']}:127.0.0.1", f"--remote=punix:{d}/db.sock",
            "-vconsole:off", "-vfile:info", os.path.join(d, "db"))
        if wait:
            self.wait_member(n, timeout)

    def wait_member(self, n, timeout=30.0):
        # "connected": a cluster member that has joined and talks to a leader (standalone: at once).
        p = subprocess.run(["timeout", str(int(timeout)), "ovsdb-client", "wait", self.unix_remote(n), DATABASE, "connected"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"member {n} did not connect within {timeout} s: {p.stderr.strip()}")

    def wait_connected(self, timeout=30.0):
        for m in self.members:
            self.wait_member(m["n"], timeout)

    def pid(self, n):
        try:
            with open(os.path.join(self.member_dir(n), "pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def alive(self, n, pid=None):
        """Whether member n (or process `pid`: ovsdb-server removes its pid file before it has
        exited, so a caller that stops a member keeps the pid it read) is running."""
        pid = pid if pid is not None else self.pid(n)
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    def role(self, n):
        if self.standalone:
            return "leader"
        p = run("ovs-appctl", "-t", os.path.join(self.member_dir(n), "ctl"), "cluster/status", DATABASE, check=False)
        for line in p.stdout.splitlines():
            if line.startswith("Role:"):
                return line.split(":", 1)[1].strip()
        return None

    def leader(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.members:
                if self.alive(m["n"]) and self.role(m["n"]) == "leader":
                    return m["n"]
            time.sleep(0.05)
        raise RuntimeError("no leader")

    def kill(self, n):
        pid = self.pid(n)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            for _ in range(200):
                if not self.alive(n, pid):
                    break
                time.sleep(0.01)

    def stop(self):
        for m in self.members:
            pid = self.pid(m["n"])
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                continue
            for _ in range(300):
                if not self.alive(m["n"], pid):
                    break
                time.sleep(0.01)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["start", "remotes", "leader", "kill", "kill-leader", "restart", "stop"])
    ap.add_argument("dir")
    ap.add_argument("member", nargs="?", type=int)
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--standalone", action="store_true")
    a = ap.parse_args()
    c = Cluster(a.dir)
    if a.command == "start":
        try:
            c.start(a.members, a.standalone)
        except Exception as e:  # leave nothing running behind a failed start
            c.stop()
            sys.exit(f"ovsdb_cluster: {e}")
        print(",".join(c.remotes()))
    elif a.command == "remotes":
        print(",".join(c.remotes()))
    elif a.command == "leader":
        print(c.leader())
    elif a.command == "kill-leader":
        n = c.leader()
        c.kill(n)
        print(n)
    elif a.command in ("kill", "restart"):
        if a.member is None or not 1 <= a.member <= len(c.members):
            sys.exit(f"ovsdb_cluster: {a.command} needs a member number 1..{len(c.members)}")
        c.kill(a.member) if a.command == "kill" else c.restart(a.member)
    else:
        c.stop()


if __name__ == "__main__":
    main()
