"""The Web API calls the two-way side makes beside the sender's: permalinks (escalations),
ephemeral answers, user-group members (admins). Errors become DeliveryError, redacted."""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.clock import Clock
from bot.config.live import LiveConfig
from bot.errors import DeliveryError, redact

log = logging.getLogger("chipwatch.slack")
GROUP_TTL = 300.0  # seconds a user group's member list is trusted


class SlackWeb:
    """A few Web API methods over a shared slack-sdk WebClient."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            raise DeliveryError(f"slack {method}: {exc.response.get('error')}") from None
        except (SlackClientError, OSError, ValueError) as exc:
            raise DeliveryError(redact(f"slack {method}: {type(exc).__name__}: {exc}")[:300]) \
                from None

    def permalink(self, channel_id: str, ts: str) -> str | None:
        link = self._call("chat_getPermalink", channel=channel_id, message_ts=ts)
        return str(link["permalink"]) if link.get("permalink") else None

    def ephemeral(self, channel_id: str, user: str, text: str) -> None:
        self._call("chat_postEphemeral", channel=channel_id, user=user, text=text)

    def group_members(self, group_id: str) -> frozenset[str]:
        resp = self._call("usergroups_users_list", usergroup=group_id)
        return frozenset(str(u) for u in resp.get("users") or [])


class Admins:
    """Who is an admin: a user listed in `slack.admins`, or a member of a listed user
    group (asked of Slack, cached a few minutes; a failed lookup denies)."""

    def __init__(self, live: LiveConfig, web: SlackWeb | None, clock: Clock) -> None:
        self.live, self.web, self.clock = live, web, clock
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def is_admin(self, user: str) -> bool:
        slack = self.live.current.settings.slack
        if user in slack.admin_users:
            return True
        return any(user in self._members(g) for g in sorted(slack.admin_groups))

    def _members(self, group: str) -> frozenset[str]:
        now = self.clock.monotonic()
        with self._lock:
            cached = self._groups.get(group)
        if cached and now - cached[0] < GROUP_TTL:
            return cached[1]
        if self.web is None:
            return frozenset()
        try:
            members = self.web.group_members(group)
        except DeliveryError as exc:
            log.warning("admin_group_lookup_failed group=%s error=%s", group, exc)
            return cached[1] if cached else frozenset()
        with self._lock:
            self._groups[group] = (now, members)
        return members
