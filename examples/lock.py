#!/usr/bin/env python3
"""Take a raftlock lock over the HTTP API, write with its fencing token, release it.

Standard library only (urllib and ssl). With the local cluster of `npx raftlock up`, from the
repository's directory:

    python3 examples/lock.py --ca data/pki/ca.crt \\
        --cert data/pki/users/root.crt --key data/pki/users/root.key

or with a password instead of a certificate (`raftlock user add alice` made the user):

    python3 examples/lock.py --ca data/pki/ca.crt --user alice --password ...

docs/http.md describes every route; this script uses five of them.
"""

import argparse
import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


class ApiError(Exception):
    """A refusal from the node: its HTTP status and the JSON body's code and message."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class Node:
    """One raftlock node's HTTP API."""

    def __init__(self, url, context):
        self.url = url.rstrip("/")
        self.context = context
        self.token = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token is not None:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            try:
                refusal = json.load(error)
            except ValueError:
                refusal = {"code": "HTTP", "message": error.reason}
            raise ApiError(error.code, refusal.get("code"), refusal.get("message")) from None

    def login(self, user, password):
        self.token = self.call("POST", "/v1/auth/login", {"user": user, "password": password})["token"]


def segment(name):
    """A lock or key name as one URL path segment ("/" becomes %2F)."""
    return urllib.parse.quote(name, safe="")


def tls_context(args):
    if not args.url.startswith("https://"):
        return None
    context = ssl.create_default_context(cafile=args.ca)
    if args.cert is not None:
        context.load_cert_chain(args.cert, args.key)
    return context


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="https://127.0.0.1:7301", help="a node's HTTP address")
    parser.add_argument("--ca", help="the cluster CA certificate (data/pki/ca.crt)")
    parser.add_argument("--cert", help="a user certificate of the cluster CA")
    parser.add_argument("--key", help="its private key")
    parser.add_argument("--user", help="log in as this user (instead of a certificate)")
    parser.add_argument("--password", help="the user's password")
    parser.add_argument("--lock", default="examples/report", help="the lock to take")
    parser.add_argument("--write", default="examples/report-output", help="the key to write under the lock")
    parser.add_argument("--text", default="written under the lock", help="what to write")
    parser.add_argument("--wait-ms", type=int, default=10000, help="how long to wait for the lock")
    args = parser.parse_args()
    if args.url.startswith("https://") and args.ca is None:
        parser.error("--ca is required for https")

    node = Node(args.url, tls_context(args))
    if args.user is not None:
        node.login(args.user, args.password or "")
    session = node.call("POST", "/v1/sessions", {"ttlMs": 15000})["session"]
    try:
        grant = node.call(
            "POST", f"/v1/locks/{segment(args.lock)}/acquire", {"session": session, "waitMs": args.wait_ms}
        )
        token = grant["token"]
        print(f"holding {args.lock} with fencing token {token}")
        # The fence makes the write conditional: refused (409 STALE_TOKEN) if another holder has
        # been granted the lock since, e.g. because this session expired while paused.
        written = node.call(
            "PUT",
            f"/v1/kv/{segment(args.write)}",
            {"session": session, "text": args.text, "fence": {"lock": args.lock, "token": token}},
        )
        print(f"wrote {args.write} version {written['version']}")
        node.call("POST", f"/v1/locks/{segment(args.lock)}/release", {"session": session})
        print(f"released {args.lock}")
    finally:
        node.call("DELETE", f"/v1/sessions/{session}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ApiError as error:
        print(f"raftlock refused: {error}", file=sys.stderr)
        sys.exit(1)
    except (urllib.error.URLError, OSError) as error:
        print(f"cannot reach raftlock: {error}", file=sys.stderr)
        sys.exit(2)
