#!/usr/bin/python3
"""The host agent and the store tools (examples/nvgre-ovsdb) against real ovsdb-server:
a standalone server, then a 3-member Raft cluster (scripts/ovsdb_cluster.py).

  ovsdb_agent.py NVGRE_OVSDB WORKDIR

Checks:
  - load and dump: the store holds exactly the loaded policy; an invalid policy or change set
    is refused by the tools and never reaches the store;
  - initial sync: each agent's applied policy is what `dump --host` says the host receives;
  - a conditional monitor: a host receives only its routing domains (no row of another tenant,
    no other host's provider routes), and a domain arrives when its first VM lands on the host
    and leaves with its last one;
  - incremental updates: a migration and a new VM, each one transaction, reach every agent;
  - invalid updates written past the tools (ovsdb-client transact): a row the text format
    cannot hold and a record whose PA does not exist are reported and skipped, the host stays
    on its last good policy, and converges once the store is valid again;
  - the cluster: the member an agent monitors is killed; the agent keeps its policy, moves to
    another member, resumes from its last transaction id and receives the change committed
    while it was away.
Exit 0 when every check passes; 1 with the failures listed.
"""
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from ovsdb_cluster import Cluster  # noqa: E402

TOOL, WORK = sys.argv[1], os.path.abspath(sys.argv[2])
failures = []
checks = 0

RED = "{11111111-1111-1111-1111-111111111111}"
BLUE = "{22222222-2222-2222-2222-222222222222}"
POLICY = f"""provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b
provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c
provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d
provider-route host=hv1 prefix=10.9.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01
provider-route host=hv3 prefix=10.9.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01
port-classification name=capped maximum-bandwidth=10M outer-dscp=46
routing-domain rdid={RED} name=red
virtual-subnet vsid=5001 rdid={RED} gateway=10.0.0.1,fd00::1
customer-route rdid={RED} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0
lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web
lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db classification=capped
routing-domain rdid={BLUE} name=blue
virtual-subnet vsid=6001 rdid={BLUE} gateway=10.0.0.1
customer-route rdid={BLUE} vsid=6001 prefix=10.0.0.0/24 next-hop=0.0.0.0
lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.13 vm=blue-web
lookup-record vsid=6001 ca=10.0.0.6 mac=00:15:5d:00:01:06 pa=192.168.10.13 vm=blue-db
"""


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)
        print(f"FAIL {what}", flush=True)


