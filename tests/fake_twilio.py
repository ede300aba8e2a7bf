"""A local HTTP server that speaks the part of Twilio's REST API we use (Messages.create).

POST /2010-04-01/Accounts/{AccountSid}/Messages.json with form fields To, From or
MessagingServiceSid, Body, StatusCallback -> 201 and a JSON message resource (sid, status, ...).
Every request is recorded. `fail[to_number] = (http_status, twilio_error_code)` makes sends to
that number fail the way Twilio does.

MMS media: `add_media(content, content_type)` returns a MediaUrl like Twilio's
(/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}). GET on it needs the
account's basic auth and answers 307 to a short-lived address of the media store (no auth
there, like Twilio's), which serves the bytes. `media_fail[media_sid] = http_status` makes it fail.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Messages\.json$")
MEDIA_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Messages/MM[0-9a-f]{32}/Media/(?P<media>ME[0-9a-f]{32})$"
)
STORE_PATH = re.compile(r"^/media-store/(?P<token>[0-9a-f]{32})$")


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]
    auth: tuple[str, str] | None
    headers: dict[str, str]


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    requests: list[RecordedRequest] = field(default_factory=list)
    fail: dict[str, tuple[int, int]] = field(default_factory=dict)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # media sid -> (bytes, type)
    media_fail: dict[str, int] = field(default_factory=dict)  # media sid -> HTTP status
    store: dict[str, str] = field(default_factory=dict)  # media-store token -> media sid
    media_redirect_to: str | None = None  # send the media redirect to this origin instead of our own
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def messages(self) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/Messages.json")]

    def add_media(self, content: bytes, content_type: str) -> str:
        """Hold a media item as Twilio does; returns its MediaUrl."""
        media_sid = "ME" + secrets.token_hex(16)
        message_sid = "MM" + secrets.token_hex(16)
        self.media[media_sid] = (content, content_type)
        return (
            f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{media_sid}"
        )

    @property
    def media_requests(self) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == "GET"]

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _auth(self) -> tuple[str, str] | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return (user, password)

            def do_GET(self) -> None:
                auth = self._auth()
                with fake.lock:
                    fake.requests.append(RecordedRequest("GET", self.path, {}, auth, dict(self.headers)))
                if match := MEDIA_PATH.match(self.path):
                    if auth != (fake.account_sid, fake.auth_token) or match["account"] != fake.account_sid:
                        return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    media_sid = match["media"]
                    if media_sid in fake.media_fail:
                        status = fake.media_fail[media_sid]
                        return self._reply(status, {"code": 20500, "message": "Error", "status": status})
                    if media_sid not in fake.media:
                        return self._reply(
                            404,
                            {"code": 20404, "message": "The requested resource was not found", "status": 404},
                        )
                    token = secrets.token_hex(16)
                    with fake.lock:
                        fake.store[token] = media_sid
                    self.send_response(307)
                    self.send_header("Location", f"{fake.media_redirect_to or ''}/media-store/{token}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if (match := STORE_PATH.match(self.path)) and match["token"] in fake.store:
                    content, content_type = fake.media[fake.store[match["token"]]]
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                    return
                self._reply(
                    404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
                auth = self._auth()
                with fake.lock:
                    fake.requests.append(RecordedRequest("POST", self.path, form, auth, dict(self.headers)))
                match = MESSAGES_PATH.match(self.path)
                if not match:
                    return self._reply(
                        404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
                    )
                if auth != (fake.account_sid, fake.auth_token) or match["account"] != fake.account_sid:
                    return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                to = form.get("To", "")
                if (
                    not to
                    or not form.get("Body")
                    or not (form.get("From") or form.get("MessagingServiceSid"))
                ):
                    return self._reply(
                        400,
                        {"code": 21604, "message": "A 'To', 'Body' and 'From' are required", "status": 400},
                    )
                if to in fake.fail:
                    status, code = fake.fail[to]
                    return self._reply(
                        status,
                        {
                            "code": code,
                            "message": f"Error {code}",
                            "status": status,
                            "more_info": f"https://www.twilio.com/docs/errors/{code}",
                        },
                    )
                sid = "SM" + secrets.token_hex(16)
                self._reply(
                    201,
                    {
                        "sid": sid,
                        "account_sid": fake.account_sid,
                        "to": to,
                        "from": form.get("From"),
                        "messaging_service_sid": form.get("MessagingServiceSid"),
                        "body": form["Body"],
                        "status": "queued" if form.get("From") else "accepted",
                        "num_segments": "1",
                        "num_media": "0",
                        "direction": "outbound-api",
                        "api_version": "2010-04-01",
                        "price": None,
                        "price_unit": "GBP",
                        "error_code": None,
                        "error_message": None,
                        "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json",
                        "date_created": "Thu, 26 Nov 2026 09:00:00 +0000",
                        "date_updated": "Thu, 26 Nov 2026 09:00:00 +0000",
                        "date_sent": None,
                        "subresource_uris": {
                            "media": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}/Media.json"
                        },
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


if __name__ == "__main__":  # run on its own for the benchmark or by hand
    import sys
    import time

    fake = FakeTwilio(sys.argv[1], sys.argv[2]).start()
    print(fake.base_url, flush=True)
    while True:
        time.sleep(3600)
