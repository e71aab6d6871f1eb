"""The partners service: funders, partner organisations, the relationships between them,
and the people who sign in (the embedded OpenID Connect provider)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.common.events import combine
from services.common.mail import Mailer
from services.common.service_app import create_service_app
from services.partners.bank.routes import internal as bank_internal_router
from services.partners.bank.routes import router as bank_router
from services.partners.clients.routes import router as clients_router
from services.partners.config import Settings
from services.partners.contacts.routes import router as contacts_router
from services.partners.documents.routes import router as documents_router
from services.partners.funders.routes import router as funders_router
from services.partners.gatherings.routes import router as gatherings_router
from services.partners.identity.routes import router as identity_router
from services.partners.identity.signin import router as signin_router
from services.partners.imports.routes import internal as imports_internal_router
from services.partners.imports.routes import router as imports_router
from services.partners.interactions.routes import router as interactions_router
from services.partners.internal.routes import router as internal_router
from services.partners.learning.routes import router as learning_router
from services.partners.notifications.routes import pages as notification_pages_router
from services.partners.notifications.routes import router as notifications_router
from services.partners.notifications.sender import NotificationSender
from services.partners.notifications.service import EVENT_HANDLERS as NOTIFICATION_HANDLERS
from services.partners.organisations.routes import router as organisations_router
from services.partners.people.pages import router as people_pages_router
from services.partners.people.routes import router as people_router
from services.partners.relationships.routes import router as relationships_router
from services.partners.revocations.routes import router as revocations_router
from services.partners.revocations.service import database_source
from services.partners.search.routes import router as search_router
from services.partners.search.service import EVENT_HANDLERS as SEARCH_EVENT_HANDLERS
from services.partners.timeline.routes import router as timeline_router
from services.partners.timeline.service import EVENT_HANDLERS as TIMELINE_EVENT_HANDLERS
from services.partners.updates.routes import router as updates_router
from services.partners.webhooks.dispatcher import WebhookDispatcher
from services.partners.webhooks.routes import router as webhooks_router
from services.partners.webhooks.service import with_webhooks


def create_app(
    settings: Settings | None = None,
    *,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        settings,
        title="Trellis partners",
        description="Funders, partner organisations and each funder's relationship with them.",
        routers=[
            funders_router,
            organisations_router,
            relationships_router,
            clients_router,
            imports_router,
            interactions_router,
            documents_router,
            contacts_router,
            updates_router,
            timeline_router,
            people_router,
            bank_router,
            search_router,
            learning_router,
            gatherings_router,
            webhooks_router,
            notifications_router,
        ],
        event_handlers=combine(
            with_webhooks({**TIMELINE_EVENT_HANDLERS, **SEARCH_EVENT_HANDLERS}),
            NOTIFICATION_HANDLERS,
        ),
        extra_routers=[
            identity_router,
            signin_router,
            people_pages_router,
            internal_router,
            imports_internal_router,
            revocations_router,
            bank_internal_router,
            notification_pages_router,
        ],
        transports=transports,
        revocation_source=database_source,
    )
    # Invitations and password resets go by mail once their transaction has committed.
    mailer = Mailer(
        smtp_url=settings.smtp_url, mail_dir=settings.mail_dir, sender=settings.mail_from
    )
    app.state.mailer = mailer
    kit_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with kit_lifespan(app_):
            # Webhooks to funders' and partners' own systems, from the deliveries table.
            webhooks = WebhookDispatcher(
                app_.state.db,
                mailer,
                base_url=settings.base_url,
                allow_private=settings.webhooks_allow_private_addresses,
                timeout=settings.webhooks_timeout,
                max_attempts=settings.webhooks_max_attempts,
                max_backoff=settings.webhooks_max_backoff,
                disable_after=settings.webhooks_disable_after,
                poll_interval=settings.webhooks_poll_interval,
            )
            app_.state.webhooks = webhooks
            if settings.webhooks_autostart:
                webhooks.start()
            # Email notifications, from the notifications table (the mail outbox).
            notifications = NotificationSender(
                app_.state.db,
                mailer,
                base_url=settings.base_url,
                feedback=app_.state.services.get("feedback"),
                reply_within_days=settings.notifications_reply_within_days,
                round_closing_days=settings.notifications_round_closing_days,
                digest_hour=settings.notifications_digest_hour,
                poll_interval=settings.notifications_poll_interval,
                scan_interval=settings.notifications_scan_interval,
                max_attempts=settings.notifications_max_attempts,
            )
            app_.state.notifications = notifications
            if settings.notifications_autostart:
                notifications.start()
            try:
                yield
            finally:
                await notifications.stop()
                await webhooks.stop()
                await mailer.drain()

    app.router.lifespan_context = lifespan
    return app
