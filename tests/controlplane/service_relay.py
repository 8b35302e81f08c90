"""The `kubernetes` Service for the node's pods: a TCP relay from SERVICE_IP:443 (kubeadm's first
service IP, which the API server's certificate names) to kube-apiserver on 127.0.0.1.

The harness runs no kube-proxy and the API server listens on loopback only, so without this an
in-cluster client (a pod using its ServiceAccount: KUBERNETES_SERVICE_HOST=10.96.0.1) reaches
nothing. node.py gives the bridge the address SERVICE_IP/32 and the pods a route to it through
NODE_IP; this relay then carries the bytes (TLS end to end: it sees no plaintext).

Run as a script by node.py: `python service_relay.py HOST PORT UPSTREAM_PORT WORKDIR/` (WORKDIR
only marks the process as the workdir's). Stdlib only; stopped by signal.
"""
import socket
import sys
import threading


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def _serve(conn: socket.socket, upstream_port: int) -> None:
    try:
        up = socket.create_connection(("127.0.0.1", upstream_port), timeout=10)
    except OSError:
        conn.close()
        return
    up.settimeout(None)
    back = threading.Thread(target=_pipe, args=(up, conn), daemon=True)
    back.start()
    _pipe(conn, up)
    back.join()
    conn.close()
    up.close()


def main(host: str, port: int, upstream_port: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    print(f"relaying {host}:{port} to 127.0.0.1:{upstream_port}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve, args=(conn, upstream_port), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