def tool(*args, stdin=None):
    return subprocess.run([TOOL, *args], input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


def write(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Agent:
    """nvgre-ovsdb agent as a process: its log lines, and the policy it holds (--out)."""

    def __init__(self, remotes, host):
        self.host = host
        self.out = os.path.join(WORK, f"{host}.policy")
        if os.path.exists(self.out):
            os.unlink(self.out)
        self.lines = []
        self.proc = subprocess.Popen([TOOL, "agent", "--remote", remotes, "--host", host, "--out", self.out],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def policy(self):
        try:
            with open(self.out) as f:
                return f.read()
        except OSError:
            return None

    def log_has(self, text):
        return any(text in line for line in self.lines)

    def wait(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def last_state(agent):
    states = [l for l in agent.lines if ": state " in l]
    return states[-1].rsplit(" ", 1)[1] if states else None


def view(remotes, host):
    r = tool("dump", "--remote", remotes, "--host", host)
    return r.stdout if r.returncode == 0 else None


def in_step(agent, remotes, timeout=10.0):
    """The agent holds what the store says its host receives."""
    want = view(remotes, agent.host)
    ok = agent.wait(lambda: agent.policy() == want, timeout)
    if not ok:
        print(f"--- {agent.host} holds:\n{agent.policy()}--- the store says:\n{want}--- log:\n" + "\n".join(agent.lines[-15:]))
    return ok


def transact(remote, *ops):
    import json
    return subprocess.run(["ovsdb-client", "transact", remote, json.dumps(["NVGRE", *ops])],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


def standalone_checks():
    store = Cluster(os.path.join(WORK, "standalone")).start(standalone=True)
    remotes = ",".join(store.remotes())
    agents = []
    try:
        # The tools validate before writing.
        bad = write("bad.policy", POLICY + "lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.99\n")
        r = tool("load", "--remote", remotes, bad)
        check(r.returncode == 1 and "bad.policy:17:" in r.stderr, f"load refuses an invalid policy with its line: {r.stderr}")
        check(tool("dump", "--remote", remotes).stdout == "", "a refused load leaves the store empty")
        good = write("good.policy", POLICY)
        r = tool("load", "--remote", remotes, good)
        check(r.returncode == 0, f"load: {r.stderr}")
        formatted = subprocess.run([TOOL, "dump", "--remote", remotes], stdout=subprocess.PIPE, text=True).stdout
        check(formatted.count("\n") == 16 and "vm=blue-db" in formatted, "dump gives back every loaded object")

        hv1, hv2, hv3 = (Agent(remotes, h) for h in ("hv1", "hv2", "hv3"))
        agents += [hv1, hv2, hv3]
        for a in agents:
            check(in_step(a, remotes), f"initial sync of {a.host}")
        p1, p3 = hv1.policy() or "", hv3.policy() or ""
        check("vsid=6001" not in p1 and "blue" not in p1, "hv1 (red only) receives no row of blue")
        check("host=hv3" not in p1, "hv1 receives neither hv3's PA nor its provider route")
        check("vsid=5001" not in p3 and "host=hv1" not in p3, "hv3 (blue only) receives no row of red and no PA of red's hosts")
        check("name=capped" in p1 and "name=capped" not in p3, "a classification goes to the hosts of the records naming it")

        # A migration and a new VM, one transaction each.
        mig = write("migrate.cs", "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db classification=capped\n")
        r = tool("apply", "--remote", remotes, mig)
        check(r.returncode == 0, f"apply a migration: {r.stderr}")
        for a in agents:
            check(in_step(a, remotes), f"{a.host} after the migration")
        check("pa=192.168.10.11 vm=red-db" in (hv1.policy() or ""), "hv1 holds red-db on its new PA")
        # red's last VM leaves hv2: hv2 no longer serves red and drops the whole domain.
        check("vsid=5001" not in (hv2.policy() or "x"), "hv2 drops red when its last red VM leaves")
        # blue's first VM lands on hv1: hv1 now serves blue and receives all of it.
        new_vm = write("new-vm.cs", "+ lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:01:09 pa=192.168.10.11 vm=blue-new\n")
        check(tool("apply", "--remote", remotes, new_vm).returncode == 0, "apply a new VM")
        check(in_step(hv1, remotes), "hv1 after blue's first VM on it")
        check("vm=blue-db" in (hv1.policy() or ""), "hv1 received all of blue with its first blue VM")
        check(in_step(hv3, remotes), "hv3 after the new VM")

        # An invalid change set never reaches the store.
        dup = write("dup.cs", "+ lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:77 pa=192.168.10.13\n"
                              "+ lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:01:78 pa=192.168.10.13\n"
                              "- lookup-record vsid=5001 ca=10.0.0.99\n")
        before = tool("dump", "--remote", remotes).stdout
        r = tool("apply", "--remote", remotes, dup)
        check(r.returncode == 1 and "dup.cs:3:" in r.stderr, f"apply refuses a change set that removes a missing record: {r.stderr}")
        check(tool("dump", "--remote", remotes).stdout == before, "a refused change set leaves the store as it was")

        # Past the tools: a row the text format cannot hold (a blank in a name).
        gen_lines = len([l for l in hv3.lines if "applied" in l])
        held = hv3.policy()
        r = transact(store.remote(1), {"op": "update", "table": "Lookup_Record", "where": [["vm", "==", "blue-web"]],
                                       "row": {"vm": "blue web pa=1.2.3.4"}})
        check(r.returncode == 0, f"ovsdb-client transact: {r.stderr}")
        check(hv3.wait(lambda: hv3.log_has("skipped row Lookup_Record/")), "hv3 reports the row it cannot read")
        time.sleep(0.3)
        check(hv3.policy() == held, "hv3 keeps the row's last good value")
        # ... and a record on a PA that no provider address declares (valid rows, invalid policy).
        r = transact(store.remote(1), {"op": "insert", "table": "Lookup_Record",
                                       "row": {"vsid": 6001, "ca": "10.0.0.20", "mac": "00:15:5d:00:01:20", "pa": "192.168.10.99"}})
        check(r.returncode == 0, f"ovsdb-client transact: {r.stderr}")
        check(hv3.wait(lambda: hv3.log_has("refused")), "hv3 refuses the record on an undeclared PA")
        check(any("192.168.10.99" in l and "error" in l for l in hv3.lines), "the refusal names the undeclared PA")
        time.sleep(0.3)
        check(hv3.policy() == held, "hv3 stays on its last good policy")
        check(len([l for l in hv3.lines if "applied" in l]) == gen_lines, "no generation was applied for the bad updates")
        check(hv3.wait(lambda: hv3.lines and "state degraded" in "\n".join(hv3.lines)), "hv3 says it is degraded")
        # The store becomes valid again: the PA is declared, the name fixed; hv3 converges.
        r = transact(store.remote(1),
                     {"op": "insert", "table": "Provider_Address", "row": {"host": "hv9", "pa": "192.168.10.99", "prefix_length": 24, "mac": "02:00:00:00:00:99"}},
                     {"op": "update", "table": "Lookup_Record", "where": [["ca", "==", "10.0.0.5"], ["vsid", "==", 6001]], "row": {"vm": "blue-web2"}})
        check(r.returncode == 0, f"ovsdb-client transact: {r.stderr}")
        check(in_step(hv3, remotes), "hv3 converges once the store is valid")
        check("pa=192.168.10.99" in (hv3.policy() or "") and "vm=blue-web2" in (hv3.policy() or ""), "hv3 applied the held-back record and the fixed row")
        check(hv3.wait(lambda: last_state(hv3) == "live"), "hv3 is live again")
    finally:
        for a in agents:
            a.stop()
        store.stop()


def cluster_checks():
    cluster = Cluster(os.path.join(WORK, "cluster")).start(members=3)
    remotes = ",".join(cluster.remotes())
    agents = []
    try:
        check(tool("load", "--remote", remotes, write("good.policy", POLICY)).returncode == 0, "load into the cluster")
        leader = cluster.leader()
        # Each agent tries its list in order: put the leader first for hv1, a follower for hv3.
        order = lambda first: ",".join([cluster.remote(first)] + [cluster.remote(m["n"]) for m in cluster.members if m["n"] != first])
        follower = next(m["n"] for m in cluster.members if m["n"] != leader)
        hv1 = Agent(order(leader), "hv1")
        hv3 = Agent(order(follower), "hv3")
        agents += [hv1, hv3]
        for a in agents:
            check(in_step(a, remotes), f"initial sync of {a.host} from the cluster")
        held = hv1.policy()
        cluster.kill(leader)
        check(hv1.wait(lambda: hv1.log_has("lost")), "hv1 notices its member is gone")
        check(hv1.policy() == held, "hv1 keeps its policy while it has no member")
        # A change committed through the survivors (once they have a new leader).
        survivors = ",".join(cluster.remote(m["n"]) for m in cluster.members if m["n"] != leader)
        mig = write("migrate.cs", "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db classification=capped\n")
        deadline = time.monotonic() + 20
        while True:
            r = tool("apply", "--remote", survivors, mig)
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check(r.returncode == 0, f"a change committed after the leader died: {r.stderr}")
        check(in_step(hv1, survivors, 20), "hv1 catches up on another member")
        check(hv1.log_has("resumed on"), "hv1 resumed its monitor from its last transaction id (no full resync)")
        check(in_step(hv3, survivors, 20), "hv3 (on a follower) receives the change too")
        ok = hv1.wait(lambda: last_state(hv1) == "live")
        check(ok, "hv1 is live again")
        if not ok:
            print("\n".join(hv1.lines))
        check(any("state degraded" in l for l in hv1.lines), "hv1 was degraded while it had no member")
        # The killed member comes back and catches up; an agent on it gets the same policy.
        cluster.restart(leader)
        hv2 = Agent(cluster.remote(leader), "hv2")
        agents.append(hv2)
        check(in_step(hv2, survivors, 20), "an agent on the restarted member syncs")
    finally:
        for a in agents:
            a.stop()
        cluster.stop()


def main():
    os.makedirs(WORK, exist_ok=True)
    for d in ("standalone", "cluster"):
        Cluster(os.path.join(WORK, d)).stop()  # leftovers of an interrupted run
    started = time.monotonic()
    standalone_checks()
    cluster_checks()
    print(f"ovsdb_agent: {checks - len(failures)}/{checks} checks passed in {time.monotonic() - started:.1f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
