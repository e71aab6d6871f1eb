"""The kit documents a new route's contract from its dependencies, with no edits.

A throwaway router written the way a service writes one (the kit's dependencies,
nothing OpenAPI-specific) must come out with its statuses, headers, security,
readable operationIds and examples; a route's own ``responses=`` adds to them.
"""

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from services.common.auth import AdminDep, CallerDep, OptionalCallerDep
from services.common.concurrency import IfMatchDep
from services.common.idempotency import IdempotencyDep
from services.common.lists import ListQuery, list_query
from services.common.service_app import create_service_app, problem_responses
from tests.support import service_settings

router = APIRouter(tags=["hedgerows"])


class HedgerowIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    length_m: int = Field(gt=0)
    planted_on: str | None = None


class Hedgerow(HedgerowIn):
    id: uuid.UUID


HedgerowQuery = Annotated[
    ListQuery, Depends(list_query("hedgerows", sortable=["name"], filterable=["name"]))
]


@router.get("/hedgerows", response_model=list[Hedgerow])
async def list_hedgerows(caller: CallerDep, query: HedgerowQuery, response: Response) -> Any:
    """Hedgerows."""


@router.post("/hedgerows", status_code=201, response_model=Hedgerow)
async def plant_hedgerow(body: HedgerowIn, caller: CallerDep, idem: IdempotencyDep) -> Any:
    """Plant one."""


@router.get("/hedgerows/{hedgerow_id}", response_model=Hedgerow)
async def get_hedgerow(hedgerow_id: uuid.UUID, caller: OptionalCallerDep) -> Any:
    """One; a token shows more."""


@router.put("/hedgerows/{hedgerow_id}", response_model=Hedgerow, responses=problem_responses(409))
async def update_hedgerow(
    hedgerow_id: uuid.UUID, body: HedgerowIn, caller: AdminDep, if_match: IfMatchDep
) -> Any:
    """Change one."""


@router.get("/public/hedgerows/{slug}/count")
async def public_hedgerow_count(slug: str) -> dict[str, int]:
    """Published: no token."""
    return {"count": 0}


def _doc(tmp_path: Path) -> dict[str, Any]:
    settings = service_settings(
        "feedback", data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db"
    )
    app = create_service_app(settings, title="Kit", description="kit", routers=[router])
    return app.openapi()


def test_a_new_route_is_documented_from_its_dependencies(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    validate(doc)
    ops = doc["paths"]
    listed = ops["/api/v1/hedgerows"]["get"]
    planted = ops["/api/v1/hedgerows"]["post"]
    read = ops["/api/v1/hedgerows/{hedgerow_id}"]["get"]
    updated = ops["/api/v1/hedgerows/{hedgerow_id}"]["put"]
    public = ops["/api/v1/public/hedgerows/{slug}/count"]["get"]

    assert [o["operationId"] for o in (listed, planted, read, updated, public)] == [
        "hedgerows_list",
        "hedgerows_plant",
        "hedgerows_get",
        "hedgerows_update",
        "public_hedgerow_count",
    ]
    # Every operation may meet a URL over the limit (414); one with a body, a body that is not
    # JSON (400) or is over the size limit (413).
    assert set(listed["responses"]) == {"200", "400", "401", "403", "414", "422"}
    assert set(planted["responses"]) == {"201", "400", "401", "403", "409", "413", "414", "422"}
    assert set(read["responses"]) == {"200", "401", "404", "414", "422"}
    assert set(updated["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "413",
        "414",
        "422",
    }
    assert set(public["responses"]) == {"200", "404", "414", "422"}
    for operation in (listed, planted, read, updated, public):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }

    assert listed["security"] == [{"bearerAuth": []}]
    assert read["security"] == [{}, {"bearerAuth": []}]
    assert public["security"] == []

    assert set(listed["responses"]["200"]["headers"]) == {
        "Content-Range",
        "X-Next-Cursor",
        "X-Total-Count-Estimated",
    }
    assert {"Location", "ETag", "Idempotent-Replayed"} <= set(
        planted["responses"]["201"]["headers"]
    )
    assert "ETag" in read["responses"]["200"]["headers"]
    assert "ETag" in updated["responses"]["200"]["headers"]
    assert [p["name"] for p in planted["parameters"]] == ["Idempotency-Key"]
    assert "If-Match" in [p["name"] for p in updated["parameters"]]

    example = planted["requestBody"]["content"]["application/json"]["example"]
    assert example["name"] and example["length_m"] > 0
    assert doc["components"]["schemas"]["Hedgerow"]["examples"][0]["id"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "security" not in doc


def test_each_service_serves_offline_docs_and_its_contract(tmp_path: Path) -> None:
    settings = service_settings(
        "feedback", data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db"
    )
    app = create_service_app(settings, title="Kit", description="kit", routers=[router])
    paths = {getattr(route, "path", "") for route in app.routes}
    assert {"/docs", "/redoc", "/docs/assets", "/openapi.json"} <= paths
