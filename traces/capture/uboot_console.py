#!/usr/bin/env python3
"""uboot_console.py CONSOLE_LOG COMMANDS_FILE -- ARGV...

Runs ARGV (QEMU with `-serial stdio`, itself under `timeout`), copies its
serial output to CONSOLE_LOG and, each time U-Boot shows its `=> ` prompt,
sends the next line of COMMANDS_FILE.  After the last command it closes
stdin and waits for QEMU to exit.  Exit status is QEMU's.
"""
import os
import subprocess
import sys
import time


def main():
    log_path, cmds_path = sys.argv[1], sys.argv[2]
    argv = sys.argv[sys.argv.index('--') + 1:]
    cmds = [l.rstrip('\n') for l in open(cmds_path) if l.strip() and not l.startswith('#')]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    buf = b''
    with open(log_path, 'wb') as log:
        while True:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            log.write(chunk)
            log.flush()
            buf += chunk
            if buf.endswith(b'=> ') and p.stdin is not None:
                buf = b''
                if cmds:
                    time.sleep(0.2)
                    c = cmds.pop(0)
                    p.stdin.write(c.encode() + b'\n')
                    p.stdin.flush()
                else:
                    p.stdin.close()
                    p.stdin = None
            buf = buf[-64:]
    return p.wait()


if __name__ == '__main__':
    sys.exit(main())
