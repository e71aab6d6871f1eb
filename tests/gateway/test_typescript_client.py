"""A TypeScript client generated from the merged OpenAPI compiles strictly and works.

``openapi-typescript`` turns the document the gateway serves into types;
``usage.ts`` reads a list, its ``Content-Range`` and a problem's ``detail`` through
``openapi-fetch`` with no casts, compiles under ``tsc --strict``, and then runs
with node against the real gateway. The node tools come from ``package-lock.json``
here (``npm ci``; CI runs it, and this test does when they are missing).
"""

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import Keys

HERE = Path(__file__).parent.parent / "clients"
NODE = shutil.which("node")


def _run(*args: str, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def node_tools() -> Path:
    if NODE is None:
        if os.environ.get("CI"):
            pytest.fail("node is missing: .ci/run installs it")
        pytest.skip("node is not installed here")
    modules = HERE / "node_modules"
    if not (modules / ".package-lock.json").exists():
        npm = shutil.which("npm")
        assert npm, "npm is missing"
        _run(npm, "ci", "--no-audit", "--no-fund", cwd=HERE)
    return modules


def test_generated_client_compiles_strictly_and_reads_the_api(
    node_tools: Path, gateway: str, keys: Keys, tmp_path: Path
) -> None:
    assert NODE is not None
    document = httpx.get(f"{gateway}/openapi.json", timeout=30).json()
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    (tmp_path / "node_modules").symlink_to(node_tools)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    for name in ("usage.ts", "tsconfig.json", "main.mjs"):
        shutil.copy(HERE / name, tmp_path / name)

    _run(
        NODE,
        str(node_tools / "openapi-typescript" / "bin" / "cli.js"),
        "openapi.json",
        "--output",
        "schema.d.ts",
        cwd=tmp_path,
    )
    _run(NODE, str(node_tools / "typescript" / "bin" / "tsc"), "-p", ".", cwd=tmp_path)

    admin = keys.tokens.admin()
    slug = f"ts-{uuid.uuid4().hex[:8]}"
    made = httpx.post(
        f"{gateway}/api/v1/funders",
        headers=admin,
        json={
            "name": "The TypeScript Trust",
            "slug": slug,
            "prefix_360giving": f"360G-{slug.replace('-', '')}",
            "org_id": "GB-CHC-1000001",
        },
    )
    assert made.status_code == 201, made.text
    token = admin["Authorization"].removeprefix("Bearer ")
    out = _run(NODE, "main.mjs", str(tmp_path / "out"), gateway, token, cwd=tmp_path)
    seen = json.loads(out)
    assert "The TypeScript Trust" in seen["names"]
    assert seen["contentRange"].startswith("funders 0-")
    assert seen["problemStatus"] == 404
    assert "funder" in seen["problemDetail"].lower()
    assert "slug" in seen["problemErrors"]
