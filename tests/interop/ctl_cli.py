#!/usr/bin/python3
"""nvgre-ctl against a real control_server (examples/nvgre-ctl/echo_server.cpp, which echoes each
request's words and body and refuses one with the word `fail`): the answer on stdout with exit 0
or on stderr with exit 1, apply's file (and standard input) sent whole, and every failure of
its own (a missing file, no server, bad usage) one clear line on stderr, exit 1 or 2.
Usage: ctl_cli.py NVGRE_CTL ECHO_SERVER WORKDIR"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

ctl, echo_server, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
failures = 0


def check(name, ok, detail):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    failures += not ok


def run(args, stdin=None):
    return subprocess.run([ctl] + args, capture_output=True, input=stdin, timeout=15)


def expect(args, code, stdout=None, stderr_has=None, one_line=False, stdin=None):
    """nvgre-ctl ARGS exits `code`; its stdout is `stdout` (bytes), its stderr holds `stderr_has`
    (and is one line when `one_line`)."""
    p = run(args, stdin)
    err = p.stderr.decode(errors="replace")
    ok = p.returncode == code
    ok = ok and (stdout is None or p.stdout == stdout)
    ok = ok and (stderr_has is None or stderr_has in err)
    ok = ok and (not one_line or len(err.splitlines()) == 1)
    ok = ok and (code == 0 or p.stdout == b"")  # nothing on stdout when it failed
    check(" ".join(args).replace(path, "PATH").replace(work, "WORKDIR")[:80], ok, f"exit {p.returncode}: {err.strip() or p.stdout.decode(errors='replace').strip()[:120]!r}")


# The socket lives in a short directory of its own: sun_path holds 107 bytes, build trees can be deeper.
tmp = tempfile.mkdtemp(prefix="nvgre-ctl-")
path = os.path.join(tmp, "ctl.sock")
server = None
try:
    # Bad usage: exit 2, one line, before any connection.
    expect(["--help"], 0, stderr_has=None)
    help_out = run(["--help"]).stdout.decode()
    check("--help prints the usage", help_out.startswith("usage: nvgre-ctl --socket PATH COMMAND"), help_out.splitlines()[0])
    s = ["--socket", path]
    expect([], 2, stderr_has="--socket PATH is required", one_line=True)
    expect(["--socket"], 2, stderr_has="option '--socket' needs a value", one_line=True)
    expect(["--bogus", "x"], 2, stderr_has="unknown option '--bogus'", one_line=True)
    expect(s, 2, stderr_has="no command given", one_line=True)
    expect(s + ["frobnicate"], 2, stderr_has="unknown command 'frobnicate'", one_line=True)
    expect(s + ["show"], 2, stderr_has="show wants one of generation, counters, ports", one_line=True)
    expect(s + ["show", "everything"], 2, stderr_has="show wants one of generation, counters, ports", one_line=True)
    expect(s + ["apply"], 2, stderr_has="apply wants FILE", one_line=True)
    expect(s + ["attach", "veth3"], 2, stderr_has="attach wants IFACE=MAC, not 'veth3'", one_line=True)
    expect(s + ["detach", "veth 3"], 2, stderr_has="detach wants an interface name", one_line=True)

    # No server: nothing at the path, then a socket file nobody listens on (a dead switch's).
    expect(s + ["show", "generation"], 1, stderr_has=f"cannot connect to '{path}'", one_line=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    expect(s + ["show", "generation"], 1, stderr_has="(no switch is listening there)", one_line=True)

    # The echo server takes the stale socket's place.
    server = subprocess.Popen([echo_server, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = server.stdout.readline().strip()
    check("the echo server replaces a stale socket and listens", ready == "ready", ready or server.stderr.read().strip())

    expect(s + ["show", "generation"], 0, stdout=b"command: show generation\nbody: 0 bytes\n")
    expect(s + ["attach", "veth3=00:15:5d:00:00:06"], 0, stdout=b"command: attach veth3=00:15:5d:00:00:06\nbody: 0 bytes\n")
    changes = os.path.join(work, "changes.cs")
    text = b"# a change set\nadd customer-route vsid=5001 prefix=10.0.9.0/24\n\x00binary\xff bytes\nno final newline"
    with open(changes, "wb") as f:
        f.write(text)
    expect(s + ["apply", changes], 0, stdout=b"command: apply %s\nbody: %d bytes\n%s\n" % (changes.encode(), len(text), text))
    expect(s + ["apply", "-"], 0, stdin=text, stdout=b"command: apply -\nbody: %d bytes\n%s\n" % (len(text), text))
    spaced = os.path.join(work, "my changes.cs")
    shutil.copy(changes, spaced)
    label = spaced.replace(" ", "?").encode()
    expect(s + ["apply", spaced], 0, stdout=b"command: apply %s\nbody: %d bytes\n%s\n" % (label, len(text), text))
    missing = os.path.join(work, "missing.cs")
    expect(s + ["apply", missing], 1, stderr_has=f"cannot read '{missing}': No such file or directory", one_line=True)
    expect(s + ["apply", work], 1, stderr_has=f"cannot read '{work}': Is a directory", one_line=True)
    # Refused: the server's text on stderr, nothing on stdout, exit 1.
    expect(s + ["detach", "fail"], 1, stderr_has="echo server: refused 'detach fail' as asked", one_line=True)

    # Not a control socket: a server that answers something else.
    other = os.path.join(tmp, "other.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(other)
    listener.listen(1)
    with subprocess.Popen([ctl, "--socket", other, "show", "ports"], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
        conn, _ = listener.accept()
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        conn.close()
        out, err = p.communicate(timeout=15)
    check("a server that is not a switch's", p.returncode == 1 and b"is not a switch's control socket" in err and len(err.splitlines()) == 1,
          f"exit {p.returncode}: {err.decode(errors='replace').strip()!r}")
    listener.close()

    # SIGTERM ends the server, which removes its socket; then nothing is there.
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=10)
    check("the echo server exits 0 on SIGTERM and removes its socket", code == 0 and not os.path.exists(path),
          f"exit {code}, socket {'still there' if os.path.exists(path) else 'removed'}")
    server = None
    expect(s + ["show", "counters"], 1, stderr_has=f"cannot connect to '{path}': No such file or directory", one_line=True)
finally:
    if server is not None:
        server.kill()
        server.wait()
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{failures} failures")
sys.exit(1 if failures else 0)
