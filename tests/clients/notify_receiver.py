"""Stand-ins for the places sessiongate sends notifications to, for tests/it/notify.rs.

- POST /hook: a webhook receiver. It checks X-Sessiongate-Signature with Python's own hmac
  (an implementation independent of sessiongate's) over timestamp + "." + body, with the
  secret in $WEBHOOK_SECRET, and checks the payload against the schema in the README.
- POST /: ntfy's JSON publish API (https://docs.ntfy.sh/publish/#publish-as-json): checks
  the fields ntfy reads and answers as ntfy does.
- POST /fail answers 500, POST /reject answers 400, POST /hang never answers.
- With $AUTO_ANSWER set, a waiting webhook whose question contains "auto" is answered as a
  receiving service would: a POST to the answer_url of the option labelled $AUTO_ANSWER,
  recorded as {"path": "auto_answer", "status": ..., "body": ...}.

Prints its port on the first line, then one JSON line per request received.
"""

import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("WEBHOOK_SECRET", "").encode()
AUTO_ANSWER = os.environ.get("AUTO_ANSWER")
NULLABLE_STR = (str, type(None))
NULLABLE_INT = (int, type(None))
SCHEMA = {
    "id": str,
    "event": str,
    "session": str,
    "host": str,
    "time": str,
    "question": NULLABLE_STR,
    "context": list,
    "options": list,
    "exit_code": NULLABLE_INT,
    "signal": NULLABLE_INT,
    "summary": NULLABLE_STR,
}
LOCK = threading.Lock()


def record(rec):
    with LOCK:
        print(json.dumps(rec), flush=True)


def auto_answer(payload):
    """POSTs to the answer_url of the option labelled AUTO_ANSWER (form-encoded, no body)."""
    urls = [o.get("answer_url") for o in payload.get("options") or [] if o.get("label") == AUTO_ANSWER]
    rec = {"path": "auto_answer", "url": urls[0] if urls else None}
    if urls and urls[0]:
        req = urllib.request.Request(urls[0], data=b"", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                rec["status"], rec["body"] = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            rec["status"], rec["body"] = e.code, e.read().decode()
    record(rec)


def schema_errors(payload):
    errors = [k for k, t in SCHEMA.items() if k not in payload or not isinstance(payload[k], t)]
    if payload.get("event") not in ("waiting", "finished", "exited", "test"):
        errors.append("event value")
    for o in payload.get("options") or []:
        if not isinstance(o.get("label"), str) or "answer_url" not in o:
            errors.append("option")
    if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", payload.get("time") or ""):
        errors.append("time format")
    return errors


def ntfy_errors(msg):
    errors = []
    if not re.fullmatch(r"[-_A-Za-z0-9]{1,64}", msg.get("topic") or ""):
        errors.append("topic")
    if msg.get("priority") not in (1, 2, 3, 4, 5):
        errors.append("priority")
    for key in ("title", "message"):
        if not isinstance(msg.get(key), str):
            errors.append(key)
    if not all(isinstance(t, str) for t in msg.get("tags", [])):
        errors.append("tags")
    # https://docs.ntfy.sh/publish/#action-buttons: at most three; view or http with a URL.
    actions = msg.get("actions", [])
    if not isinstance(actions, list) or len(actions) > 3:
        errors.append("actions")
    for a in actions if isinstance(actions, list) else []:
        if a.get("action") not in ("view", "http") or not isinstance(a.get("label"), str):
            errors.append("action")
        if not str(a.get("url", "")).startswith(("http://", "https://")):
            errors.append("action url")
        if a.get("action") == "http" and a.get("method") != "POST":
            errors.append("action method")
    return errors


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        rec = {"path": self.path}
        if self.path == "/hang":
            record(rec)
            time.sleep(3600)
            return
        if self.path == "/fail":
            record(rec)
            self.reply(500, b'{"error":"down"}')
            return
        if self.path == "/reject":
            record(rec)
            self.reply(400, b'{"error":"no"}')
            return
        try:
            payload = json.loads(body)
        except ValueError:
            rec["error"] = "not JSON"
            record(rec)
            self.reply(400, b'{"error":"not JSON"}')
            return
        rec["body"] = payload
        if self.path == "/hook":
            ts = self.headers.get("x-sessiongate-timestamp", "")
            sig = self.headers.get("x-sessiongate-signature", "")
            want = "sha256=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            rec["signature_ok"] = hmac.compare_digest(sig, want)
            rec["fresh"] = ts.isdigit() and abs(time.time() - int(ts)) < 300
            rec["errors"] = schema_errors(payload)
            record(rec)
            self.reply(200, b'{"ok":true}')
            if AUTO_ANSWER and payload.get("event") == "waiting" and "auto" in (payload.get("question") or ""):
                threading.Thread(target=auto_answer, args=(payload,), daemon=True).start()
        elif self.path == "/":
            rec["authorization"] = self.headers.get("authorization")
            rec["errors"] = ntfy_errors(payload)
            record(rec)
            answer = {"id": "standin", "time": int(time.time()), "event": "message", "topic": payload.get("topic")}
            self.reply(400 if rec["errors"] else 200, json.dumps(answer).encode())
        else:
            record(rec)
            self.reply(404, b"{}")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
