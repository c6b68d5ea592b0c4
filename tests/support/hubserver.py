#!/usr/bin/env python3
"""A small look-alike of the Hugging Face Hub HTTP API, for lorabert's hub tests (no internet).

usage: hubserver.py ROOT        (standard library only)

Creates fixture repos under ROOT/repos (once), listens on 127.0.0.1 on a free port and writes
the port to ROOT/port. It answers like huggingface.co:
  GET  /api/{models|datasets}/{repo}/revision/{rev}  -> {"id","sha","siblings":[{"rfilename"}]}
  HEAD|GET /{repo}/resolve/{rev}/{file}  (datasets: /datasets/{repo}/resolve/...)
       small files: 200 + ETag "<git blob sha1>"; LFS files (*.safetensors, *.bin, *.parquet):
       302 to an absolute /cdn/<sha256> URL + X-Linked-Etag "<sha256>" + X-Linked-Size
  HEAD|GET /cdn/<sha256>   the LFS bytes, with Range support (206)
  X-Repo-Commit on resolve answers; X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound
  on 404s; 401 for org/private without "Authorization: Bearer hf_secret_token"; org/old-name is
  a renamed repo (relative 307 redirects to org/tiny); org/evil lists a file "../evil.txt";
org/badjson answers its API call with HTML; org/noetag serves files without an ETag.
Test control, re-read on every request from ROOT/control.json (counters are decremented in
place): {"cut": {"<file name>": n}} sends half of the next n bodies of that file and drops the
connection; {"corrupt": {"<file name>": n}} flips one byte of the next n bodies;
{"norange": {"<file name>": n}} ignores the Range header of the next n LFS requests;
{"gone": {"<file name>": n}} answers the next n CDN requests for that file with 404.
Persistent (not counted) misbehaviour, for the refusal tests:
{"location": {"<file name>": url}} redirects the resolve answer of that LFS file to url;
{"cdn_location": {"<file name>": url}} makes the CDN redirect that file to url;
{"api_location": {"<repo>": url}} redirects the API call of that repo to url;
{"oversize": {"<file name>": n}} streams the file plus n junk bytes, with no Content-Length
(the HEAD answer still declares the real size); {"bigapi": {"<repo>": n}} pads the API answer
with n bytes of JSON whitespace; {"hold": {"<file name>": path}} makes every CDN GET of that file
wait until path exists (at most 120 s): a download the test releases when it is ready. The revision "refs/pr/1" is an alias of main.
Every request is appended to ROOT/requests.log as one JSON line {method, path, range, auth}.
"""
import hashlib
import http.server
import json
import os
import random
import sys
import threading
import time
import urllib.parse

ROOT = sys.argv[1]
REPOS = os.path.join(ROOT, "repos")
TOKEN = "hf_secret_token"
LFS_SUFFIXES = (".safetensors", ".bin", ".parquet")
lock = threading.Lock()


def make_fixtures():
    rnd = random.Random(1234)
    files = {
        "models/org--tiny": {
            ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
            "config.json": b'{"model_type": "distilbert", "dim": 32}\n',
            "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n",
            "model.safetensors": bytes(rnd.getrandbits(8) for _ in range(300000)),
            "sub/dir/notes.txt": b"nested file\n",
        },
        "models/solo": {"config.json": b'{"model_type": "bert"}\n'},
        "models/org--private": {"config.json": b'{"private": true}\n'},
        "models/org--evil": {"config.json": b"{}\n"},
        "models/org--noetag": {"config.json": b"{}\n"},
        "datasets/org--data": {
            "train.csv": b"label,text\n1,good\n0,bad\n",
            "data/validation.parquet": bytes(rnd.getrandbits(8) for _ in range(70000)),
        },
    }
    for repo, fs in files.items():
        for name, data in fs.items():
            path = os.path.join(REPOS, repo, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)


def repo_dir(kind, repo):
    d = os.path.join(REPOS, kind + "s", repo.replace("/", "--"))
    return d if os.path.isdir(d) else None


