#!/usr/bin/env python3
"""A keysync replica in Python, with the standard library only.

The whole protocol of docs/API.md from any language, in one file:

1. the store id from its config: UUIDv5(namespace, JCS(config)), RFC 8785;
2. the handshake: `{"since": checkpoint}` when the replica has one, else
   `{"have": {key: ts}}` (and `have` again when the server answers 409
   since-purged or since-ahead);
3. each batch applied and saved, and only then acknowledged (a session of
   one batch comes inside the handshake's answer: `inline`); removed keys
   deleted; a session that expired (410) starts over;
4. the live feed (Server-Sent Events) from the handshake's headRev, saving
   every event id (heartbeats included) and resuming with Last-Event-ID
   after a dropped connection; `reset` means handshake again with `have`;
5. JSON and byte values alike (bytes travel as base64 with a content type).

The replica is a JSON file (--state): every key's value, rev and ts, the
checkpoint and the last event id, replaced atomically after each batch and
event, so a restart resumes with `since` and moves only what changed.

    python3 replica.py http://127.0.0.1:8787 \\
        --config '{"scope":"a1b2c3d4-e5f6-7890-abcd-ef1234567890","backend":"file","path":"data/my-store"}'

--exit-after N stops after N live changes (tests); --token or KEYSYNC_TOKEN
sets the bearer token. Ctrl-C stops.
"""

import argparse
import base64
import gzip
import json
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

STORE_ID_NAMESPACE = uuid.UUID("6f1c2a4e-9a57-4f0e-8a51-1d3b5c7e9f20")
PROBLEM_BASE = "https://keysync.dev/problems/"


# --- store id: UUIDv5 of the JCS (RFC 8785) form of the config -------------

def jcs(value):
    """RFC 8785 canonical JSON: sorted keys (by UTF-16 code units), no
    whitespace, ECMAScript number formatting. Integers beyond 2**53 are
    doubles in JCS (I-JSON), so they are formatted as the double they become."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return es_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(value[k]) for k in keys) + "}"
    raise TypeError(f"not JSON: {type(value).__name__}")


def es_number(x):
    """A number as ECMAScript's Number.prototype.toString writes it."""
    if isinstance(x, int) and abs(x) < 2**53:
        return str(x)
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("JSON has no NaN or Infinity")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() gives the shortest digits that round-trip, as ECMAScript requires.
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    frac = "" if frac == "0" else frac
    digits = whole + frac
    n = len(whole) + int(exp or 0)  # value = 0.digits * 10**n
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e > 0 else "-") + str(abs(e))


def store_id(config):
    return str(uuid.uuid5(STORE_ID_NAMESPACE, jcs(config)))


# --- HTTP -------------------------------------------------------------------

