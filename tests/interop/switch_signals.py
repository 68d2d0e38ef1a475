"""What the switches' CLI scripts (switch_cli.py, dpdk_cli.py) share: a switch started in a
network namespace of its own must print every counter on SIGUSR1 and go on, and print them once
more and exit 0 on SIGINT and on SIGTERM."""
import os
import signal
import subprocess
import time

VERDICTS = ("encap", "rewrite", "local", "reply", "flood", "deliver", "drop")


def check_signals(netns, command, work, required=()):
    """Runs `command` (inside `netns`) once per stop signal; returns the number of failures.
    `required`: counter names, besides every verdict and spoofed-source, the blocks must hold."""
    failures = 0
    for stop in (signal.SIGINT, signal.SIGTERM):
        log = os.path.join(work, f"signals-{stop.name}.log")
        with open(log, "w") as out:
            p = subprocess.Popen(["ip", "netns", "exec", netns] + command, stdout=out, stderr=subprocess.STDOUT)

            def text():
                with open(log) as f:
                    return f.read()

            def wait_for(needle):  # up to 20 s
                for _ in range(400):
                    if needle in text():
                        return True
                    time.sleep(0.05)
                return False

            ready = wait_for(": ready:")
            p.send_signal(signal.SIGUSR1)
            dumped = wait_for("end of counters")
            alive = p.poll() is None
            p.send_signal(stop)
            code = p.wait(timeout=20)
        t = text()
        block = t.rsplit(": counters\n", 1)[-1]
        complete = all(f"verdict {v} " in block for v in VERDICTS) and "drop spoofed-source " in block \
            and all(f"{name} " in block for name in required)
        ok = ready and dumped and alive and code == 0 and t.count("end of counters") == 2 and complete
        print(f"{'ok  ' if ok else 'FAIL'} SIGUSR1 then {stop.name}: ready {ready}, counters on SIGUSR1 {dumped} "
              f"(still running {alive}), exit {code}, {t.count('end of counters')} counter blocks, every name {complete}")
        failures += not ok
    return failures
