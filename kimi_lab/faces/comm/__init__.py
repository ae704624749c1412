"""The kimi_lab comm: the protocol defined once, its dispatch, running asks, the main-thread hop."""
