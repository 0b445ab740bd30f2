"""A small local stand-in for the Anthropic Messages API, so that the real Claude Code TUI can
run offline in tests.

Each user turn is answered with a `tool_use` of the Bash tool (running the command
given on the command line); once the latest message carries that tool's result, the answer is
plain text. Side requests (titles, summaries) get a short text. Every request is logged as a
JSON line to the log file.

    python fake_anthropic_api.py PORT_FILE LOG_FILE "COMMAND" [TURNS]

TURNS (optional; also read from the environment variable FAKE_API_TURNS when the argument is
absent) is a JSON list with one entry per user turn, used in order (the last one repeats):
`{"name": "Write", "input": {"file_path": "...", "content": "..."}}` makes Claude Code call that
tool with that input; `{"text": "..."}` answers with plain text; `null` is the Bash command.
After a tool's result the turn ends with text (an entry's optional "final" sets it), e.g.
`[{"name": "AskUserQuestion", "input": {"questions": [...]}, "final": "Noted."}]`.
An entry with `"when": "words"` is the turn of the user message that contains those words
(Claude Code adds messages of its own, e.g. after an interrupted tool, that shift the count).
An entry `{"steps": [tool, tool, ...], "final": "..."}` calls several tools in one turn, one
after another's result. The text `{plan_file}` anywhere in an input becomes the plan file that
Claude Code names in plan mode (`~/.claude/plans/<name>.md`), so a turn can write the plan and
then call ExitPlanMode; `{cwd}` becomes Claude Code's working directory. The log line of a
request that carries a tool result has that result's text as "result".

Writes the port it listens on (127.0.0.1) to PORT_FILE.
"""

import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, LOG_FILE, COMMAND = sys.argv[1], sys.argv[2], sys.argv[3]
TURNS = json.loads(sys.argv[4] if len(sys.argv) > 4 else os.environ.get("FAKE_API_TURNS", "null")) or [None]
lock = threading.Lock()
counter = [0]


def log(entry):
    with lock, open(LOG_FILE, "a") as f:
        f.write(json.dumps(entry) + "\n")


def conversation(body):
    """The user and assistant messages (Claude Code also sends messages with role "system")."""
    return [m for m in body.get("messages", []) if m.get("role") in ("user", "assistant")]


def blocks(message):
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [c for c in content or [] if isinstance(c, dict)]


def words(message):
    """What the user wrote in a message: its text blocks without Claude Code's own notes."""
    return " ".join(
        b.get("text", "") for b in blocks(message)
        if b.get("type") == "text"
        and not b.get("text", "").startswith(("<system-reminder>", "[Request interrupted"))
    ).strip()


def carries_result(message):
    return any(b.get("type") == "tool_result" for b in blocks(message))


def starts_turn(message):
    return message.get("role") == "user" and bool(words(message))


def has_tool_result(body):
    """Whether the latest message answers a tool call (so the turn goes on or ends with text)."""
    messages = conversation(body)
    if not messages:
        return False
    last = messages[-1]
    return last.get("role") == "user" and carries_result(last) and not starts_turn(last)


def offers_bash(body):
    return any(t.get("name") == "Bash" for t in body.get("tools", []) or [])


def user_turn(body):
    """The index of the current user turn: how many messages the user wrote, minus one."""
    return max(sum(1 for m in conversation(body) if starts_turn(m)) - 1, 0)


def latest_user_text(body):
    for m in reversed(conversation(body)):
        if starts_turn(m):
            return words(m)
    return ""


def turn_spec(body):
    text = latest_user_text(body)
    for spec in TURNS:
        if isinstance(spec, dict) and spec.get("when") and spec["when"] in text:
            return spec
    return TURNS[min(user_turn(body), len(TURNS) - 1)]


def results_this_turn(body):
    """How many tool results came back since the latest message the user wrote."""
    n = 0
    for m in reversed(conversation(body)):
        if starts_turn(m):
            break
        if m.get("role") == "user" and carries_result(m):
            n += 1
    return n


def next_tool(spec, body):
    """The tool call a turn makes now, or None when its tools are done."""
    steps = spec.get("steps") or ([spec] if "name" in spec else [])
    i = results_this_turn(body)
    if i >= len(steps):
        return None
    step = steps[i]
    whole = json.dumps(body)
    found = re.search(r'/[^\s"\\]*/\.claude/plans/[^\s"\\]*?\.md', whole)
    plan_file = found.group(0) if found else ""
    found = re.search(r'[Ww]orking directory: (/[^\s"\\]*)', whole)
    cwd = found.group(1) if found else ""
    text = json.dumps(step.get("input", {})).replace("{plan_file}", plan_file).replace("{cwd}", cwd)
    return {"name": step["name"], "input": json.loads(text)}


def latest_result(body):
    """The text of the latest tool result, so that a test can read what the user answered."""
    messages = conversation(body)
    for c in blocks(messages[-1]) if messages else []:
        if c.get("type") == "tool_result":
            inner = c.get("content")
            if isinstance(inner, list):
                inner = " ".join(i.get("text", "") for i in inner if isinstance(i, dict))
            return str(inner)[:2000]
    return None


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
        spec = turn_spec(body) if offers_bash(body) else None
        tool = next_tool(spec, body) if spec is not None else None
        if offers_bash(body) and spec is None and not has_tool_result(body):
            kind = "tool_use"
            block = {"type": "tool_use", "id": f"toolu_{n}", "name": "Bash",
                     "input": {"command": COMMAND, "description": "Create a marker file"}}
        elif tool is not None:
            kind = "tool_use"
            block = {"type": "tool_use", "id": f"toolu_{n}", "name": tool["name"],
                     "input": tool["input"]}
        elif spec is not None and "text" in spec:
            kind = "text"
            block = {"type": "text", "text": spec["text"]}
        elif has_tool_result(body):
            kind = "final_text"
            text = (spec or {}).get("final", "All done: the marker file was created.")
            block = {"type": "text", "text": text}
        else:
            kind = "side_text"
            block = {"type": "text", "text": "Marker file"}
        log({"path": self.path, "n": n, "answer": kind, "tool": block.get("name"),
             "result": latest_result(body), "stream": bool(body.get("stream")),
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
