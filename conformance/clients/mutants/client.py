#!/usr/bin/env python3
"""Deliberately broken IMDS clients, and the faithful one they break, for `imdspec client-check`.

    client.py MODE [--only credentials|region|instance-id] [--again-after-ms N]
    client.py --list        # every MODE and what it breaks, tab-separated

MODE `faithful` is the project's reference client: IMDSv2 first with a 21600 s token cached for
the run; the PUT's 403/404/405, timeout or failed connection fall back to IMDSv1 (unless
AWS_EC2_METADATA_V1_DISABLED=true), 400 stops, 5xx is tried 3 times before falling back; every
request has a 1 s timeout; a GET answered 401 gets a new token and is sent again, 5xx, 429 and
timeouts are tried 3 times; AWS_EC2_METADATA_DISABLED=true sends nothing. It loads role
credentials, the region and the instance id (or only one of them, `--only`); a failure does not
stop the later components. `--again-after-ms N` loads them again N ms after the start, with
the same client: credentials it holds are used while they are valid; expired ones are
refreshed, and when the refresh fails they are kept, with a warning (static stability). Every
other MODE breaks one rule (see MUTANTS).
Exit 0 when everything loaded, 1 otherwise, 2 on a bad MODE or a non-loopback endpoint.
Standard library only.
"""
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse

MUTANTS = {
    "faithful": "the reference client",
    "no-token": "never sends a token PUT (IMDSv1 only)",
    "fallback-on-400": "falls back to IMDSv1 when the token PUT is answered 400",
    "retry-forever": "sends a failing GET again and again",
    "no-retry": "never sends a failed GET again",
    "ignore-disabled": "ignores AWS_EC2_METADATA_DISABLED",
    "ttl-0": "asks for a token TTL of 0",
    "ttl-21601": "asks for a token TTL of 21601",
    "x-forwarded-for": "sends X-Forwarded-For",
    "reuse-after-401": "sends a GET answered 401 again with the same token",
    "keep-revoked": "after a 401 uses a new token for the retry, but keeps the rejected one cached",
    "no-timeout": "waits for ever on an unanswered request",
    "ignore-v1-disabled": "falls back to IMDSv1 although AWS_EC2_METADATA_V1_DISABLED=true",
    "no-refresh": "uses expired credentials without trying to refresh them",
}
COMPONENTS = ["credentials", "region", "instance-id"]

TOKEN_PATH = "/latest/api/token"
TIMEOUT_S = 1.0
ATTEMPTS = 3
# retry-forever's bound: far more than any scenario allows, far less than for ever.
FOREVER = 10_000


class Failed(Exception):
    """A load failed; the message says why."""


