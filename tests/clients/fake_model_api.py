"""A small local stand-in for three model APIs, so that Codex CLI, Gemini CLI and aider run
offline in tests. Each user turn is answered with a request to run COMMAND in a shell; once the
agent sends that command's result back, the turn ends with a short text.

    python fake_model_api.py PORT_FILE LOG_FILE "COMMAND"

- OpenAI Responses API (Codex CLI): `POST /v1/responses`, answered as an event stream with a
  `function_call` of the shell tool the request offers (`shell_command`, `exec_command` or
  `shell`; the arguments follow that tool's schema).
- Gemini API (Gemini CLI): `POST /v1beta/models/<model>:streamGenerateContent` (event stream)
  and `:generateContent` with a `functionCall` of `run_shell_command`; side requests that ask
  for JSON get `{}`-shaped answers, `:countTokens` a count.
- OpenAI Chat Completions (aider): `POST /v1/chat/completions`, streamed or not. aider has no
  tools: the reply is text with COMMAND in a fenced `bash` block, which aider (in its `diff`
  edit format) offers to run ("Run shell command?"). A user message that names a file in
  backticks (`notes.txt`) also gets a SEARCH/REPLACE block that creates it ("Create new
  file?"). A message quoting COMMAND (the command's output) gets plain text.

Any other path gets 404. Every request is logged as a JSON line to LOG_FILE (path and body).
Writes the port it listens on (127.0.0.1) to PORT_FILE.
"""

import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, LOG_FILE, COMMAND = sys.argv[1], sys.argv[2], sys.argv[3]
FINAL = "All done."
lock = threading.Lock()
counter = [0]


def log(entry):
    with lock, open(LOG_FILE, "a") as f:
        f.write(json.dumps(entry) + "\n")


def next_id(prefix):
    with lock:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"


# --- OpenAI Responses (Codex CLI) ------------------------------------------------------------


def shell_call(tools):
    """The shell tool a Responses request offers and the arguments that run COMMAND with it.
    Asking to run outside the sandbox is what makes Codex ask the user first."""
    names = [t.get("name") for t in tools if isinstance(t, dict)]
    escalate = {"sandbox_permissions": "require_escalated", "justification": "Create the marker file?"}
    if "exec_command" in names:
        return "exec_command", {"cmd": COMMAND, **escalate}
    if "shell_command" in names:
        return "shell_command", {"command": COMMAND, **escalate}
    return "shell", {"command": ["bash", "-lc", COMMAND], **escalate}


def responses_events(body):
    """The events of one Responses stream: a tool call, or text after the tool's output."""
    items = [i for i in body.get("input", []) if isinstance(i, dict)]
    last = items[-1] if items else {}
    rid = next_id("resp")
    # Side requests (a title for the thread, ...) offer no tools and get text.
    if last.get("type") == "function_call_output" or not body.get("tools"):
        item = {
            "type": "message",
            "role": "assistant",
            "id": next_id("msg"),
            "status": "completed",
            "content": [{"type": "output_text", "text": FINAL, "annotations": []}],
        }
    else:
        name, args = shell_call(body.get("tools", []))
        item = {
            "type": "function_call",
            "id": next_id("fc"),
            "call_id": next_id("call"),
            "name": name,
            "arguments": json.dumps(args),
            "status": "completed",
        }
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }
    return [
        {"type": "response.created", "response": {"id": rid}},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"id": rid, "usage": usage, "output": [item]}},
    ]


# --- Gemini (Gemini CLI) ---------------------------------------------------------------------


def gemini_reply(body):
    """One generateContent answer: run the command, or text after its functionResponse."""
    contents = body.get("contents", [])
    last = contents[-1] if contents else {}
    parts = last.get("parts", []) or []
    config = body.get("generationConfig", {}) or {}
    if config.get("responseMimeType") == "application/json" or config.get("responseJsonSchema"):
        # Side requests (next speaker, routing, loop checks) want JSON: the user speaks next.
        part = {"text": json.dumps({"next_speaker": "user", "reasoning": "done"})}
    elif any("functionResponse" in p for p in parts):
        part = {"text": FINAL}
    else:
        part = {"functionCall": {"name": "run_shell_command", "args": {"command": COMMAND}}}
    return {
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-stand-in",
    }


# --- OpenAI Chat Completions (aider) ---------------------------------------------------------


def chat_text(body):
    """aider's reply: for a user's own turn, COMMAND in a bash block, after a new file's
    SEARCH/REPLACE block when the message names one in backticks; else plain text."""
    messages = body.get("messages", [])
    last = messages[-1] if messages else {}
    content = last.get("content")
    if isinstance(content, list):
        content = " ".join(c.get("text", "") for c in content if isinstance(c, dict))
    content = content or ""
    # aider sends a command's output back (when its user says so) quoting the command.
    if last.get("role") != "user" or COMMAND in content:
        return FINAL
    reply = ""
    # aider appends its format rules to the user's words after a blank line.
    named = re.search(r"`([\w.-]+)`", content.split("\n\n")[0])
    if named:
        name = named.group(1)
        reply += f"{name}\n```\n<<<<<<< SEARCH\n=======\nwritten by the stand-in\n>>>>>>> REPLACE\n```\n\n"
    return reply + f"Then run this:\n\n```bash\n{COMMAND}\n```\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_events(self, events, named):
        """An event stream, `event:` lines when `named` (Responses), and `[DONE]` otherwise."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        for ev in events:
            head = f"event: {ev['type']}\n" if named else ""
            self.wfile.write(f"{head}data: {json.dumps(ev)}\n\n".encode())
            self.wfile.flush()
        if not named and events and "choices" in events[0]:
            self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True

    def do_GET(self):
        log({"method": "GET", "path": self.path})
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [], "models": []})
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        path = self.path.split("?")[0]
        log({"method": "POST", "path": self.path, "body": body})
        if path.endswith("/responses"):
            self.send_events(responses_events(body), named=True)
        elif path.endswith(":streamGenerateContent"):
            self.send_events([gemini_reply(body)], named=False)
        elif path.endswith(":generateContent"):
            self.send_json(200, gemini_reply(body))
        elif path.endswith(":countTokens"):
            self.send_json(200, {"totalTokens": 10})
        elif path.endswith("/chat/completions"):
            self.chat(body)
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def chat(self, body):
        text = chat_text(body)
        cid, model = next_id("chatcmpl"), body.get("model", "stand-in")
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if not body.get("stream"):
            self.send_json(200, {
                "id": cid, "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": usage,
            })
            return
        chunk = {"id": cid, "object": "chat.completion.chunk", "created": 0, "model": model}
        self.send_events([
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text},
                                   "finish_reason": None}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage},
        ], named=False)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(PORT_FILE + ".tmp", PORT_FILE)
    server.serve_forever()


if __name__ == "__main__":
    main()
