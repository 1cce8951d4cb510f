"""tether: an asyncio Discord gateway client whose connection manager never lets go."""
