"""A small local stand-in for the Anthropic Messages API, so that the real Claude Code TUI can
run offline in tests.

Each user turn is answered with a `tool_use` of the Bash tool (running the command
given on the command line); once the latest message carries that tool's result, the answer is
plain text. Side requests (titles, summaries) get a short text. Every request is logged as a
JSON line to the log file.

    python fake_anthropic_api.py PORT_FILE LOG_FILE "COMMAND"
Writes the port it listens on (127.0.0.1) to PORT_FILE.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, LOG_FILE, COMMAND = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
counter = [0]


def log(entry):
    with lock, open(LOG_FILE, "a") as f:
        f.write(json.dumps(entry) + "\n")


def has_tool_result(body):
    """Whether the latest message answers a tool call (so the turn ends with text)."""
    messages = body.get("messages", [])
    if not messages:
        return False
    content = messages[-1].get("content")
    return isinstance(content, list) and any(
        isinstance(c, dict) and c.get("type") == "tool_result" for c in content
    )


def offers_bash(body):
    return any(t.get("name") == "Bash" for t in body.get("tools", []) or [])


def sse(event, data):
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_json(200, {})

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        path = self.path.split("?")[0]
        if not path.endswith("/v1/messages"):
            log({"path": self.path})
            if path.endswith("/count_tokens"):
                return self.send_json(200, {"input_tokens": 10})
            return self.send_json(200, {})
        with lock:
            counter[0] += 1
            n = counter[0]
        if offers_bash(body) and not has_tool_result(body):
            kind = "tool_use"
            block = {"type": "tool_use", "id": f"toolu_{n}", "name": "Bash",
                     "input": {"command": COMMAND, "description": "Create a marker file"}}
        elif has_tool_result(body):
            kind = "final_text"
            block = {"type": "text", "text": "All done: the marker file was created."}
        else:
            kind = "side_text"
            block = {"type": "text", "text": "Marker file"}
        log({"path": self.path, "n": n, "answer": kind, "stream": bool(body.get("stream")),
             "model": body.get("model")})
        message = {"id": f"msg_{n}", "type": "message", "role": "assistant",
                   "model": body.get("model", "claude"), "content": [], "stop_reason": None,
                   "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}
        stop = "tool_use" if block["type"] == "tool_use" else "end_turn"
        if not body.get("stream"):
            message["content"] = [block]
            message["stop_reason"] = stop
            return self.send_json(200, message)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        out = [sse("message_start", {"type": "message_start", "message": message})]
        if block["type"] == "tool_use":
            start = dict(block, input={})
            out.append(sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start}))
            out.append(sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                           "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
        else:
            out.append(sse("content_block_start", {"type": "content_block_start", "index": 0,
                           "content_block": {"type": "text", "text": ""}}))
            out.append(sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": block["text"]}}))
        out.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
        out.append(sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": {"output_tokens": 20}}))
        out.append(sse("message_stop", {"type": "message_stop"}))
        self.wfile.write(b"".join(out))
        self.wfile.flush()
        self.close_connection = True


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
