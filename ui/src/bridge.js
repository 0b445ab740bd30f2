// The MCP Apps protocol (SEP-1865) from the view's side: JSON-RPC 2.0 messages posted to the
// host window, the frame's parent. Only messages from the parent are read; everything the
// view asks for goes through the host, which holds the connection to the server.

/** The MCP Apps protocol revision this view speaks. */
export const PROTOCOL_VERSION = "2026-01-26";

/** A JSON-RPC error answered by the host (a refused or failed request). */
export class RpcError extends Error {
  constructor(error) {
    super(typeof error?.message === "string" ? error.message : "the host refused the request");
    this.code = error?.code;
  }
}

/**
 * Connects to the host. `onNotification(method, params)` hears the host's notifications;
 * `onRequest(method, params)` answers its requests (its return value is the result).
 */
export function connect({ onNotification, onRequest }) {
  let nextId = 1;
  const pending = new Map();
  const post = (message) => window.parent.postMessage(message, "*");

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const m = event.data;
    if (!m || typeof m !== "object" || m.jsonrpc !== "2.0") return;
    if (typeof m.method !== "string") {
      const waiter = pending.get(m.id);
      if (!waiter) return;
      pending.delete(m.id);
      if (m.error) waiter.reject(new RpcError(m.error));
      else waiter.resolve(m.result);
      return;
    }
    if (m.id !== undefined && m.id !== null) {
      Promise.resolve()
        .then(() => onRequest(m.method, m.params || {}))
        .then(
          (result) => post({ jsonrpc: "2.0", id: m.id, result: result || {} }),
          (err) =>
            post({
              jsonrpc: "2.0",
              id: m.id,
              error: { code: err?.code ?? -32603, message: String(err?.message || err) },
            }),
        );
      return;
    }
    onNotification(m.method, m.params || {});
  });

  return {
    /** Sends a request to the host and resolves with its result. */
    request(method, params) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        post({ jsonrpc: "2.0", id, method, params });
      });
    },
    /** Sends a notification to the host. */
    notify(method, params) {
      post({ jsonrpc: "2.0", method, params });
    },
  };
}
