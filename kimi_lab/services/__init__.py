"""What every face asks of the session: asking, chats (export, reopen), the doctor."""
