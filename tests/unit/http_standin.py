# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local HTTP(S) server that answers every GET with one status: an account server or a
monitoring port in a state the real one cannot be put in on demand (down, slow, refusing)."""

from __future__ import annotations

import http.server
import threading
import time


class StandIn:
    """Answers GET with ``status`` after ``delay`` seconds; ``targets`` are the request targets as sent."""

    def __init__(self, status=200, tls=None, delay=0.0, path="/"):
        self.status, self.delay = status, delay
        self.targets = []
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the name http.server calls)
                # The target as sent: http.server turns a leading "//" into "/" in self.path.
                stand_in.targets.append(self.requestline.split()[1])
                time.sleep(stand_in.delay)
                self.send_response(stand_in.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = "%s://localhost:%d%s" % ("https" if tls is not None else "http", self.server.server_address[1], path)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
