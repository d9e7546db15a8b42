"""``--local`` finds a running ``sstdirect dev`` (through ``.sstdirect/dev.{STEM}.json``) and uses its cloud;
without one (or with a stale file) it keeps the throwaway embedded AWS. ``deploy --local`` says which URLs
answer, and a custom domain's missing hosted zone is created in the embedded Route 53 (local mode only)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

from test_cli import one_line, run
from test_gateway_dev import dev

from sstdirect.local.devfile import DevTarget, dev_file, new_target, running_dev, write_dev_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_local_commands_use_the_running_dev_cloud(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "custom-domain", tmp_path / "custom-domain")
    app_file = tmp_path / "custom-domain" / "app.py"
    announced = dev_file(app_file)
    # a stale file of a dev killed with SIGKILL: ignored, and replaced by the new dev
    write_dev_file(app_file, DevTarget("http://127.0.0.1:9", "us-east-1", str(tmp_path), dead_pid(), 0.0))
    assert running_dev(app_file) is None
    with dev(app_file) as out:
        assert "Created hosted zone example.com in the embedded Route 53" in one_line(out.getvalue())
        data = json.loads(announced.read_text())
        assert data["pid"] == os.getpid() and stat.S_IMODE(announced.stat().st_mode) == 0o600
        served = re.search(r"Api\s+(http://127\.0\.0\.1:\d+)", out.getvalue()).group(1)
        assert data["apps"] == [{"name": "custom-domain", "stage": "dev", "urls": {"Api": served}}]
        assert data["endpoint_url"].startswith("http://127.0.0.1:") and Path(data["state_dir"]).is_dir()

        outputs = run(tmp_path, "outputs", str(app_file), "--local", "--json")
        assert outputs.returncode == 0, outputs.stderr
        assert json.loads(outputs.stdout)["Api"]["custom_domain_url"] == "https://api.example.com/v1/"
        assert "Running sstdirect dev" in outputs.stderr

        diff = run(tmp_path, "diff", str(app_file), "--local")
        assert diff.returncode == 0 and "No changes: AWS matches the app." in one_line(diff.stdout), diff.stdout

        deploy = run(tmp_path, "deploy", str(app_file), "--local")
        text = one_line(deploy.stdout)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        assert "Created hosted zone" not in text and "0 change(s)" in text  # dev's cloud: its zone and resources
        assert re.search(rf"Api served at {re.escape(served)} \(AWS-style URL https://\w+\.execute-api\.", text), text
        with OPENER.open(f"{served}/", timeout=30) as r:
            assert r.status == 200

        removed = run(tmp_path, "remove", str(app_file), "--local")
        assert removed.returncode == 0 and re.search(r"Removed custom-domain: [1-9]\d* resource", removed.stdout)
        after = run(tmp_path, "outputs", str(app_file), "--local", "--json")
        assert after.returncode == 0 and json.loads(after.stdout) == {}, after.stdout + after.stderr
    assert not announced.exists()
    # no dev running: the throwaway cloud, empty
    outputs = run(tmp_path, "outputs", str(app_file), "--local", "--json")
    assert outputs.returncode == 0 and json.loads(outputs.stdout) == {} and "Embedded local AWS" in outputs.stderr


def test_stale_dev_file_is_ignored(tmp_path: Path) -> None:
    app_file = tmp_path / "app.py"
    app_file.write_text("from sstdirect import App\n\napp = App('stale', root=__file__.rsplit('/', 1)[0])\n")
    target = new_target("http://127.0.0.1:9", "us-east-1", str(tmp_path), [])
    write_dev_file(app_file, DevTarget(target.endpoint_url, target.region, target.state_dir, dead_pid(), 0.0))
    assert running_dev(app_file) is None
    # a live pid but an endpoint that answers nothing is stale too
    write_dev_file(app_file, target)
    assert running_dev(app_file) is None
    outputs = run(tmp_path, "outputs", str(app_file), "--local")
    assert outputs.returncode == 0 and "Embedded local AWS" in outputs.stdout
    assert "Running sstdirect dev" not in outputs.stdout


def test_deploy_local_creates_the_custom_domain_zone_and_says_nothing_answers(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "custom-domain", tmp_path / "custom-domain")
    deploy = run(tmp_path, "deploy", str(tmp_path / "custom-domain" / "app.py"), "--local")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "Created hosted zone example.com in the embedded Route 53 (local mode)" in one_line(deploy.stderr)
    assert "This embedded AWS stops when deploy exits, so nothing answers the URLs above" in one_line(deploy.stdout)


def test_without_local_a_missing_zone_is_still_an_error(tmp_path: Path, local_cloud) -> None:
    """Never on real AWS: against an endpoint (not --local) the preflight still refuses a missing zone."""
    local_cloud.reset()  # moto's state is process-wide: the in-process dev of the first test made the zone
    shutil.copytree(EXAMPLES / "custom-domain", tmp_path / "custom-domain")
    deploy = run(tmp_path, "deploy", str(tmp_path / "custom-domain" / "app.py"), "--endpoint-url",
                 local_cloud.endpoint_url)
    assert deploy.returncode == 2 and "Created hosted zone" not in deploy.stdout + deploy.stderr
    assert "hosted zone 'example.com' was not found" in one_line(deploy.stderr)
