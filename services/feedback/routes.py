"""HTTP routes of the feedback service."""

from fastapi import APIRouter

router = APIRouter()
