"""The model of a question: the turn, conversations, the timeline, this kernel's session."""
