"""SST's "API with a custom domain" example in Python.

    DOMAIN=api.example.com sstdirect deploy examples/custom-domain/app.py

The hosted zone (`example.com` for `api.example.com`) must exist in Route 53: sstdirect requests and
validates the certificate, creates the regional domain, maps the API under `/v1` and writes the A/AAAA
alias records. `Api.custom_domain_url` is then `https://api.example.com/v1/`.
"""

import os
from pathlib import Path

from sstdirect import Api, App

app = App("custom-domain", stage="dev", root=Path(__file__).parent)

api = Api(
    app,
    "Api",
    custom_domain={"domain_name": os.environ.get("DOMAIN", "api.example.com"), "path": "v1"},
    routes={"GET /": "src/hello.main"},
)
