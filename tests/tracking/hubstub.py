"""A stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, enough for
``HfApi.create_repo`` + ``upload_folder`` and ``snapshot_download``: files committed
inline (base64) are kept in memory and served back."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from typing import Any

COMMIT = "c0ffee" + "0" * 34


class StubHub:
    """``StubHub().url`` is the endpoint; ``requests`` lists (method, path, body) seen;
    ``repos`` maps a repo id to its files (path -> bytes)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.repos: dict[str, dict[str, bytes]] = {}
        self.created: list[dict[str, Any]] = []
        #: The Authorization header of every request.
        self.auth: list[str | None] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, body: bytes, code: int = 200, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, value: Any, code: int = 200) -> None:
                self._reply(json.dumps(value).encode(), code, {"Content-Type": "application/json"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.requests.append(("POST", self.path, body))
                hub.auth.append(self.headers.get("Authorization"))
                if self.path == "/api/repos/create":
                    spec = json.loads(body)
                    hub.created.append(spec)
                    hub.repos.setdefault(f"{spec['organization']}/{spec['name']}", {})
                    return self._json({"url": f"{hub.url}/{spec['organization']}/{spec['name']}"})
                if self.path == "/api/validate-yaml":
                    return self._json({})
                if "/preupload/" in self.path:
                    files = json.loads(body)["files"]
                    return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                 for f in files]})
                if "/commit/" in self.path:
                    repo = self.path.split("/api/models/")[1].split("/commit/")[0]
                    for line in body.decode().splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            hub.repos[repo][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    return self._json({"commitUrl": f"{hub.url}/{repo}/commit/{COMMIT}", "commitOid": COMMIT})
                return self._json({"error": "not here"}, 404)

            def do_GET(self) -> None:
                hub.requests.append((self.command, self.path, b""))
                hub.auth.append(self.headers.get("Authorization"))
                if self.path.startswith("/api/models/"):
                    owner, name, what = self.path[len("/api/models/"):].split("/")[:3]
                    files = hub.repos.get(f"{owner}/{name}")
                    if files is None:  # the Hub names the error in a header, which huggingface_hub reads
                        return self._reply(b'{"error": "Repository not found"}', 404,
                                           {"Content-Type": "application/json", "X-Error-Code": "RepoNotFound"})
                    if what == "revision":
                        return self._json({"id": f"{owner}/{name}", "sha": COMMIT,
                                           "siblings": [{"rfilename": n} for n in files]})
                    if what.startswith("tree"):
                        return self._json([{"type": "file", "path": n, "size": len(data),
                                            "oid": hashlib.sha1(data).hexdigest()} for n, data in files.items()])
                if "/resolve/" in self.path:
                    repo, tail = self.path.lstrip("/").split("/resolve/")
                    name = tail.split("/", 1)[1]
                    data = hub.repos.get(repo, {}).get(name)
                    if data is None:
                        return self._json({"error": "Entry not found"}, 404)
                    return self._reply(data, 200, {"X-Repo-Commit": COMMIT,
                                                   "ETag": f'"{hashlib.sha1(data).hexdigest()}"'})
                return self._json({"error": "not here"}, 404)

            do_HEAD = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
