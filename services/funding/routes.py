"""HTTP routes of the funding service."""

from fastapi import APIRouter

router = APIRouter()
