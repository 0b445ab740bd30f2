// The host side of the board test, bundled for the browser by board_host.mjs: the MCP Apps
// SDK's AppBridge and PostMessageTransport, on `window` for the page script.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

window.boardHost = { AppBridge, PostMessageTransport };
