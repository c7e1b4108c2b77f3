"""on_a_pty.py ERRFILE CMD...: runs CMD with its standard error on a
pseudo-terminal (so that isatty(2) holds), stdin from /dev/null and stdout
inherited; writes every byte the terminal received to ERRFILE and exits with
CMD's status (cli/tests/test_cli_progress.sh)."""
import os
import pty
import subprocess
import sys

master, slave = pty.openpty()
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stderr=slave)
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
status = proc.wait()
with open(sys.argv[1], "wb") as f:
    f.write(got)
sys.exit(status if status >= 0 else 128 - status)
