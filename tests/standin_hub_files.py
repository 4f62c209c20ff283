"""A stand-in for the Hugging Face Hub's file API, serving one folder as a model repository,
as the Hub answers ``huggingface_hub``'s downloads:

* ``GET /api/models/{owner}/{name}`` (and ``.../revision/{rev}``) → the repository's info with
  its commit ``sha`` and ``siblings`` (every file; with ``?blobs=true`` each with its
  ``size``); ``.../tree/{rev}`` → every file with its size;
* ``HEAD``/``GET /{owner}/{name}/resolve/{rev}/{path}`` → the file, with ``ETag``,
  ``X-Repo-Commit`` and ``Content-Length``; ``Range: bytes=N-`` answers the rest (206).

Every file fetched is recorded in :attr:`StandInHubFiles.fetched`. Given a ``hold`` event, the VAE's
weights stop half-way until the event is set, the other files come whole (a download caught in
the middle).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class StandInHubFiles:
    """Serve ``folder`` as the repository ``repo_id`` on 127.0.0.1 (a context manager)."""

    def __init__(self, repo_id: str, folder: Path, hold: threading.Event | None = None) -> None:
        self.repo_id = repo_id
        self.folder = folder
        self.hold = hold
        self.fetched: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def files(self) -> list[str]:
        return sorted(
            path.relative_to(self.folder).as_posix()
            for path in self.folder.rglob("*")
            if path.is_file()
        )

    def __enter__(self) -> StandInHubFiles:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, *, body: bool) -> None:
                parts = urlsplit(self.path)
                path = unquote(parts.path)
                info = re.fullmatch(rf"/api/models/{stand_in.repo_id}(/revision/[^/]+)?", path)
                if info:
                    sizes = "blobs=true" in parts.query
                    siblings = [
                        {"rfilename": name}
                        | ({"size": (stand_in.folder / name).stat().st_size} if sizes else {})
                        for name in stand_in.files()
                    ]
                    answer = {"id": stand_in.repo_id, "sha": COMMIT, "siblings": siblings}
                    return self._send(200, json.dumps(answer).encode(), "application/json", body)
                if re.fullmatch(rf"/api/models/{stand_in.repo_id}/tree/[^/]+", path):
                    entries = [
                        {
                            "type": "file",
                            "path": name,
                            "size": (stand_in.folder / name).stat().st_size,
                            "oid": hashlib.sha1((stand_in.folder / name).read_bytes()).hexdigest(),
                        }
                        for name in stand_in.files()
                    ]
                    return self._send(200, json.dumps(entries).encode(), "application/json", body)
                match = re.fullmatch(rf"/{stand_in.repo_id}/resolve/[^/]+/(.+)", path)
                file = stand_in.folder / match[1] if match else None
                if file is None or not file.is_file():
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                data = file.read_bytes()
                etag = hashlib.sha256(data).hexdigest()
                start = 0
                wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if wanted and body:
                    start = int(wanted[1])
                if body:
                    stand_in.fetched.append(match[1])
                self.send_response(206 if start else 200)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if not body:
                    return None
                rest = data[start:]
                if stand_in.hold is not None and match[1].startswith("vae/"):
                    half = len(rest) // 2
                    self.wfile.write(rest[:half])
                    self.wfile.flush()
                    stand_in.hold.wait(timeout=120)
                    rest = rest[half:]
                self.wfile.write(rest)
                return None

            def _send(self, status: int, data: bytes, kind: str, body: bool) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