class Client:
    def __init__(self, mode, endpoint):
        self.mode = mode
        url = urllib.parse.urlsplit(endpoint)
        self.host, self.port = url.hostname, url.port or 80
        self.token = None
        # The role credentials document last loaded.
        self.credentials = None
        # None: not tried yet; "v1": go without a token; "fatal": the PUT said stop.
        self.token_state = None
        self.v1_disabled = os.environ.get("AWS_EC2_METADATA_V1_DISABLED", "").lower() == "true"
        if mode == "ignore-v1-disabled":
            self.v1_disabled = False

    def send(self, method, path, headers):
        """(status, body), or raises OSError / socket.timeout."""
        timeout = None if self.mode == "no-timeout" else TIMEOUT_S
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if self.mode == "x-forwarded-for":
                headers = dict(headers, **{"X-Forwarded-For": "10.0.0.1"})
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def fetch_token(self):
        ttl = {"ttl-0": "0", "ttl-21601": "21601"}.get(self.mode, "21600")
        for _ in range(ATTEMPTS):
            try:
                status, body = self.send("PUT", TOKEN_PATH, {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
            except OSError:  # timeout, reset, refused: no IMDSv2 here
                return self.no_token("token PUT got no answer")
            if status == 200:
                self.token, self.token_state = body, "v2"
                return
            if status in (403, 404, 405):
                return self.no_token(f"token PUT answered {status}")
            if status == 400 and self.mode != "fallback-on-400":
                self.token_state = "fatal"
                raise Failed("token PUT answered 400")
            if status < 500 and status != 400:
                self.token_state = "fatal"
                raise Failed(f"token PUT answered {status}")
        return self.no_token("token PUT kept failing")

    def no_token(self, why):
        if self.v1_disabled:
            self.token_state = "fatal"
            raise Failed(f"{why} and IMDSv1 is disabled")
        self.token_state = "v1"

    def get(self, path):
        if self.mode == "no-token":
            self.token_state = "v1"
        if self.token_state is None:
            self.fetch_token()
        if self.token_state == "fatal":
            raise Failed("no token")
        attempts = {"no-retry": 1, "retry-forever": FOREVER}.get(self.mode, ATTEMPTS)
        retry_token = None
        last = "no attempt"
        for _ in range(attempts):
            token = retry_token or self.token
            retry_token = None
            headers = {"X-aws-ec2-metadata-token": token} if self.token_state == "v2" else {}
            try:
                status, body = self.send("GET", path, headers)
            except OSError as e:
                last = f"{type(e).__name__}"
                continue
            if status == 200:
                return body
            last = f"answered {status}"
            if status == 401 and self.token_state == "v2":
                if self.mode == "reuse-after-401":
                    continue
                kept = self.token
                self.fetch_token()
                if self.mode == "keep-revoked":
                    retry_token, self.token = self.token, kept
                continue
            if status < 500 and status != 429:
                break
        raise Failed(f"GET {path}: {last}")


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def fetch_credentials(c):
    role = c.get("/latest/meta-data/iam/security-credentials/").split("\n")[0].strip()
    return json.loads(c.get(f"/latest/meta-data/iam/security-credentials/{role}"))


def credentials(c):
    held = c.credentials
    if held is not None and (c.mode == "no-refresh" or held.get("Expiration", "") > now_iso()):
        doc = held
    else:
        try:
            doc = fetch_credentials(c)
        except (Failed, ValueError, KeyError) as e:
            if held is None:
                raise
            print(f"credentials: refresh failed ({e}); expired ones kept (static stability)",
                  file=sys.stderr)
            doc = held
        c.credentials = doc
    expiration = doc.get("Expiration", "")
    if expiration and expiration < now_iso():
        print(f"credentials: expired at {expiration}, kept (static stability)", file=sys.stderr)
    return f"access key id {doc['AccessKeyId']}"


LOADS = {
    "credentials": credentials,
    "region": lambda c: c.get("/latest/meta-data/placement/region"),
    "instance-id": lambda c: c.get("/latest/meta-data/instance-id"),
}


def load_all(client, components):
    code = 0
    for what in components:
        try:
            print(f"{what}: {LOADS[what](client)}", file=sys.stderr)
        except (Failed, ValueError, KeyError) as e:
            print(f"{what}: {e}", file=sys.stderr)
            code = 1
    return code


def usage():
    print(f"usage: client.py {{{'|'.join(MUTANTS)}}} [--only {'|'.join(COMPONENTS)}] "
          "[--again-after-ms N]", file=sys.stderr)
    return 2


def main(argv):
    started = time.monotonic()
    if argv[1:] == ["--list"]:
        for name, what in MUTANTS.items():
            print(f"{name}\t{what}")
        return 0
    if len(argv) < 2 or argv[1] not in MUTANTS:
        return usage()
    mode, rest = argv[1], argv[2:]
    components, again_ms = COMPONENTS, None
    while rest:
        if len(rest) < 2:
            return usage()
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--only" and value in COMPONENTS:
            components = [value]
        elif flag == "--again-after-ms" and value.isdigit():
            again_ms = int(value)
        else:
            return usage()
    endpoint = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "")
    if not endpoint.startswith("http://127.0.0.1:"):
        print(f"refusing endpoint {endpoint!r}: not loopback", file=sys.stderr)
        return 2
    disabled = os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true"
    if disabled and mode != "ignore-disabled":
        print("IMDS disabled by AWS_EC2_METADATA_DISABLED", file=sys.stderr)
        return 1
    client = Client(mode, endpoint)
    code = load_all(client, components)
    if again_ms is not None:
        time.sleep(max(0.0, again_ms / 1000 - (time.monotonic() - started)))
        code |= load_all(client, components)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
