"""Starting each server of the team stack (stack.py) and making it ready: PostgreSQL
with the `team` user and its databases, the S3 gateway with its buckets, MLflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sentiment_pipeline.team import services as sv
from sentiment_pipeline.team.stack import BUCKETS, DATABASES, Stack


def _postgres_root(stack: Stack) -> Path:
    """Where PostgreSQL keeps its files: in the stack's folder, or, as root (the server then runs as
    the `postgres` user, who may not reach a private folder), in a /tmp folder of its own."""
    if os.geteuid() != 0:
        root = stack.home / "postgres"
        root.mkdir(mode=0o700)
    else:
        root = Path(tempfile.mkdtemp(prefix="sentiment-team-pg-", dir="/tmp"))  # not TMPDIR: may be private
        shutil.chown(root, "postgres", "postgres")
    stack.pg_root = str(root)
    stack.save()
    return root


def postgres(stack: Stack) -> None:
    """initdb (scram-sha-256 passwords, TCP on 127.0.0.1 only, no Unix socket), start, then
    the `team` role and its databases."""
    pg_bin, home, root = sv.postgres_bin(), stack.home, _postgres_root(stack)
    pwfile = root / "superuser.pw"
    pwfile.write_text(stack.secrets["postgres_password"] + "\n")
    pwfile.chmod(0o600)
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    init = [str(pg_bin / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=scram-sha-256"]
    try:
        done = subprocess.run([*sv.as_postgres_user(), *init, f"--pwfile={pwfile}"], capture_output=True, text=True)
    finally:
        pwfile.unlink(missing_ok=True)
    if done.returncode != 0:
        raise sv.StackError(f"initdb failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    port = str(stack.ports["postgres"])
    settings = ["-c", f"listen_addresses={sv.HOST}", "-c", "unix_socket_directories=", "-p", port]
    sv.start("postgres", [*sv.as_postgres_user(), str(pg_bin / "postgres"), "-D", str(root / "data"), *settings], home)
    sv.wait_for("postgres", lambda: _superuser_connects(stack), home)
    _create_team_databases(stack)


def _superuser_connects(stack: Stack) -> bool:
    import psycopg2

    try:
        psycopg2.connect(**_superuser(stack), connect_timeout=2).close()
    except psycopg2.OperationalError:
        return False
    return True


def _superuser(stack: Stack) -> dict:
    return {
        "host": sv.HOST,
        "port": stack.ports["postgres"],
        "user": "postgres",
        "password": stack.secrets["postgres_password"],
        "dbname": "postgres",
    }


def _create_team_databases(stack: Stack) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(**_superuser(stack))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE ROLE team LOGIN PASSWORD %s", (stack.secrets["db_password"],))
        for name in DATABASES:
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER team").format(sql.Identifier(name)))
    conn.close()


def s3(stack: Stack) -> None:
    """SeaweedFS (master, volume, filer and the S3 gateway in one `weed server`), one identity, the buckets."""
    home, p = stack.home, stack.ports
    identity = {"accessKey": stack.secrets["s3_access_key"], "secretKey": stack.secrets["s3_secret_key"]}
    config = {
        "identities": [
            {"name": "team", "credentials": [identity], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        ]
    }
    (home / "s3.json").write_text(json.dumps(config))
    (home / "s3.json").chmod(0o600)
    (home / "weed").mkdir(exist_ok=True)
    cmd = [
        str(sv.weed_bin()), "server", f"-ip={sv.HOST}", f"-ip.bind={sv.HOST}", f"-dir={home / 'weed'}",
        f"-master.port={p['weed_master']}", f"-volume.port={p['weed_volume']}", "-filer",
        f"-filer.port={p['weed_filer']}", "-s3", f"-s3.port={p['s3']}", f"-s3.config={home / 's3.json'}",
        "-master.volumeSizeLimitMB=64", "-volume.max=20", "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    sv.start("s3", cmd, home)
    sv.wait_for("s3", lambda: _buckets_made(stack), home, timeout=90)


def s3_client(stack: Stack):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=stack.s3_url,
        aws_access_key_id=stack.secrets["s3_access_key"],
        aws_secret_access_key=stack.secrets["s3_secret_key"],
        region_name="us-east-1",
    )


def _buckets_made(stack: Stack) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = s3_client(stack)
        have = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in set(BUCKETS) - have:
            client.create_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError):
        return False
    return True


def mlflow(stack: Stack) -> None:
    """`mlflow server` on PostgreSQL, artifacts proxied to s3://mlflow (basic-auth app under stack.auth)."""
    home = stack.home
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": stack.secrets["s3_access_key"],
        "AWS_SECRET_ACCESS_KEY": stack.secrets["s3_secret_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_S3_ENDPOINT_URL": stack.s3_url,
        # MLflow 3's job runner (a runner and three huey consumers, ~1 GB) serves GenAI jobs
        # (trace rollups, judges); tracking and the registry do not use it
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(key, None)
    cmd = [
        sys.executable, "-m", "mlflow", "server", "--host", sv.HOST, "--port", str(stack.ports["mlflow"]),
        "--backend-store-uri", stack.db_url("mlflow"), "--artifacts-destination", "s3://mlflow/artifacts",
        "--workers", "1",
    ]  # fmt: skip
    if stack.auth:
        env |= {
            "MLFLOW_AUTH_CONFIG_PATH": str(_auth_config(stack)),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": stack.secrets["flask_secret"],
        }
        cmd += ["--app-name", "basic-auth"]
    sv.start("mlflow", cmd, home, env)
    sv.wait_for("mlflow", lambda: sv.answers_http(f"{stack.tracking_uri}/health"), home, timeout=120)


def _auth_config(stack: Stack) -> Path:
    """MLflow's basic-auth settings. Its password check (a KDF, ~0.3 s on 2 busy cores) runs
    on every request; auth_cache_ttl_seconds (MLflow's own cache of good credentials, which a
    password change or deletion clears) pays it once per client per five minutes instead."""
    path = stack.home / "basic_auth.ini"
    path.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {stack.db_url('mlflow_auth')}\n"
        "admin_username = admin\n"
        f"admin_password = {stack.secrets['mlflow_password']}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 300\n"
    )
    path.chmod(0o600)
    return path
