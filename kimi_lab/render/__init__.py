"""How answers look: live HTML and text, final Markdown, the throttled live views."""
