"""Tables of the partners service: every sub-package's models, on one metadata.

Alembic's ``env.py`` imports ``Base`` from here, so importing this module
registers all partners tables.
"""

from services.partners.bank.models import BankAccount, BankNotice
from services.partners.clients.models import ApiClient
from services.partners.contacts.models import Contact
from services.partners.db import Base
from services.partners.documents.models import Document
from services.partners.funders.models import Funder
from services.partners.gatherings.models import Gathering, Invitee
from services.partners.identity.models import AuthorizationCode, RefreshToken, SignInSession
from services.partners.interactions.models import Interaction
from services.partners.learning.models import LearningNote, NoteSource, Tag
from services.partners.notifications.models import (
    Notification,
    NotificationMark,
    NotificationPreference,
    NotificationRound,
    NotificationSettings,
)
from services.partners.organisations.models import Partner
from services.partners.people.models import (
    ExternalIdentity,
    Invitation,
    Membership,
    PasswordReset,
    Person,
)
from services.partners.relationships.models import (
    RELATIONSHIP_STATUSES,
    Relationship,
    RelationshipChange,
)
from services.partners.revocations.models import Revocation
from services.partners.search.models import SearchEntry, ThreadMessageCopy
from services.partners.timeline.models import GrantFunder, TimelineEntry
from services.partners.updates.models import Reply, Update
from services.partners.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "RELATIONSHIP_STATUSES",
    "ApiClient",
    "AuthorizationCode",
    "BankAccount",
    "BankNotice",
    "Base",
    "Contact",
    "Document",
    "ExternalIdentity",
    "Funder",
    "Gathering",
    "GrantFunder",
    "Interaction",
    "Invitation",
    "Invitee",
    "LearningNote",
    "Membership",
    "NoteSource",
    "Notification",
    "NotificationMark",
    "NotificationPreference",
    "NotificationRound",
    "NotificationSettings",
    "Partner",
    "PasswordReset",
    "Person",
    "RefreshToken",
    "Relationship",
    "RelationshipChange",
    "Reply",
    "Revocation",
    "SearchEntry",
    "SignInSession",
    "Tag",
    "ThreadMessageCopy",
    "TimelineEntry",
    "Update",
    "WebhookDelivery",
    "WebhookEndpoint",
]
