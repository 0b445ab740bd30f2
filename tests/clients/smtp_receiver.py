"""A real SMTP server (aiosmtpd) for the email notification channel in tests/it/notify_answer.rs.

Listens on 127.0.0.1 (a free port), prints the port on the first line, then one JSON line per
message received: envelope sender and recipients, subject, and the text/plain and text/html
parts as the standard library's email parser reads them.
"""

import asyncio
import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller


class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                parts[part.get_content_type()] = part.get_content()
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "subject": str(msg["subject"]),
                    "multipart": msg.get_content_type(),
                    "text": parts.get("text/plain"),
                    "html": parts.get("text/html"),
                }
            ),
            flush=True,
        )
        return "250 Message accepted for delivery"


def main():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
