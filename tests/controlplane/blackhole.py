"""A TCP listener on 127.0.0.1 that accepts connections and never answers.

Run as a script by the `blackhole` fault knob: `python blackhole.py PORT_FILE`. It binds a
free port, writes the port number to PORT_FILE (atomically) and then accepts forever,
holding every connection open without reading or writing, like a hung upstream: clients
connect fine and then time out waiting for a response. Stdlib only; stopped by signal.
"""
import os
import socket
import sys


def main(port_file: str) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    tmp = f"{port_file}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{listener.getsockname()[1]}\n")
    os.replace(tmp, port_file)
    held = []  # keep references so the connections are never closed
    while True:
        conn, _ = listener.accept()
        held.append(conn)


if __name__ == "__main__":
    main(sys.argv[1])
