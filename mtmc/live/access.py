"""Who may watch: the live server's access-token rules, pure functions of strings.

* ``exposure_problem``: a non-loopback bind needs a token of at least ``MIN_PUBLIC_TOKEN``
  characters (a short one is guessed quickly by anyone on the network);
* ``header_forms``: a token may be any Unicode text; HTTP header values arrive as latin-1, so a
  header sent as UTF-8 bytes is also tried decoded as UTF-8;
* ``redact``: log lines carry ``token=<token>`` whatever the value was, right or wrong.
"""

from __future__ import annotations

import ipaddress
import re
import socket

MIN_PUBLIC_TOKEN = 16  # characters an access token needs when the server is reachable from other machines
TOKEN_IN_QUERY = re.compile(r"(?i)(token=)[^&\s]*")


def header_forms(value: str) -> list[str]:
    """A header value as received (latin-1, as HTTP says) and, when it is UTF-8 bytes, as Unicode."""
    try:
        return [value, value.encode("latin-1").decode("utf-8")]
    except (UnicodeEncodeError, UnicodeDecodeError):
        return [value]


def redact(message: str, token: str) -> str:
    """A log line without any token: every ``token=`` value (right or wrong) and the token itself."""
    message = TOKEN_IN_QUERY.sub(r"\1<token>", message)
    return message.replace(token, "<token>") if token else message


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP or a host name) is reachable only from this machine."""
    if not address:
        return False  # '' listens on every interface
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(address, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def exposure_problem(address: str, token: str) -> str | None:
    """Why serving on ``address`` with ``token`` is refused (None when it is fine)."""
    if is_loopback(address):
        return None
    shown = address or "every interface"
    if token and len(token) < MIN_PUBLIC_TOKEN:
        return (
            f"LIVE.ACCESS_TOKEN: too short ({len(token)} characters) for {shown}, which other machines can "
            f'reach; use at least {MIN_PUBLIC_TOKEN}, e.g. "$(openssl rand -hex 16)"'
        )
    if token:
        return None
    return (
        f"LIVE.BIND_ADDRESS: {shown} can be reached from other machines, and the live server has no "
        "access token, so anyone on the network could watch the cameras. Set one, e.g. "
        'LIVE.ACCESS_TOKEN "$(openssl rand -hex 16)" on the command line or LIVE: {ACCESS_TOKEN: ...} in '
        "the config, and open the page as http://HOST:PORT/?token=<token>; or bind to 127.0.0.1"
    )
