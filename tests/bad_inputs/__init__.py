"""A catalog of bad inputs (issue 10, item 8): what hostile or careless users send, through the
real adapters (python-telegram-bot and discord.py against the fake platform servers, the
terminal's ``run_chat``), the real engine and the NemoVideo emulator.

90 distinct inputs: 49 on Telegram (``test_telegram.py``: 48 table rows and two ``/export``
at once), 27 on Discord (``test_discord.py``) and 14 in the terminal (``test_terminal.py``).
For each one the tests check the kind of reply (the catalog sentence, exactly), that nothing
leaked (no traceback, backend error text or platform token), that nothing was logged as an
error, that no agent run or URL fetch happened unless the row allows it, and that another
user's ``/help`` was answered at the same time.
"""
