"""serve: real HTTP requests against a server on 127.0.0.1 with tokens and roles."""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from safety_eval.errors import ConfigError
from safety_eval.models.registry import slug
from safety_eval.ops import structured_logging as sl
from safety_eval.ops.crypto import Cipher, encrypt_run, generate_key
from safety_eval.ops.maintenance import verify_archive
from safety_eval.ops.serve import (
    ResultsServer,
    add_user,
    hash_token,
    load_policy,
    main,
    make_server,
)
from tests.ops.conftest import HOST_MODEL, PATH_MODEL, SECRETS, copy_run, read_jsonl


@dataclass
class Site:
    server: ResultsServer
    client: httpx.Client
    evaluator: str
    admin: str
    viewer: str
    roles: Path
    mock: str
    secret: str
    log: Path

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.client.get(path, headers=headers)

    def raw(self, path: str, token: str, method: str = "GET") -> tuple[int, bytes]:
        """A request with the path sent byte for byte (httpx would normalise ``..``)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def denials(self) -> list[dict[str, object]]:
        return [r for r in read_jsonl(self.log) if r["event"] == "access denied"]


@pytest.fixture
def site(mock_run_master: Path, secret_run_master: Path, tmp_path: Path) -> Iterator[Site]:
    results = tmp_path / "results"
    mock = copy_run(mock_run_master, results)
    secret = copy_run(secret_run_master, results)
    (results / "not-a-run").mkdir()
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("OUTSIDE THE RESULTS")
    os.symlink(outside, mock / "leak.txt")
    os.symlink(tmp_path, mock / "escape")
    roles = tmp_path / "roles.yaml"
    evaluator = add_user(roles, "alice", "evaluator")
    admin = add_user(roles, "root", "administrator")
    data = yaml.safe_load(roles.read_text())
    data["roles"]["viewer"] = ["view_results"]
    roles.write_text(yaml.safe_dump(data))
    viewer = add_user(roles, "vic", "viewer")
    sl.configure("INFO", console=False)
    handle = sl.attach_run_log(tmp_path / "logs", "serve-test")
    server = make_server(results, roles, port=0, cache_dir=tmp_path / "cache").start()
    client = httpx.Client(base_url=server.url, timeout=30)
    try:
        yield Site(server, client, evaluator, admin, viewer, roles, mock.name, secret.name,
                   tmp_path / "logs" / "run.log")
    finally:
        client.close()
        server.close()
        handle.close()


def test_binds_loopback_by_default(site: Site) -> None:
    assert site.server.server_address[0] == "127.0.0.1"
    assert site.get("/healthz").json() == {"status": "ok"}


def test_tokens_are_required_and_checked(site: Site) -> None:
    missing = site.get("/runs")
    assert missing.status_code == 401 and "Bearer" in missing.headers["WWW-Authenticate"]
    assert site.client.get("/runs", headers={"Authorization": "Basic abc"}).status_code == 401
    assert site.get("/runs", token="not-a-token").status_code == 403
    assert site.get("/runs", token=site.evaluator + "x").status_code == 403
    denials = site.denials()
    assert [d["status"] for d in denials] == [401, 401, 403, 403]
    assert all(d["path"] == "/runs" and d["user"] is None for d in denials)
    # the roles file holds hashes only
    text = site.roles.read_text()
    assert site.evaluator not in text and hash_token(site.evaluator) in text


def test_evaluator_sees_anonymized_data_only(site: Site) -> None:
    runs = site.get("/", token=site.evaluator).json()["runs"]
    assert {r["name"] for r in runs} == {site.mock, site.secret}
    listing = json.dumps(runs)
    assert "/home/alice" not in listing and "10.0.0.5" not in listing
    assert "openai:gpt-lab@[host]" in listing
    folder = slug(PATH_MODEL)
    raw = site.get(f"/runs/{site.secret}/{folder}/samples.jsonl", token=site.evaluator)
    assert raw.status_code == 403
    pointer = raw.json()["anonymized"]
    anon_samples = f"{slug('llamacpp:secret-model-q4.gguf')}/samples.jsonl"
    assert pointer == f"/runs/{site.secret}/anonymized/{anon_samples}"
    for name in ("prompts.jsonl", "run.log", "run.json", "mock/agent_trials.jsonl"):
        run = site.mock if name.startswith("mock/") else site.secret
        assert site.get(f"/runs/{run}/{name}", token=site.evaluator).status_code == 403
    # the pointer follows the anonymized view, which renamed the folder after the new spec
    files = site.get(f"/runs/{site.secret}/anonymized/", token=site.evaluator).json()["files"]
    assert anon_samples in files
    body = site.get(pointer, token=site.evaluator)
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("application/x-ndjson")
    for secret in SECRETS.values():
        assert secret not in body.text
    assert "[REDACTED:api_key]" in body.text
    run_json = site.get(f"/runs/{site.secret}/anonymized/run.json", token=site.evaluator)
    assert "/home/alice" not in run_json.text and run_json.json()["anonymized"] is True
    report = site.get(f"/runs/{site.secret}/report.html", token=site.evaluator)
    if report.status_code == 200:
        assert "Content-Security-Policy" in report.headers
        for secret in SECRETS.values():
            assert secret not in report.text
        assert "/home/alice" not in report.text
    else:
        assert report.status_code == 404  # no report module in this build
    assert site.client.post("/admin/reload", headers={
        "Authorization": f"Bearer {site.evaluator}"}).status_code == 403


def test_anonymized_export_download(site: Site, tmp_path: Path) -> None:
    response = site.get(f"/runs/{site.secret}/anonymized.tar.gz", token=site.evaluator)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    path = tmp_path / "export.tar.gz"
    path.write_bytes(response.content)
    verified = verify_archive(path)
    assert verified.root == site.secret and verified.files > 5
    with tarfile.open(path) as tar:
        text = "".join(
            tar.extractfile(m).read().decode("utf-8", "replace")  # type: ignore[union-attr]
            for m in tar.getmembers() if m.isfile() and not m.name.endswith(".png"))
    for secret in SECRETS.values():
        assert secret not in text
    # a role without export_anonymized_data cannot download it, but can view
    assert site.get(f"/runs/{site.secret}/anonymized.tar.gz",
                    token=site.viewer).status_code == 403
    assert site.get(f"/runs/{site.secret}/anonymized/run.json",
                    token=site.viewer).status_code == 200


def test_administrator_reads_raw_files(site: Site) -> None:
    folder = slug(PATH_MODEL)
    path = f"/runs/{site.secret}/{folder}/samples.jsonl"
    response = site.get(path, token=site.admin)
    assert response.status_code == 200
    on_disk = (site.server.results_dir / site.secret / folder / "samples.jsonl").read_bytes()
    assert response.content == on_disk
    assert SECRETS["openai"] in response.text
    runs = site.get("/runs", token=site.admin).json()["runs"]
    assert PATH_MODEL in json.dumps(runs) and HOST_MODEL in json.dumps(runs)
    listing = site.get(f"/runs/{site.mock}/", token=site.admin).json()
    assert "mock/samples.jsonl" in listing["files"] and "leak.txt" not in listing["files"]
    assert site.get(f"/runs/{site.mock}/report.html", token=site.admin).status_code in (200, 404)
    head = site.client.head(path, headers={"Authorization": f"Bearer {site.admin}"})
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(on_disk)
    assert site.get(f"/runs/{site.mock}/nope.json", token=site.admin).status_code == 404
    assert site.get("/runs/not-a-run/", token=site.admin).status_code == 404
    assert site.client.put("/runs", headers={
        "Authorization": f"Bearer {site.admin}"}).status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/runs/{run}/../../etc/passwd",
        "/runs/{run}/mock/../run.json",
        "/runs/{run}/%2e%2e/%2e%2e/etc/passwd",
        "/runs/{run}/..%2F..%2Fetc%2Fpasswd",
        "/runs/{run}/%2Fetc%2Fpasswd",
        "/runs//etc/passwd",
        "/runs/{run}/.hidden",
        "/runs/{run}/mock\\..\\run.json",
        "/runs/%2e%2e/secret",
        "/runs/{run}/%252e%252e/x",
    ],
)
def test_traversal_is_refused_and_logged(site: Site, path: str) -> None:
    target = path.format(run=site.mock)
    status, body = site.raw(target, site.admin)
    assert status in (403, 404), body
    assert b"root:" not in body
    denial = site.denials()[-1]
    assert denial["user"] == "root" and denial["path"] == target
    assert denial["status"] == status


def test_links_out_of_a_run_are_refused(site: Site) -> None:
    status, body = site.raw(f"/runs/{site.mock}/leak.txt", site.admin)
    assert status == 403 and b"OUTSIDE" not in body
    status, _ = site.raw(f"/runs/{site.mock}/escape/outside-secret.txt", site.admin)
    assert status == 403
    assert "symbolic link" in str(site.denials()[-1]["reason"])


def test_roles_reload(site: Site) -> None:
    newcomer = add_user(site.roles, "bob", "evaluator")
    assert site.get("/runs", token=newcomer).status_code == 403  # not loaded yet
    reload = site.client.post("/admin/reload", headers={"Authorization": f"Bearer {site.admin}"})
    assert reload.status_code == 200
    assert site.get("/runs", token=newcomer).status_code == 200


def test_encrypted_runs_need_the_servers_key(site: Site, tmp_path: Path) -> None:
    cipher = Cipher.from_key_text(generate_key())
    run_dir = site.server.results_dir / site.secret
    encrypt_run(run_dir, cipher)
    response = site.get(f"/runs/{site.secret}/anonymized/run.json", token=site.evaluator)
    assert response.status_code == 503 and "encrypted" in response.json()["error"]
    with ResultsServer(site.server.results_dir, site.server.policy, cipher=cipher,
                       cache_dir=tmp_path / "cache2") as keyed:
        keyed.start()
        folder = slug("llamacpp:secret-model-q4.gguf")
        text = httpx.get(f"{keyed.url}/runs/{site.secret}/anonymized/{folder}/samples.jsonl",
                         headers={"Authorization": f"Bearer {site.evaluator}"}).text
    assert "[REDACTED:api_key]" in text and "enc:v1:" not in text


def test_roles_file_validation(tmp_path: Path) -> None:
    def write(data: object) -> Path:
        path = tmp_path / "r.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    good_hash = hash_token("t")
    with pytest.raises(ConfigError, match="unknown permission 'fly'"):
        load_policy(write({"roles": {"x": ["fly"]}}))
    with pytest.raises(ConfigError, match="unknown role 'ghost'"):
        load_policy(write({"roles": {"x": ["view_results"]},
                           "users": [{"name": "a", "role": "ghost", "token_sha256": good_hash}]}))
    with pytest.raises(ConfigError, match="loop"):
        load_policy(write({"roles": {"a": ["all_b_permissions"], "b": ["all_a_permissions"]}}))
    with pytest.raises(ConfigError, match="64 hex"):
        load_policy(write({"users": [{"name": "a", "role": "evaluator", "token_sha256": "abc"}]}))
    with pytest.raises(ConfigError, match="not found"):
        load_policy(tmp_path / "missing.yaml")
    policy = load_policy(write({"users": [
        {"name": "a", "role": "administrator", "token_sha256": good_hash.upper()}]}))
    user = policy.authenticate("t")
    assert user is not None and policy.permissions(user) == {
        "view_results", "export_anonymized_data", "access_raw_data", "manage_configurations"}
    assert policy.authenticate("u") is None


def test_add_user_cli_prints_the_token_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    roles = tmp_path / "roles.yaml"
    assert main(["add-user", str(roles), "carol", "evaluator"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40 and token not in roles.read_text()
    user = load_policy(roles).authenticate(token)
    assert user is not None and user.name == "carol"
    assert main(["add-user", str(roles), "dave", "nobody"]) == 2
    assert main(["serve", str(tmp_path / "missing"), "--roles", str(roles)]) == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO(token + "\n"))
    assert main(["hash-token"]) == 0
    assert capsys.readouterr().out.strip() == hash_token(token)


def test_run_names_hide_model_paths_from_evaluators(site: Site, secret_run_master: Path,
                                                    tmp_path: Path) -> None:
    real = f"run_20260101_000000_{slug(PATH_MODEL)}"
    shutil.copytree(secret_run_master, site.server.results_dir / real)
    alias = f"run_20260101_000000_{slug('llamacpp:secret-model-q4.gguf')}"
    names = [r["name"] for r in site.get("/runs", token=site.evaluator).json()["runs"]]
    assert alias in names and real not in names
    assert "home-alice" not in json.dumps(names)
    assert real in [r["name"] for r in site.get("/runs", token=site.admin).json()["runs"]]
    response = site.get(f"/runs/{alias}/anonymized.tar.gz", token=site.evaluator)
    assert response.status_code == 200
    path = tmp_path / "a.tar.gz"
    path.write_bytes(response.content)
    assert verify_archive(path).root == alias
    manifest = site.get(f"/runs/{alias}/anonymized/run.json", token=site.evaluator).json()
    assert "home-alice" not in json.dumps(manifest) and manifest["anonymized"] is True