class Problem(Exception):
    """An error answer (application/problem+json) from the server."""

    def __init__(self, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.kind = str(self.body.get("type", "")).removeprefix(PROBLEM_BASE)
        super().__init__(f"{status} {self.body.get('title', '')} {self.body.get('detail', '')}".strip())


def read_json(response):
    body = response.read()
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


class Server:
    def __init__(self, base_url, store, token):
        self.base = base_url.rstrip("/") + "/v1/stores/" + store
        self.headers = {"Accept": "application/json, application/problem+json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers, **({"Content-Type": "application/json"} if data else {}))
        # Batches come gzip'ed when asked (urllib neither asks nor decodes by itself).
        headers["Accept-Encoding"] = "gzip"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return read_json(response)
        except urllib.error.HTTPError as error:
            try:
                problem = read_json(error)
            except ValueError:
                problem = {}
            raise Problem(error.code, problem) from None

    def events(self, since, last_event_id):
        headers = dict(self.headers, Accept="text/event-stream")
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        request = urllib.request.Request(f"{self.base}/events?since={since}", headers=headers)
        try:
            # A dead connection shows as silence: the server sends a heartbeat every 15 s.
            return urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as error:
            try:
                problem = json.load(error)
            except ValueError:
                problem = {}
            raise Problem(error.code, problem) from None


# --- the replica's state ----------------------------------------------------

class Replica:
    """key -> {rev, ts, value | base64 + contentType | deleted}, plus the checkpoint."""

    def __init__(self, path):
        self.path = path
        self.records, self.checkpoint, self.last_event_id = {}, None, None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
            self.records = saved["records"]
            self.checkpoint = saved["checkpoint"]
            self.last_event_id = saved["lastEventId"]

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"checkpoint": self.checkpoint, "lastEventId": self.last_event_id, "records": self.records}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def have(self):
        return {k: r["ts"] for k, r in self.records.items() if not r.get("deleted")}

    def apply(self, entry):
        """Applies an entry only if its rev is newer than the one held; True if it changed."""
        held = self.records.get(entry["key"])
        if held is not None and held["rev"] >= entry["rev"]:
            return False
        record = {k: v for k, v in entry.items() if k != "key"}
        self.records[entry["key"]] = record
        return True

    def remove(self, key, at_rev):
        held = self.records.get(key)
        if held is None or held.get("deleted") or held["rev"] >= at_rev:
            return False
        # rev 0: any later server entry of the key is accepted (docs/API.md, removed).
        self.records[key] = {"rev": 0, "ts": None, "deleted": True}
        return True

    def forget_revisions(self):
        self.records = {k: dict(r, rev=0) for k, r in self.records.items() if not r.get("deleted")}
        self.checkpoint, self.last_event_id = None, None


def describe(key, record):
    if record.get("deleted"):
        return f"delete {key} rev {record['rev']}"
    if "base64" in record:
        size = len(base64.b64decode(record["base64"]))
        return f"put {key} rev {record['rev']} ({record['contentType']}, {size} bytes)"
    return f"put {key} rev {record['rev']} {json.dumps(record['value'])}"


# --- sync -------------------------------------------------------------------

def initial_sync(server, replica, use_have, batch_size=None):
    """Handshake, batches, acks. Returns the headRev the replica is now at."""
    while True:
        body = {"since": replica.checkpoint} if replica.checkpoint is not None and not use_have else {"have": replica.have()}
        mode = "since" if "since" in body else "have"
        body["inline"] = True  # a session of one batch comes inside the answer (docs/API.md, "Inline batch")
        if batch_size:
            body["batchSize"] = batch_size
        try:
            session = server.call("POST", "/sync", body)
        except Problem as problem:
            if problem.status == 409 and problem.kind in ("since-purged", "since-ahead"):
                if problem.kind == "since-ahead":
                    replica.forget_revisions()
                use_have = True
                continue
            raise
        try:
            applied, cursor = 0, (0 if session["batches"] > 0 and "batch" not in session else None)
            if "batch" in session:  # inline: nothing to fetch, and the server has acknowledged it
                applied += sum(replica.apply(entry) for entry in session["batch"]["entries"])
                replica.save()
            while cursor is not None:
                batch = server.call("GET", f"/sync/{session['sessionId']}/batches/{cursor}")
                applied += sum(replica.apply(entry) for entry in batch["entries"])
                replica.save()  # applied and durable before the ack
                server.call("POST", f"/sync/{session['sessionId']}/ack", {"cursor": cursor})
                cursor = batch["next"]
        except Problem as problem:
            if problem.status == 410:  # session expired: ask again for what is still missing
                use_have = False
                continue
            raise
        for key in session["removed"]:
            replica.remove(key, session["headRev"])
        replica.checkpoint, replica.last_event_id = session["headRev"], None
        replica.save()
        batches = f"{session['batches']} batch{'' if session['batches'] == 1 else 'es'}{' inline' if 'batch' in session else ''}"
        print(f"in sync at rev {session['headRev']} ({mode} handshake: {len(session['stale'])} stale in {batches}, "
              f"{applied} applied, {len(session['removed'])} removed)", flush=True)
        return session["headRev"]


def sse_events(stream):
    """Yields (event, data, id) per dispatched SSE message; an id-only message (heartbeat) has event None."""
    event, data, event_id = None, [], None
    for raw in stream:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data or event_id is not None:
                yield event, "\n".join(data), event_id
            event, data, event_id = None, [], None
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = value


def follow(server, replica, exit_after):
    """Follows the live feed, reconnecting with Last-Event-ID. Returns 'reset' or 'done'."""
    changes, delay = 0, 0.2
    while True:
        try:
            with server.events(replica.checkpoint, replica.last_event_id) as stream:
                delay = 0.2
                for event, data, event_id in sse_events(stream):
                    if event in ("put", "delete"):
                        entry = json.loads(data)
                        if replica.apply(entry):
                            print(describe(entry["key"], replica.records[entry["key"]]), flush=True)
                        changes += 1
                    elif event == "ready":
                        print("live", flush=True)
                    elif event == "reset":
                        return "reset"
                    elif event in ("store-deleted", "revoked"):
                        raise SystemExit(f"replica: the server sent {event}; stopping")
                    if event_id is not None:
                        replica.checkpoint, replica.last_event_id = int(event_id), event_id
                        replica.save()
                    if exit_after is not None and changes >= exit_after:
                        return "done"
            cause = "the feed closed"
        except Problem as problem:
            if problem.status < 500 and problem.status != 429:
                raise
            cause = str(problem)
        except (OSError, urllib.error.URLError) as error:
            cause = str(getattr(error, "reason", error))
        wait = random.uniform(0, delay)  # full jitter
        print(f"reconnecting in {wait:.1f} s (Last-Event-ID: {replica.last_event_id}): {cause}", flush=True)
        time.sleep(wait)
        delay = min(delay * 2, 10)


def main():
    parser = argparse.ArgumentParser(description="A keysync replica in a JSON file.")
    parser.add_argument("base_url")
    parser.add_argument("--config", required=True, help="the store's config, as JSON")
    parser.add_argument("--state", default="replica-state.json")
    parser.add_argument("--token", default=os.environ.get("KEYSYNC_TOKEN"))
    parser.add_argument("--exit-after", type=int, help="stop after this many live changes")
    parser.add_argument("--batch-size", type=int, help="the most keys per batch (default: the server's)")
    parser.add_argument("--print-store-id", action="store_true", help="print the store id and exit")
    args = parser.parse_args()

    sid = store_id(json.loads(args.config))
    if args.print_store_id:
        print(sid)
        return
    server, replica = Server(args.base_url, sid, args.token), Replica(args.state)
    print(f"replicating store {sid} from {args.base_url} into {args.state}", flush=True)
    use_have = False
    while True:
        try:
            initial_sync(server, replica, use_have, args.batch_size)
        except (OSError, urllib.error.URLError) as error:
            print(f"cannot reach {args.base_url}: {getattr(error, 'reason', error)}; retrying", flush=True)
            time.sleep(1)
            continue
        if follow(server, replica, args.exit_after) == "done":
            return
        use_have = True  # reset: our position is unusable


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
    except Problem as problem:
        sys.exit(f"replica: {problem}")
