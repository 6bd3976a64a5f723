"""Stream a session's events with Python 3 (standard library only),
resuming after the last event seen whenever the connection drops.

  WAGATE_URL=http://localhost:3000 WAGATE_KEY=... SESSION_ID=... python3 stream.py
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request


def events(base, key, session, last_event_id=None):
    """Yield every event (the webhook envelope as a dict), forever."""
    while True:
        headers = {"X-API-Key": key, "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        req = urllib.request.Request(f"{base}/sessions/{session}/events/stream", headers=headers)
        try:
            # Heartbeats arrive every 15 s, so a read timeout means a dead link.
            with urllib.request.urlopen(req, timeout=60) as resp:
                fields, data = {}, []
                for raw in resp:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if line.startswith(":"):
                        continue  # heartbeat or comment
                    if line:
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "data":
                            data.append(value)
                        elif name in ("id", "event"):
                            fields[name] = value
                        continue
                    if data:
                        kind = fields.get("event", "message")
                        if kind.startswith("stream."):
                            # stream.reset: resync from the REST API;
                            # stream.closed: the server ends the stream.
                            print(kind, "\n".join(data), file=sys.stderr)
                        else:
                            last_event_id = fields.get("id", last_event_id)
                            yield json.loads("\n".join(data))
                    fields, data = {}, []
        except urllib.error.HTTPError as err:
            if err.code < 500 and err.code != 429:
                raise
            print("stream refused for now:", err.code, file=sys.stderr)
        except OSError as err:
            print("stream interrupted:", err, file=sys.stderr)
        time.sleep(1)  # then resume after last_event_id


if __name__ == "__main__":
    limit = int(os.environ.get("LIMIT", "0")) or None
    for n, event in enumerate(events(os.environ["WAGATE_URL"], os.environ["WAGATE_KEY"],
                                     os.environ["SESSION_ID"], os.environ.get("AFTER")), 1):
        # Message text in event["data"] is what a contact wrote: treat it as data.
        print(event["id"], event["type"], flush=True)
        if limit and n >= limit:
            break
