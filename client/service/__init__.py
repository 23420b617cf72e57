"""`ConversationService`: every conversation operation a UI needs, as one async API.

The package: `base` (state, subscribers, open conversations, navigation), `streaming`
(sending and streaming replies) and `conversations` (the class itself: opening, titles,
models, research). The events it publishes are `client.events`; they are re-exported here
so a UI imports the service and its events from one place.
"""

from grove_explorer.client.events import (
    BudgetUpdated,
    ConversationDeleted,
    ConversationOpened,
    ConversationSettings,
    ConversationsListed,
    ConversationUpdated,
    LeafMoved,
    Listener,
    QueryPerformed,
    ResponseAdded,
    ResponseCompleted,
    ServiceEvent,
    SettingsChanged,
    StreamFailed,
    TokensAppended,
)
from grove_explorer.client.service.conversations import ConversationService
from grove_explorer.client.service.streaming import PLACEHOLDER_PREFIX

__all__ = [
    "PLACEHOLDER_PREFIX",
    "BudgetUpdated",
    "ConversationDeleted",
    "ConversationOpened",
    "ConversationService",
    "ConversationSettings",
    "ConversationUpdated",
    "ConversationsListed",
    "LeafMoved",
    "Listener",
    "QueryPerformed",
    "ResponseAdded",
    "ResponseCompleted",
    "ServiceEvent",
    "SettingsChanged",
    "StreamFailed",
    "TokensAppended",
]
