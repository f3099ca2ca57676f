#!/usr/bin/env python3
"""An example remote reward server for rpp (and OpenRLHF's --remote_rm_url): standard library only.

POST /get_reward with {"query": [prompt + response, ...], "prompts": [...], "labels": [...]} answers
{"rewards": [...]}, one float per query. Replace `reward` with your own function.

Run:  python3 Deploy/remote_reward_server.py --port 5000
Use:  reward.remote_url: http://127.0.0.1:5000/get_reward
"""
import argparse
import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def reward(query: str, prompt: str, label: str) -> float:
    """1.0 when the last number of the response equals the label's number, else 0.0."""
    response = query[len(prompt):] if query.startswith(prompt) else query
    got = NUMBER.findall(response)
    want = NUMBER.findall(label)
    if not got or not want:
        return 0.0
    return 1.0 if float(got[-1].replace(",", "")) == float(want[-1].replace(",", "")) else 0.0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            queries, prompts = body["query"], body.get("prompts") or [""] * len(body["query"])
            labels = body.get("labels") or [""] * len(queries)
            rewards = [reward(q, p, l) for q, p, l in zip(queries, prompts, labels)]
            out, status = json.dumps({"rewards": rewards}).encode(), 200
        except (ValueError, KeyError, TypeError) as e:
            out, status = json.dumps({"error": str(e)}).encode(), 400
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    a = ap.parse_args()
    print(f"reward server on http://{a.host}:{a.port}/get_reward", flush=True)
    ThreadingHTTPServer((a.host, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
