"""on_a_pty.py [--sigint TEXT] ERRFILE CMD...: runs CMD with its standard
error on a pseudo-terminal (so that isatty(2) holds), stdin from /dev/null and
stdout inherited; writes every byte the terminal received to ERRFILE and exits
with CMD's status (cli/tests/test_cli_progress.sh). --sigint: sends CMD
SIGINT once TEXT has been drawn twice on the terminal (a progress line being
redrawn)."""
import os
import pty
import signal
import subprocess
import sys

args = sys.argv[1:]
sigint = None
if args[0] == "--sigint":
    sigint = args[1].encode()
    args = args[2:]
master, slave = pty.openpty()
proc = subprocess.Popen(args[1:], stdin=subprocess.DEVNULL, stderr=slave)
os.close(slave)
got = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the last writer closed the terminal
        break
    if not chunk:
        break
    got += chunk
    if sigint is not None and got.count(sigint) >= 2:
        proc.send_signal(signal.SIGINT)
        sigint = None
status = proc.wait()
with open(args[0], "wb") as f:
    f.write(got)
sys.exit(status if status >= 0 else 128 - status)
