"""Slack's incoming-webhook format: a Block Kit message built from an event's envelope."""

from typing import Any

# Emitters put a one-line `summary`, an optional `title`, `url` and `fields` in the event's data.
MAX_FIELDS = 10


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data") or {}
    workspace = payload.get("workspace") or {}
    title = data.get("title") or payload.get("type", "")
    summary = data.get("summary") or ""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
    ]
    if summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": summary[:3000]}})
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{value}"}
        for name, value in list((data.get("fields") or {}).items())[:MAX_FIELDS]
        if value not in (None, "")
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if data.get("url"):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Custory"},
                        "url": data["url"],
                    }
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"{workspace.get('name', '')} · `{payload.get('type')}`"}
            ],
        }
    )
    return {"text": f"{title}: {summary}" if summary else title, "blocks": blocks}