def repo_files(d):
    out = []
    for base, _, names in os.walk(d):
        for n in names:
            out.append(os.path.relpath(os.path.join(base, n), d))
    return sorted(out)


def repo_sha(d):
    h = hashlib.sha1()
    for f in repo_files(d):
        h.update(f.encode() + b"\0" + hashlib.sha256(open(os.path.join(d, f), "rb").read()).digest())
    return h.hexdigest()


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def take(control_key, name):
    """Decrements control[control_key][name] when positive; returns whether it was."""
    path = os.path.join(ROOT, "control.json")
    with lock:
        if not os.path.exists(path):
            return False
        with open(path) as f:
            ctl = json.load(f)
        n = ctl.get(control_key, {}).get(name, 0)
        if n <= 0:
            return False
        ctl[control_key][name] = n - 1
        with open(path, "w") as f:
            json.dump(ctl, f)
        return True


def ctl(control_key, name):
    """control[control_key][name] without changing it (None when absent)."""
    path = os.path.join(ROOT, "control.json")
    with lock:
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f).get(control_key, {}).get(name)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def log_request_line(self):
        with lock, open(os.path.join(ROOT, "requests.log"), "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "range": self.headers.get("Range"),
                                "auth": self.headers.get("Authorization")}) + "\n")

    def reply(self, status, headers=None, body=b"", cut=False, corrupt=False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if corrupt and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def stream_oversize(self, status, headers, body, extra):
        """body + extra junk bytes, delimited by closing the connection (no Content-Length)."""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        try:
            self.wfile.write(body)
            chunk = b"\x00" * 65536
            while extra > 0:
                self.wfile.write(chunk[:extra])
                extra -= len(chunk)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def error(self, status, code=None, msg=""):
        h = {"Content-Type": "application/json"}
        if code:
            h["X-Error-Code"] = code
        if msg:
            h["X-Error-Message"] = msg
        self.reply(status, h, json.dumps({"error": msg or code or str(status)}).encode())

    def authorized(self, repo):
        return repo != "org/private" or self.headers.get("Authorization") == "Bearer " + TOKEN

    def do_HEAD(self):
        self.handle_any()

    def do_GET(self):
        self.handle_any()

    def handle_any(self):
        self.log_request_line()
        path = urllib.parse.urlsplit(self.path).path
        parts = path.lstrip("/").split("/")
        if parts[0] == "cdn" and len(parts) == 2:
            return self.serve_cdn(parts[1])
        if parts[0] == "api" and len(parts) >= 5 and parts[-2] == "revision":
            kind = {"models": "model", "datasets": "dataset"}.get(parts[1])
            repo = "/".join(parts[2:-2])
            return self.serve_api(kind, repo, urllib.parse.unquote(parts[-1]))
        kind = "model"
        if parts[0] == "datasets":
            kind, parts = "dataset", parts[1:]
        if "resolve" in parts:
            i = parts.index("resolve")
            repo = "/".join(parts[:i])
            if len(parts) >= i + 3:
                rev = urllib.parse.unquote(parts[i + 1])
                file = urllib.parse.unquote("/".join(parts[i + 2:]))
                return self.serve_resolve(kind, repo, rev, file)
        self.error(404, None, "Not Found")

    def lookup(self, kind, repo, rev):
        """(dir, sha) or None after sending the error."""
        if not self.authorized(repo):
            self.error(401, None, "Invalid username or password.")
            return None
        d = repo_dir(kind, repo) if kind else None
        if d is None:
            self.error(404, "RepoNotFound", "Repository not found")
            return None
        sha = repo_sha(d)
        if rev not in ("main", "refs/pr/1", sha):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None
        return d, sha

    def serve_api(self, kind, repo, rev):
        if ctl("api_location", repo):
            return self.reply(302, {"Location": ctl("api_location", repo)})
        if repo == "org/badjson":
            return self.reply(200, {"Content-Type": "application/json"}, b"<html>maintenance</html>")
        if repo == "org/old-name":
            return self.reply(307, {"Location": self.path.replace("org/old-name", "org/tiny")})
        found = self.lookup(kind, repo, rev)
        if not found:
            return
        d, sha = found
        names = repo_files(d)
        if repo == "org/evil":
            names.append("../evil.txt")
        body = json.dumps({"id": repo, "modelId": repo, "sha": sha, "private": repo == "org/private",
                           "siblings": [{"rfilename": n} for n in names]}).encode()
        if ctl("bigapi", repo):
            body = body[:-1] + b" " * ctl("bigapi", repo) + b"}"
        self.reply(200, {"Content-Type": "application/json"}, body)

    def serve_resolve(self, kind, repo, rev, file):
        if repo == "org/old-name":
            return self.reply(307, {"Location": self.path.replace("org/old-name", "org/tiny")})
        found = self.lookup(kind, repo, rev)
        if not found:
            return
        d, sha = found
        fp = os.path.join(d, file)
        if file.startswith("/") or ".." in file.split("/") or not os.path.isfile(fp):
            return self.error(404, "EntryNotFound", "Entry not found")
        data = open(fp, "rb").read()
        name = os.path.basename(file)
        if file.endswith(LFS_SUFFIXES):
            digest = hashlib.sha256(data).hexdigest()
            host = self.headers.get("Host", "127.0.0.1")
            location = ctl("location", name) or "http://%s/cdn/%s" % (host, digest)
            return self.reply(302, {"Location": location, "X-Repo-Commit": sha,
                                    "X-Linked-Etag": '"%s"' % digest, "X-Linked-Size": str(len(data)),
                                    "ETag": '"%s"' % git_sha1(b"pointer " + digest.encode()),
                                    "X-Lb-Name": name})
        if repo == "org/noetag":
            return self.reply(200, {"X-Repo-Commit": sha}, data)
        if ctl("oversize", name) and self.command == "GET":
            return self.stream_oversize(200, {"X-Repo-Commit": sha, "ETag": '"%s"' % git_sha1(data)}, data,
                                        ctl("oversize", name))
        self.reply(200, {"X-Repo-Commit": sha, "ETag": '"%s"' % git_sha1(data),
                         "Content-Type": "application/octet-stream"},
                   data, cut=self.command == "GET" and take("cut", name),
                   corrupt=self.command == "GET" and take("corrupt", name))

    def serve_cdn(self, digest):
        for base, _, names in os.walk(REPOS):
            for n in names:
                p = os.path.join(base, n)
                if n.endswith(LFS_SUFFIXES):
                    data = open(p, "rb").read()
                    if hashlib.sha256(data).hexdigest() == digest:
                        if take("gone", n):
                            return self.error(404, None, "object expired")
                        return self.serve_bytes(data, n)
        self.error(404, None, "no such object")

    def serve_bytes(self, data, name):
        release = ctl("hold", name) if self.command == "GET" else None
        for _ in range(2400):
            if not release or os.path.exists(release):
                break
            time.sleep(0.05)
        if ctl("cdn_location", name):
            return self.reply(302, {"Location": ctl("cdn_location", name)})
        if ctl("oversize", name) and self.command == "GET":
            return self.stream_oversize(200, {"Content-Type": "application/octet-stream"}, data, ctl("oversize", name))
        cut = self.command == "GET" and take("cut", name)
        corrupt = self.command == "GET" and take("corrupt", name)
        rng = self.headers.get("Range")
        if self.command == "GET" and take("norange", name):
            rng = None  # a server that ignores Range: the whole file again, 200
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                return self.reply(416, {"Content-Range": "bytes */%d" % len(data)})
            return self.reply(206, {"Content-Range": "bytes %d-%d/%d" % (start, len(data) - 1, len(data)),
                                    "Content-Type": "application/octet-stream"},
                              data[start:], cut=cut, corrupt=corrupt)
        self.reply(200, {"Content-Type": "application/octet-stream"}, data, cut=cut, corrupt=corrupt)


def main():
    if not os.path.isdir(REPOS):
        make_fixtures()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = os.path.join(ROOT, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, os.path.join(ROOT, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
