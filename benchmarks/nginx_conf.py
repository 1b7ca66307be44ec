"""The ceiling for static files: an nginx config for a private, foreground nginx."""

from __future__ import annotations

import os

CONFIG = """\
daemon off;
master_process on;
worker_processes {workers};
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;

    types {{
        text/html html;
        text/css css;
        text/javascript js;
        application/json json;
        text/plain txt;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;

    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;

    server {{
        listen 127.0.0.1:{port};
        root {root};
        etag on;
        add_header X-Content-Type-Options nosniff;
        add_header Cache-Control no-cache;
    }}
}}
"""


def write_config(workdir: str, root: str, port: int, workers: int = 2) -> str:
    """Write ``nginx.conf`` into ``workdir`` (which nginx may write to); its path."""
    path = os.path.join(workdir, "nginx.conf")
    with open(path, "w", encoding="utf-8") as config:
        config.write(
            CONFIG.format(workdir=workdir, root=root, port=port, workers=workers)
        )

    return path
