"""Invoke latency of a trivial warm function through boto3 against a ``LocalCloud`` (p50 / p99).

``python scripts/bench_invoke.py [N]``: creates one function (its handler returns its event), warms it, then
times N (default 500) ``Invoke`` calls in a row, RequestResponse, and prints the figures in milliseconds.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
import zipfile

from sstdirect.local import LocalCloud

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


def main(n: int = 500) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    with LocalCloud() as cloud:
        role = cloud.client("iam").create_role(RoleName="bench-invoke", AssumeRolePolicyDocument=json.dumps(TRUST))
        lam = cloud.client("lambda")
        lam.create_function(FunctionName="bench-invoke", Runtime="python3.12", Role=role["Role"]["Arn"],
                            Handler="index.handler", Code={"ZipFile": buffer.getvalue()})
        for _ in range(20):  # warm: the worker started, the module imported, boto3's connection open
            lam.invoke(FunctionName="bench-invoke", Payload=b'{"x": 1}')["Payload"].read()
        samples = []
        for _ in range(n):
            began = time.perf_counter()
            lam.invoke(FunctionName="bench-invoke", Payload=b'{"x": 1}')["Payload"].read()
            samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"invoke (warm, trivial function, boto3 → LocalCloud), n={n}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
          f"max {samples[-1]:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
