"""The transcripts file: sqlite storage, the recorder off the hot path, reopening chats."""
