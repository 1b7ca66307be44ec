"""Row 3: static files, full answers and revalidations, against the alternatives."""

from __future__ import annotations

import os

from harness import Bench, Side, rate
from http_check import CheckError, expect
from load import Request
from processes import Server
from public_dirs import make_assets, size_label
from report import Row, at_least

#: Each alternative, and what it stands for in the table.
ALTERNATIVES = (
    ("whitenoise", "WhiteNoise"),
    ("sendfile", "Flask send_from_directory"),
    ("nginx", "nginx"),
)


def static_rows(bench: Bench) -> list[Row]:
    services = bench.services
    public = os.path.join(bench.workdir, "public-assets")
    os.makedirs(public, mode=0o755)
    paths = make_assets(public, bench.plan.static_sizes)

    servers = {
        "ours": services.gunicorn(
            "gateway-static",
            "gateway_app:create_app()",
            env={"HEADY_PUBLIC_DIR": public},
        ),
        "whitenoise": services.gunicorn(
            "whitenoise",
            "whitenoise_app:create_app()",
            env={"BENCH_PUBLIC_DIR": public},
        ),
        "sendfile": services.gunicorn(
            "sendfile", "sendfile_app:create_app()", env={"BENCH_PUBLIC_DIR": public}
        ),
        "nginx": services.nginx(public),
    }
    services.ready()

    rows = []
    for size, path in paths.items():
        full = Request(path)
        revalidations = {
            name: _revalidation(server, full, size) for name, server in servers.items()
        }
        for kind, requests in (
            ("200", dict.fromkeys(servers, full)),
            ("304", revalidations),
        ):
            results = bench.compare(
                [Side(name, servers[name], requests[name]) for name in servers]
            )
            for key, title in ALTERNATIVES:
                rows.append(
                    Row(
                        "3",
                        f"GET {size_label(size)} file, {kind}",
                        rate(results["ours"]),
                        rate(results[key], title),
                        at_least(1.0) if key == "whitenoise" else None,
                    )
                )

    return rows


def _revalidation(server: Server, full: Request, size: int) -> Request:
    """The conditional request a browser sends with the ETag it was given."""
    answer = expect(server.url, full, 200, {"ETag": ""})
    if len(answer.body) != size:
        raise CheckError(
            f"{server.name}: {full.path} sent {len(answer.body)} bytes, not {size}"
        )

    request = Request(full.path, headers={"If-None-Match": answer.headers["etag"]})
    expect(server.url, request, 304)
    return request
