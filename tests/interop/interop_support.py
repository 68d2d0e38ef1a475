"""What the nvgre-pcap interop scripts share: grouped checks with one report line per group,
and a classic pcap writer (link type Ethernet) for frames of any length."""
import collections
import struct


class checker:
    """check(group, cond, what): counts the check in `group`, remembers `what` when it fails."""

    def __init__(self, width=82):
        self.groups = collections.OrderedDict()
        self.width = width

    def __call__(self, group, cond, what):
        g = self.groups.setdefault(group, [0, []])
        g[0] += 1
        if not cond:
            g[1].append(what)
        return cond

    def report(self, title):
        failures = checks = 0
        for name, (n, problems) in self.groups.items():
            print("%-*s %s" % (self.width, name, "ok (%d)" % n if not problems else "FAILED (%d of %d)" % (len(problems), n)))
            for p in problems[:20]:
                print("    " + p)
            failures += len(problems)
            checks += n
        print("%s: %d check groups, %d checks, %d failed" % (title, len(self.groups), checks, failures))
        return failures


def write_pcap(path, frames, step_usec=None):
    """Frames one second apart (or `step_usec` microseconds apart) from 1700000000."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, frame in enumerate(frames):
            sec, usec = (1700000000 + i, 0) if step_usec is None else (1700000000, i * step_usec)
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + bytes(frame))
