"""In-memory conversations and bounded message history.

Optimistic concurrency is the point of the `version` field: every mutation bumps it and
PATCH must name the version it read, so concurrent VUs editing one conversation see real
409s. Memory is bounded three ways: per-conversation history (`history_limit`), the
number of conversations (oldest evicted past `max_conversations`) and the cache's LRU.
Errors are raised as `ApiError` with their HTTP status, since this store only serves HTTP.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loadgen.demo.cache import ParticipantCache
from loadgen.demo.jsonio import ApiError


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    sender: str
    body: str
    client_msg_id: str | None
    sent_at: float  # epoch seconds when the server accepted it

    def to_frame(self, body: str | None = None) -> dict[str, Any]:
        """The WebSocket delivery frame (`body` overrides, for the corruption fault)."""
        return {
            "type": "message",
            "id": self.id,
            "conversation_id": self.conversation_id,
            "client_msg_id": self.client_msg_id,
            "sender": self.sender,
            "body": self.body if body is None else body,
            "sent_at": self.sent_at,
        }


@dataclass(slots=True)
class Conversation:
    id: str
    title: str
    creator: str
    participants: set[str]
    history: deque[Message]
    version: int = 1
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "creator": self.creator,
            "participants": sorted(self.participants),
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "message_count": len(self.history),
        }

    def touch(self) -> None:
        self.version += 1
        self.updated_at = time.time()


class Store:
    """Conversations by id, an index user → conversation ids, and the participant cache."""

    def __init__(
        self,
        *,
        history_limit: int = 100,
        max_conversations: int = 50_000,
        on_cache_hit: Callable[[], None] | None = None,
        on_cache_miss: Callable[[], None] | None = None,
    ) -> None:
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._by_user: dict[str, set[str]] = {}
        self._history_limit = max(1, history_limit)
        self._max_conversations = max(1, max_conversations)
        self.cache = ParticipantCache(
            self._load_participants,
            max_entries=self._max_conversations,
            on_hit=on_cache_hit,
            on_miss=on_cache_miss,
        )

    def _load_participants(self, conversation_id: str) -> frozenset[str] | None:
        conv = self._conversations.get(conversation_id)
        return None if conv is None else frozenset(conv.participants)

    def __len__(self) -> int:
        return len(self._conversations)

    # -- membership ------------------------------------------------------------------
    def participants(self, conversation_id: str, user: str) -> tuple[frozenset[str], bool]:
        """Participants seen through the cache (404 unknown, 403 non-member), and hit?"""
        members, hit = self.cache.lookup(conversation_id)
        if members is None:
            raise ApiError(404, "conversation not found")
        if user not in members:
            raise ApiError(403, "not a participant of this conversation")
        return members, hit

    def _member_conversation(self, conversation_id: str, user: str) -> Conversation:
        self.participants(conversation_id, user)
        return self._conversations[conversation_id]

    def _set_members(self, conv: Conversation, new: set[str]) -> None:
        for gone in conv.participants - new:
            ids = self._by_user.get(gone)
            if ids is not None:
                ids.discard(conv.id)
                if not ids:
                    del self._by_user[gone]
        for added in new - conv.participants:
            self._by_user.setdefault(added, set()).add(conv.id)
        conv.participants = new
        self.cache.invalidate(conv.id)  # same step as the mutation: no stale window

    # -- CRUD ------------------------------------------------------------------------
    def create(self, creator: str, title: str, participants: list[str]) -> Conversation:
        conv = Conversation(
            id=uuid.uuid4().hex,
            title=title,
            creator=creator,
            participants=set(),
            history=deque(maxlen=self._history_limit),
        )
        self._conversations[conv.id] = conv
        self._set_members(conv, {creator, *participants})
        while len(self._conversations) > self._max_conversations:
            oldest_id = next(iter(self._conversations))
            self._drop(self._conversations[oldest_id])
        return conv

    def get(self, conversation_id: str, user: str) -> Conversation:
        return self._member_conversation(conversation_id, user)

    def list_for(self, user: str) -> list[Conversation]:
        ids = self._by_user.get(user, set())
        convs = [self._conversations[i] for i in ids if i in self._conversations]
        return sorted(convs, key=lambda c: (c.created_at, c.id))

    def update(
        self, conversation_id: str, user: str, version: int, title: str | None
    ) -> Conversation:
        conv = self._member_conversation(conversation_id, user)
        if version != conv.version:
            raise ApiError(409, f"version conflict: current version is {conv.version}")
        if title is not None:
            conv.title = title
        conv.touch()
        return conv

    def delete(self, conversation_id: str, user: str) -> None:
        conv = self._member_conversation(conversation_id, user)
        if conv.creator != user:
            raise ApiError(403, "only the creator may delete a conversation")
        self._drop(conv)

    def _drop(self, conv: Conversation) -> None:
        self._set_members(conv, set())
        del self._conversations[conv.id]

    def add_participants(self, conversation_id: str, user: str, users: list[str]) -> Conversation:
        conv = self._member_conversation(conversation_id, user)
        self._set_members(conv, conv.participants | set(users))
        conv.touch()
        return conv

    def remove_participants(
        self, conversation_id: str, user: str, users: list[str]
    ) -> Conversation:
        conv = self._member_conversation(conversation_id, user)
        self._set_members(conv, conv.participants - set(users))
        conv.touch()
        return conv

    # -- messages --------------------------------------------------------------------
    def new_message(
        self, conversation_id: str, sender: str, body: str, client_msg_id: str | None
    ) -> tuple[Message, frozenset[str]]:
        """A message from a member, and the recipients as of now (sender included)."""
        members, _ = self.participants(conversation_id, sender)
        msg = Message(uuid.uuid4().hex, conversation_id, sender, body, client_msg_id, time.time())
        return msg, members

    def record(self, msg: Message) -> None:
        """Append to the bounded history (after the outbox accepted it)."""
        conv = self._conversations.get(msg.conversation_id)
        if conv is not None:
            conv.history.append(msg)

    def history(self, conversation_id: str, user: str, limit: int) -> list[Message]:
        conv = self._member_conversation(conversation_id, user)
        return list(conv.history)[-limit:] if limit > 0 else []
