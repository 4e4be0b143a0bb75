"""pialara-async: MFlix and PIA Lara as an aiohttp service on Motor."""

__version__ = "0.1.0"
